"""The Client: templates, constraints and inventory in; reviews out.

It indexes constraints by kind, matches them in Python, asks the template's driver only for the
constraints that matched, and turns what the driver reports into Results with enforcement actions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from .drivers.base import Deadline, Driver, Violation, evaluation_failed
from .enforcement import ENFORCEMENT_POINTS, SCOPED, WEBHOOK
from .errors import ConstraintError, GatekeeperPyError, MatchError, ReviewError, TemplateError
from .expansion import Expander, ExpansionTemplate, implied_results, is_expansion_template, parse_expansion_template
from .inventory import Inventory
from .loader import Document, object_id
from .match import review_matches, selected_kinds
from .model import (
    Constraint,
    ConstraintTemplate,
    constraint_kind,
    is_constraint,
    is_template,
    parse_constraint,
    parse_template,
)
from .model.template import declared_kind
from .results import Responses, Result, sort_results
from .review import GENERATED, ORIGINAL, Review, build_review, group_version_kind, review_object

AUTOREJECT_PREFIX = "unable to match constraints: "


ENGINES = ("auto", "rego", "cel")


def default_drivers(engine: str = "auto") -> list[Driver]:
    """The engines `engine` allows, in preference order: `auto` is CEL first, then Rego (as Gatekeeper ranks
    them: a template with both runs its CEL), `rego` only Rego, `cel` only CEL. Engines load only when a client
    is made."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    drivers: list[Driver] = []
    if engine in ("auto", "cel"):
        from .drivers.cel import CelDriver

        drivers.append(CelDriver())
    if engine in ("auto", "rego"):
        from .drivers.rego import RegoDriver

        drivers.append(RegoDriver())
    return drivers


