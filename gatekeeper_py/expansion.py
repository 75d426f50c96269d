"""ExpansionTemplates: the Pods (or other objects) a workload would create, so Pod policies judge it too.

Gatekeeper's rules: a template applies to exact group/version/kind triples; the resultant is a deep copy of the
map at `templateSource`, given the generated kind, the parent's namespace, the name `<parent>-<kind>` in
lowercase and an ownerReference to the parent. Expansion recurses (a resultant may expand again) up to depth
30. Templates that form a cycle are kept but never applied. Results of a resultant get the template's
`enforcementAction` (if set) and the message prefix `[Implied by <template>] `.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .enforcement import DENY, DRYRUN, WARN
from .errors import ExpansionError, ReviewError
from .loader import meta_string, object_id
from .results import Result
from .review import group_version_kind

EXPANSION_GROUP = "expansion.gatekeeper.sh"
MAX_DEPTH = 30
IMPLIED_PREFIX = "[Implied by {}] "

GVK = tuple[str, str, str]


def is_expansion_template(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("kind") == "ExpansionTemplate"
        and group_version_kind(obj)["group"] == EXPANSION_GROUP
    )


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} must be a list of strings")
    return value


@dataclass(frozen=True)
class ExpansionTemplate:
    name: str
    apply_to: frozenset[GVK]
    template_source: str
    generated: GVK
    enforcement_action: str = ""
    source: str | None = None

    @property
    def generated_api_version(self) -> str:
        group, version, _ = self.generated
        return f"{group}/{version}" if group else version


def parse_expansion_template(obj: dict[str, Any], source: str | None = None) -> ExpansionTemplate:
    """Validate an ExpansionTemplate as Gatekeeper does; ExpansionError names what is wrong."""
    name = meta_string(obj, "name")

    def fail(reason: str) -> ExpansionError:
        return ExpansionError(reason, source=source, obj=f"ExpansionTemplate/{name or '<no name>'}")

    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    if not name:
        raise fail("ExpansionTemplate has empty name field")
    if len(name) >= 64:
        raise fail("ExpansionTemplate name must be less than 64 characters")
    template_source = spec.get("templateSource")
    if not isinstance(template_source, str) or not template_source:
        raise fail(f"ExpansionTemplate {name} has empty source field")
    gvk = spec.get("generatedGVK")
    gvk = gvk if isinstance(gvk, dict) else {}
    generated = tuple(gvk.get(k) or "" for k in ("group", "version", "kind"))
    if not all(isinstance(part, str) for part in generated):
        raise fail("spec.generatedGVK: group, version and kind must be strings")
    if generated == ("", "", ""):
        raise fail(f"ExpansionTemplate {name} has empty generatedGVK field")
    apply_to: set[GVK] = set()
    entries = spec.get("applyTo")
    if not isinstance(entries, list) or not entries:
        raise fail(f"ExpansionTemplate {name} must specify ApplyTo")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise fail(f"spec.applyTo[{i}] must be a mapping")
        try:
            groups, versions, kinds = (
                _strings(entry.get(k), f"spec.applyTo[{i}].{k}") for k in ("groups", "versions", "kinds")
            )
        except ValueError as exc:
            raise fail(str(exc)) from None
        apply_to |= {(g, v, k) for g in groups for v in versions for k in kinds}
    if generated in apply_to:
        group, version, kind = generated
        raise fail(
            f"ExpansionTemplate {name} generates GVK {group}/{version}, Kind={kind}, but also applies to that same GVK"
        )
    action = spec.get("enforcementAction") or ""
    if action not in ("", DENY, DRYRUN, WARN):
        raise fail(f"spec.enforcementAction must be one of {DENY}, {DRYRUN} or {WARN}, not {action!r}")
    return ExpansionTemplate(name, frozenset(apply_to), template_source, generated, action, source)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Resultant:
    """One generated object and the template that made it."""

    obj: dict[str, Any]
    template: ExpansionTemplate


def _source_map(parent: dict[str, Any], template: ExpansionTemplate) -> dict[str, Any]:
    value: Any = parent
    for i, key in enumerate(template.template_source.split(".")):
        if not isinstance(value, dict):
            path = ".".join(template.template_source.split(".")[:i])
            raise ReviewError(f"could not extract source field from {path!r}: it is not a map", obj=object_id(parent))
        if key not in value:
            raise ReviewError(
                f"could not find source field {template.template_source!r} in resource {meta_string(parent, 'name')}",
                obj=object_id(parent),
            )
        value = value[key]
    if not isinstance(value, dict):
        raise ReviewError(f"source field {template.template_source!r} is not a map", obj=object_id(parent))
    return value


def expand_once(parent: dict[str, Any], template: ExpansionTemplate) -> dict[str, Any]:
    """The object `template` generates from `parent`."""
    resultant = copy.deepcopy(_source_map(parent, template))
    resultant["apiVersion"] = template.generated_api_version
    resultant["kind"] = template.generated[2]
    meta = resultant.get("metadata")
    meta = resultant["metadata"] = dict(meta) if isinstance(meta, dict) else {}
    namespace = meta_string(parent, "namespace")
    if namespace:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    kind = template.generated[2]
    meta["name"] = (meta_string(parent, "name") + (f"-{kind}" if kind else "")).lower()
    owner = {
        "apiVersion": parent.get("apiVersion"),
        "kind": parent.get("kind"),
        "name": meta_string(parent, "name"),
        "uid": "",
    }
    if all(isinstance(owner[k], str) and owner[k] for k in ("apiVersion", "kind", "name")):
        refs = meta.get("ownerReferences")
        refs = list(refs) if isinstance(refs, list) else []
        known = {(r.get("apiVersion"), r.get("kind"), r.get("name")) for r in refs if isinstance(r, dict)}
        if (owner["apiVersion"], owner["kind"], owner["name"]) not in known:
            refs.append(owner)
        meta["ownerReferences"] = refs
    return resultant


class Expander:
    """The ExpansionTemplates in force, by name."""

    def __init__(self, templates: Iterable[ExpansionTemplate] = ()) -> None:
        self._templates: dict[str, ExpansionTemplate] = {}
        self._conflicts: frozenset[str] = frozenset()
        for template in templates:
            self.add(template)

    def __bool__(self) -> bool:
        return bool(self._templates)

    @property
    def templates(self) -> dict[str, ExpansionTemplate]:
        return dict(self._templates)

    @property
    def conflicts(self) -> frozenset[str]:
        """Names of templates in an expansion cycle: kept, but never applied."""
        return self._conflicts

    def add(self, template: ExpansionTemplate) -> None:
        """Add or replace a template. ExpansionError when it closes a cycle (it is kept, as Gatekeeper does)."""
        before = self._conflicts
        self._templates[template.name] = template
        self._conflicts = self._find_cycles()
        if template.name in self._conflicts and template.name not in before:
            raise ExpansionError(
                "template forms expansion cycle", source=template.source, obj=f"ExpansionTemplate/{template.name}"
            )

    def remove(self, name: str) -> None:
        self._templates.pop(name, None)
        self._conflicts = self._find_cycles()

    def _find_cycles(self) -> frozenset[str]:
        """Templates that can reach themselves: A leads to B when A generates a kind B applies to."""
        nexts = {
            a.name: [b.name for b in self._templates.values() if a.generated in b.apply_to]
            for a in self._templates.values()
        }
        in_cycle = set()
        for start in nexts:
            stack, seen = list(nexts[start]), set()
            while stack:
                name = stack.pop()
                if name == start:
                    in_cycle.add(start)
                    break
                if name not in seen:
                    seen.add(name)
                    stack += nexts[name]
        return frozenset(in_cycle)

    def expand(self, obj: dict[str, Any]) -> list[Resultant]:
        """Every object `obj` generates, recursively; deeper resultants come before the ones they came from."""
        return self._expand(obj, 0)

    def _expand(self, obj: dict[str, Any], depth: int) -> list[Resultant]:
        if depth >= MAX_DEPTH:
            raise ReviewError(f"maximum recursion depth of {MAX_DEPTH} reached", obj=object_id(obj))
        gvk = group_version_kind(obj)
        key = (gvk["group"], gvk["version"], gvk["kind"])
        templates = [
            t for name, t in sorted(self._templates.items()) if key in t.apply_to and name not in self._conflicts
        ]
        made = [Resultant(expand_once(obj, t), t) for t in templates]
        deeper = [r for resultant in made for r in self._expand(resultant.obj, depth + 1)]
        return deeper + made


def implied_results(results: Iterable[Result], resultant: Resultant, parent: dict[str, Any] | None) -> list[Result]:
    """A resultant's results as the parent's: action overridden if the template says so, message prefixed."""
    prefix = IMPLIED_PREFIX.format(resultant.template.name)
    action = resultant.template.enforcement_action
    return [
        dataclasses.replace(
            r, msg=prefix + r.msg, enforcement_action=action or r.enforcement_action, violating_object=parent
        )
        for r in results
    ]
