"""A template's `K8sNativeValidation` source, validated as Gatekeeper validates it (k8scel/schema)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RESERVED_PREFIX = "gatekeeper_internal_"
RESERVED_VARIABLES = ("params", "anyObject")
FAIL, IGNORE = "Fail", "Ignore"


class SourceError(ValueError):
    """What is wrong with the source, naming the field."""


@dataclass(frozen=True)
class NamedExpression:
    name: str
    expression: str


@dataclass(frozen=True)
class Validation:
    expression: str
    message: str = ""
    message_expression: str = ""


@dataclass(frozen=True)
class CelSource:
    validations: tuple[Validation, ...]
    match_conditions: tuple[NamedExpression, ...] = ()
    variables: tuple[NamedExpression, ...] = ()
    failure_policy: str = FAIL


def _string(raw: dict[str, Any], key: str, where: str, required: bool = False) -> str:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise SourceError(f"{where}.{key} is required")
        return ""
    if not isinstance(value, str):
        raise SourceError(f"{where}.{key} must be a string")
    return value


def _entries(raw: dict[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
    items = raw.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise SourceError(f"{key} must be a list of objects")
    return [(f"{key}[{i}]", item) for i, item in enumerate(items)]


def _named(
    raw: dict[str, Any], key: str, error: str, noun: str, reserved: tuple[str, ...]
) -> tuple[NamedExpression, ...]:
    """Named expressions (match conditions or variables), refusing Gatekeeper's reserved names."""
    found = []
    for where, item in _entries(raw, key):
        name = _string(item, "name", where, required=True)
        if name.startswith(RESERVED_PREFIX):
            raise SourceError(f'{error}: {name} is not a valid {noun}; cannot have "{RESERVED_PREFIX}" as a prefix')
        if name in reserved:
            raise SourceError(f'{error}: {name} an invalid {noun} name, "{name}" is a reserved keyword')
        found.append(NamedExpression(name, _string(item, "expression", where, required=True)))
    return tuple(found)


def parse_source(raw: Any, default_failure_policy: str = FAIL) -> CelSource:
    """Validate a `K8sNativeValidation` source; SourceError names the bad field."""
    if not isinstance(raw, dict):
        raise SourceError("the source must be an object")
    validations = tuple(
        Validation(
            expression=_string(item, "expression", where, required=True),
            message=_string(item, "message", where),
            message_expression=_string(item, "messageExpression", where),
        )
        for where, item in _entries(raw, "validations")
    )
    conditions = _named(raw, "matchCondition", "invalid match condition", "match condition", reserved=())
    variables = _named(raw, "variables", "invalid variable definition", "variable", reserved=RESERVED_VARIABLES)
    policy = raw.get("failurePolicy")
    if policy is None:
        policy = default_failure_policy
    if policy not in (FAIL, IGNORE):
        raise SourceError(f"invalid failure policy: unrecognized failure policy: {policy}")
    return CelSource(validations, conditions, variables, policy)