class Client:
    """Reviews objects and admission requests against ConstraintTemplates and constraints.

    `enforcement_point` decides which scoped actions apply and whether templates' `operations` filter
    the review (only at the webhook, `validation.gatekeeper.sh`, the default).

    A template that cannot be evaluated for a review (an engine error, a budget, a crash the engine reports)
    gives each of its constraints an error result (`Result.error`) naming the template and the reason, as
    Gatekeeper does; `review` raises only ReviewError, for a request that cannot be reviewed at all.
    `review_timeout` (seconds) is the deadline of one review: templates reached after it are not evaluated
    and give error results instead.
    """

    def __init__(
        self,
        *,
        enforcement_point: str = WEBHOOK,
        engine: str = "auto",
        drivers: Sequence[Driver] | None = None,
        review_timeout: float | None = None,
    ) -> None:
        if enforcement_point not in ENFORCEMENT_POINTS:
            raise ValueError(f"unknown enforcement point {enforcement_point!r}: expected one of {ENFORCEMENT_POINTS}")
        if review_timeout is not None and not review_timeout > 0:
            raise ValueError(f"review_timeout must be a positive number of seconds, not {review_timeout!r}")
        self.enforcement_point = enforcement_point
        self.review_timeout = review_timeout
        self._drivers = list(drivers) if drivers is not None else default_drivers(engine)
        self._templates: dict[str, ConstraintTemplate] = {}
        self._template_driver: dict[str, Driver] = {}
        self._constraints: dict[str, dict[str, Constraint]] = {}
        self._index: _ConstraintIndex | None = None  # built when a review needs it; dropped on any change
        self.inventory = Inventory()
        self.expander = Expander()

    def add_policies(self, documents: Iterable[Document]) -> list[GatekeeperPyError]:
        """Add every ConstraintTemplate and ExpansionTemplate among `documents`, then every constraint; other
        kinds are ignored.

        A bad template or constraint is skipped and its error returned, so the rest keeps working.
        """
        docs = list(documents)
        errors: list[GatekeeperPyError] = []
        failed_kinds: set[str] = set()
        for doc in docs:
            if is_expansion_template(doc.obj):
                try:
                    self.add_expansion_template(doc.obj, doc.source)
                except GatekeeperPyError as exc:
                    errors.append(exc)
            elif is_template(doc.obj):
                try:
                    self.add_template(doc.obj, doc.source)
                except GatekeeperPyError as exc:
                    errors.append(exc)
                    failed_kinds.add(declared_kind(doc.obj) or "")
        for doc in docs:
            if not is_constraint(doc.obj):
                continue
            try:
                kind = constraint_kind(doc.obj, doc.source)
                if kind in failed_kinds and kind not in self._templates:
                    reason = f"not added: the ConstraintTemplate for kind {kind!r} failed to load"
                    raise ConstraintError(reason, source=doc.source, obj=object_id(doc.obj))
                self.add_constraint(doc.obj, doc.source)
            except GatekeeperPyError as exc:
                errors.append(exc)
        return errors

    # -- templates --------------------------------------------------------------------------------
    def add_template(
        self, template: ConstraintTemplate | dict[str, Any], source: str | None = None
    ) -> ConstraintTemplate:
        """Validate and compile a template; replaces one of the same kind, keeping its constraints."""
        if not isinstance(template, ConstraintTemplate):
            template = parse_template(template, source)
        driver = self._driver_for(template)
        driver.add_template(template)
        old_driver = self._template_driver.get(template.kind)
        if old_driver is not None and old_driver is not driver:
            old_driver.remove_template(template.kind)
        self._templates[template.kind] = template
        self._template_driver[template.kind] = driver
        self._constraints.setdefault(template.kind, {})
        self._index = None
        return template

    def _driver_for(self, template: ConstraintTemplate) -> Driver:
        for driver in self._drivers:
            if driver.engine in template.code:
                return driver
        engines = ", ".join(template.code) or "none"
        raise TemplateError(
            f"no language driver is installed that handles this constraint template (engines: {engines})",
            source=template.source,
            obj=f"ConstraintTemplate/{template.name}",
        )

    def remove_template(self, kind: str) -> None:
        """Remove a template (by kind or name) and all its constraints."""
        kind = next((k for k, t in self._templates.items() if kind in (k, t.name)), kind)
        if kind in self._templates:
            self._template_driver.pop(kind).remove_template(kind)
            del self._templates[kind]
            self._constraints.pop(kind, None)
            self._index = None

    @property
    def templates(self) -> dict[str, ConstraintTemplate]:
        return dict(self._templates)

    # -- expansion templates ----------------------------------------------------------------------
    def add_expansion_template(
        self, template: ExpansionTemplate | dict[str, Any], source: str | None = None
    ) -> ExpansionTemplate:
        """Add (or replace) an ExpansionTemplate: reviews of the kinds it applies to also review what it generates.
        ExpansionError when it is invalid, or when it closes a cycle (then it is kept but not applied)."""
        if not isinstance(template, ExpansionTemplate):
            template = parse_expansion_template(template, source)
        self.expander.add(template)
        return template

    def remove_expansion_template(self, name: str) -> None:
        self.expander.remove(name)

    # -- constraints ------------------------------------------------------------------------------
    def add_constraint(self, constraint: Constraint | dict[str, Any], source: str | None = None) -> Constraint:
        """Validate a constraint against its template and add it (replacing one of the same name)."""
        if not isinstance(constraint, Constraint):
            kind = constraint_kind(constraint, source)
            template = self._templates.get(kind) if kind is not None else None
            if template is None:
                raise ConstraintError(
                    f"no ConstraintTemplate defines kind {kind!r}: add the template first",
                    source=source,
                    obj=object_id(constraint) or "<no kind>/<no name>",
                )
            constraint = parse_constraint(constraint, template, source)
        elif constraint.kind not in self._templates:
            raise ConstraintError(f"no ConstraintTemplate defines kind {constraint.kind!r}", obj=constraint.name)
        self._constraints[constraint.kind][constraint.name] = constraint
        self._index = None
        return constraint

    def remove_constraint(self, kind: str, name: str) -> None:
        self._constraints.get(kind, {}).pop(name, None)
        self._index = None

    @property
    def constraints(self) -> list[Constraint]:
        return [c for kind in sorted(self._constraints) for _, c in sorted(self._constraints[kind].items())]

    # -- inventory --------------------------------------------------------------------------------
    def add_data(self, obj: dict[str, Any]) -> None:
        """Add an object to `data.inventory` (a Namespace also serves namespace lookups for matching)."""
        self.inventory.add(obj)
        self._publish_inventory()

    def remove_data(self, obj: dict[str, Any]) -> None:
        self.inventory.remove(obj)
        self._publish_inventory()

    def clear_data(self) -> None:
        """Empty `data.inventory`."""
        self.inventory = Inventory()
        self._publish_inventory()

    def _publish_inventory(self) -> None:
        for driver in self._drivers:
            driver.set_inventory(self.inventory.tree)

    # -- review -----------------------------------------------------------------------------------
    def review(
        self,
        thing: Review | dict[str, Any],
        *,
        namespace: dict[str, Any] | None = None,
        source: str = ORIGINAL,
        enforcement_point: str | None = None,
        namespace_in_input: bool = True,
        expand: bool = True,
    ) -> Responses:
        """Review an object, AdmissionRequest or AdmissionReview against every constraint.

        `namespace` is the object's Namespace (used by namespaceSelector and, unless
        `namespace_in_input` is false, given to templates as `input.review.namespaceObject`); when it is
        None the Namespace is looked up in the inventory. What the ExpansionTemplates generate from the object
        is reviewed too, and those results join the object's, marked `[Implied by <template>]`. Raises
        ReviewError for a request that cannot be reviewed. `expand=False` reviews the object alone (gator verify
        does not expand AdmissionReview cases).
        """
        if isinstance(thing, Review):
            review = thing
        else:  # not copied: nothing here changes the request; results point at the caller's object, as for plain ones
            review = build_review(thing, namespace=namespace, source=source, copy_input=False)
        point = enforcement_point or self.enforcement_point
        deadline = Deadline(self.review_timeout) if self.review_timeout is not None else None
        results = self._review_one(review, point, namespace_in_input, deadline)
        parent = review.object or review.old_object
        if expand and self.expander and isinstance(parent, dict):
            for resultant in self.expander.expand(parent):
                generated = review_object(
                    resultant.obj, namespace=review.namespace, source=GENERATED, operation=review.operation
                )
                found = self._review_one(generated, point, namespace_in_input, deadline)
                results += implied_results(found, resultant, parent)
        return Responses(sort_results(results))

    def _review_one(
        self, review: Review, point: str, namespace_in_input: bool, deadline: Deadline | None
    ) -> list[Result]:
        """The results of one review, without expansion."""
        if point == WEBHOOK:
            review = _without_namespace_of_namespaces(review)
        match_ns = review.namespace
        if match_ns is None and review.namespace_name:
            match_ns = self.inventory.namespace(review.namespace_name)
        document = review.document(with_namespace=namespace_in_input)
        violating = review.object or review.old_object

        results: list[Result] = []
        matched: dict[Driver, dict[str, list[Constraint]]] = {}
        if self._index is None:
            self._index = _ConstraintIndex(self.constraints)
        for constraint in self._index.candidates(review):
            kind = constraint.kind
            if point == WEBHOOK and not self._templates[kind].runs_on(review.operation):
                continue
            if constraint.actions_at(point) is None:
                continue  # scoped, with no action at this enforcement point
            try:
                if review_matches(constraint.match, review, match_ns):
                    matched.setdefault(self._template_driver[kind], {}).setdefault(kind, []).append(constraint)
            except MatchError as exc:
                autoreject = Violation(constraint, AUTOREJECT_PREFIX + exc.reason, details=None)
                results.append(_result(autoreject, point, violating))
        for driver, constraints in matched.items():
            results += [_result(v, point, violating) for v in _evaluate(driver, constraints, document, deadline)]
        return results


