"""Constraints: parse and validate against their template (frameworks crds/validate.go, GK target.go)."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..enforcement import DENY, SCOPED, enforcement_action_problems, scoped_actions_for
from ..errors import ConstraintError, SchemaError
from ..jsonvalue import json_problem
from ..labels import selector_problems
from ..loader import object_id
from .schema import prune_nulls_and_default, unknown_fields, validation_errors
from .template import ConstraintTemplate

CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
CONSTRAINT_VERSIONS = ("v1beta1", "v1alpha1")
_NO_PARAMETERS = "gatekeeper_py: no parameters"  # stands for absent parameters in Constraint.parameters_key
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

_WILDCARD = {"type": "string", "pattern": r"^\*?[-:a-z0-9]*\*?$"}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_LABEL_SELECTOR = {
    "type": "object",
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {"key": {"type": "string"}, "operator": {"type": "string"}, "values": _STRINGS},
            },
        },
    },
}
MATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "kinds": {
            "type": "array",
            "items": {"type": "object", "properties": {"apiGroups": _STRINGS, "kinds": _STRINGS}},
        },
        "scope": {"type": "string"},
        "namespaces": {"type": "array", "items": _WILDCARD},
        "excludedNamespaces": {"type": "array", "items": _WILDCARD},
        "labelSelector": _LABEL_SELECTOR,
        "namespaceSelector": _LABEL_SELECTOR,
        "name": _WILDCARD,
        "source": {"type": "string", "enum": ["All", "Generated", "Original"]},
    },
}
_SPEC_FIELDS = ("match", "parameters", "enforcementAction", "scopedEnforcementActions")


@dataclass(frozen=True)
class Constraint:
    """A constraint validated against its template, with schema defaults applied."""

    kind: str
    name: str
    match: dict[str, Any] | None
    """`spec.match`; None when absent (matches everything)."""
    enforcement_action: str
    scoped_enforcement_actions: tuple[dict[str, Any], ...]
    parameters: dict[str, Any]
    obj: dict[str, Any] = field(repr=False, compare=False)
    """The constraint as stored by Gatekeeper: defaults applied, status removed."""
    source: str | None = None

    @cached_property
    def parameters_key(self) -> str:
        """`spec.parameters` as stored, as JSON text (a marker when there are none), worked out once: constraints
        with equal keys have equal parameters, so a driver may evaluate them once."""
        spec = self.obj.get("spec")
        parameters = spec.get("parameters", _NO_PARAMETERS) if isinstance(spec, dict) else _NO_PARAMETERS
        return json.dumps(parameters, sort_keys=True, default=repr)

    def actions_at(self, point: str) -> list[str] | None:
        """Actions this constraint takes at an enforcement point; None means it does not apply there."""
        if self.enforcement_action != SCOPED:
            return [self.enforcement_action]
        actions = scoped_actions_for(list(self.scoped_enforcement_actions), point)
        return actions or None


def is_constraint(obj: Any) -> bool:
    return isinstance(obj, dict) and str(obj.get("apiVersion", "")).split("/")[0] == CONSTRAINT_GROUP


_JSON_TYPES = {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number"}


def constraint_kind(obj: Any, source: str | None = None) -> str | None:
    """A constraint's kind (None when it has none); a kind that is not a string cannot name a template and is a
    ConstraintError."""
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if kind is None or isinstance(kind, str):
        return kind
    json_type = _JSON_TYPES.get(type(kind), type(kind).__name__)
    raise ConstraintError(
        f"kind must be a string, not {json_type} ({json.dumps(kind, default=repr)[:60]})",
        source=source,
        obj=object_id(obj),
    )


def parse_constraint(obj: Any, template: ConstraintTemplate, source: str | None = None) -> Constraint:
    """Validate a constraint for `template`; SchemaError for parameter/match schema failures."""
    meta = obj.get("metadata") if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name")
    kind = obj.get("kind") if isinstance(obj, dict) else None
    ident = object_id(obj) or "<no kind>/<no name>"

    def fail(reason: str, error: type[ConstraintError] = ConstraintError) -> ConstraintError:
        return error(reason, source=source, obj=ident)

    if not is_constraint(obj):
        raise fail(f"not a constraint: apiVersion must be in group {CONSTRAINT_GROUP}")
    version = str(obj["apiVersion"]).partition("/")[2]
    if version not in CONSTRAINT_VERSIONS:
        raise fail(f"unsupported apiVersion {obj['apiVersion']!r}: expected one of {', '.join(CONSTRAINT_VERSIONS)}")
    if kind != template.kind:
        raise fail(f"kind {kind!r} does not match the template's kind {template.kind!r}")
    if not isinstance(name, str) or not name:
        raise fail("metadata.name is required")
    if len(name) > 63 or not _DNS_SUBDOMAIN.match(name):
        raise fail(
            f"metadata.name {name!r} must be at most 63 characters and a DNS-1123 subdomain "
            "(lowercase letters, digits, '-' and '.')",
            SchemaError,
        )
    spec = obj.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise fail("schema validation failed: spec must be an object", SchemaError)
    # The apiserver drops nulls of non-nullable fields before validating.
    spec = {key: value for key, value in spec.items() if value is not None}

    unknown = [f"spec.{key}" for key in spec if key not in _SPEC_FIELDS]
    unknown += unknown_fields(spec.get("match"), MATCH_SCHEMA, "spec.match")
    schema = template.parameters_schema
    params = spec.get("parameters")
    if params is not None:
        if schema is None:
            unknown.append("spec.parameters")
        else:
            unknown += unknown_fields(params, schema, "spec.parameters")
    if unknown:
        raise fail(f"invalid Constraint: unknown fields: [{' '.join(unknown)}]")

    json_reason = json_problem(spec)
    if json_reason:
        raise fail(f"schema validation failed: spec: {json_reason}", SchemaError)
    problems = validation_errors(spec.get("match", {}), MATCH_SCHEMA, "spec.match")
    if params is not None and schema is not None:
        params = prune_nulls_and_default(params, schema)
        problems += validation_errors(params, schema, "spec.parameters")
    action = spec.get("enforcementAction", DENY)
    if not isinstance(action, str):
        problems.append("spec.enforcementAction must be a string")
    if problems:
        raise fail("schema validation failed: " + "; ".join(problems), SchemaError)

    for key in ("labelSelector", "namespaceSelector"):
        for problem in selector_problems((spec.get("match") or {}).get(key)):
            raise fail(f"invalid Constraint: spec.match.{key}: {problem}")
    for problem in enforcement_action_problems(action or DENY, spec.get("scopedEnforcementActions")):
        raise fail(problem)

    stored = copy.deepcopy(obj)
    stored.pop("status", None)
    stored["spec"] = copy.deepcopy(spec)
    stored["spec"]["enforcementAction"] = action or DENY
    if params is not None:
        stored["spec"]["parameters"] = params
    return Constraint(
        kind=kind,
        name=name,
        match=copy.deepcopy(spec["match"]) if spec.get("match") is not None else None,
        enforcement_action=action or DENY,
        scoped_enforcement_actions=tuple(spec.get("scopedEnforcementActions") or ()),
        parameters=copy.deepcopy(params) if isinstance(params, dict) else {},
        obj=stored,
        source=source,
    )