def _evaluate(
    driver: Driver, matched: dict[str, list[Constraint]], document: dict[str, Any], deadline: Deadline | None
) -> list[Violation]:
    """What `driver` finds for the constraints that matched, every kind at once. A failure the driver did not
    report itself is found out kind by kind, and becomes an error violation for each constraint of its kind."""
    try:
        return driver.query(matched, document, deadline)
    except ReviewError:
        raise
    except Exception:
        pass
    found: list[Violation] = []
    for kind, constraints in matched.items():
        try:
            found += driver.query({kind: constraints}, document, deadline)
        except ReviewError:
            raise
        except Exception as exc:
            found += [Violation(c, evaluation_failed(kind, exc), details=None, error=True) for c in constraints]
    return found


class _ConstraintIndex:
    """The constraints in review order (kind, then name), found by the (group, kind) of the objects under review,
    so constraints whose `match.kinds` cannot select them cost nothing."""

    def __init__(self, constraints: list[Constraint]):
        self._constraints = constraints
        self._any: list[int] = []
        self._by_kind: dict[tuple[str, str], list[int]] = {}
        for position, constraint in enumerate(constraints):
            pairs = selected_kinds(constraint.match)
            if pairs is None:
                self._any.append(position)
            for pair in pairs or ():
                self._by_kind.setdefault(pair, []).append(position)

    def candidates(self, review: Review) -> list[Constraint]:
        objects = [o for o in (review.object, review.old_object) if isinstance(o, dict) and o]
        if not objects:
            return self._constraints  # every constraint reports the missing object
        positions = set(self._any)
        for obj in objects:
            gvk = group_version_kind(obj)
            positions.update(self._by_kind.get((gvk["group"], gvk["kind"]), ()))
        return [self._constraints[i] for i in sorted(positions)]


def _without_namespace_of_namespaces(review: Review) -> Review:
    """Gatekeeper's webhook clears `namespace` on requests for Namespace objects (its issue #792)."""
    kind = review.request.get("kind") or {}
    if kind.get("group") == "" and kind.get("kind") == "Namespace" and "namespace" in review.request:
        request = {k: v for k, v in review.request.items() if k != "namespace"}
        return dataclasses.replace(review, request=request)
    return review


def _result(violation: Violation, point: str, violating: dict[str, Any] | None) -> Result:
    constraint = violation.constraint
    scoped = constraint.enforcement_action == SCOPED
    return Result(
        msg=violation.msg,
        constraint=constraint,
        enforcement_action=constraint.enforcement_action,
        scoped_actions=tuple(constraint.actions_at(point) or ()) if scoped else (),
        details=violation.details,
        violating_object=violating,
        error=violation.error,
    )
