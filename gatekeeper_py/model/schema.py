"""Constraint parameters against a template's openAPIV3Schema, the way a Kubernetes CRD treats them.

Order, as the apiserver applies it to a custom resource: unknown fields (Gatekeeper rejects what the
apiserver would prune), nulls of non-nullable fields dropped, `default` values filled in, then
validation. Validation itself is done by `jsonschema` on a JSON-Schema rendering of the OpenAPI schema.
"""

from __future__ import annotations

import copy
from typing import Any

PRESERVE = "x-kubernetes-preserve-unknown-fields"
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def legacy_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The `legacySchema: true` transform: objects and untyped nodes keep unknown fields."""
    node = copy.deepcopy(schema) if schema else {}
    _preserve_unknown(node)
    return node


def _preserve_unknown(node: dict[str, Any]) -> None:
    if node.get("type", "") in ("", "object"):
        node[PRESERVE] = True
    if node.get("type") == "array" and not isinstance(node.get("items"), dict):
        node["items"] = {PRESERVE: True}
    for child in _children(node):
        _preserve_unknown(child)


def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
    kids = [s for s in (node.get("properties") or {}).values() if isinstance(s, dict)]
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            kids.append(node[key])
    for key in _SUBSCHEMA_LISTS:
        kids.extend(s for s in node.get(key) or [] if isinstance(s, dict))
    return kids


def unknown_fields(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Paths of fields the apiserver would prune: not declared and not preserved."""
    found: list[str] = []
    if isinstance(value, dict) and schema.get("type", "object") == "object":  # else a type error, not pruning
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            child_path = f"{path}.{key}"
            if key in props:
                found += unknown_fields(item, props[key], child_path)
            elif isinstance(extra, dict):
                found += unknown_fields(item, extra, child_path)
            elif not (schema.get(PRESERVE) or extra is True):
                found.append(child_path)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{i}]")
    return found


def prune_nulls_and_default(value: Any, schema: dict[str, Any]) -> Any:
    """Drop nulls the schema does not allow, then fill in `default` values (a new value is returned)."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if item is None and sub is not None and not sub.get("nullable"):
                continue
            out[key] = prune_nulls_and_default(item, sub) if sub is not None else item
        for key, sub in props.items():
            if key not in out and isinstance(sub, dict) and "default" in sub:
                out[key] = prune_nulls_and_default(copy.deepcopy(sub["default"]), sub)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune_nulls_and_default(item, schema["items"]) for item in value]
    return value


def to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """Render an OpenAPI v3 (Kubernetes) schema node as a JSON Schema draft-4 node."""
    out = {k: v for k, v in node.items() if not k.startswith("x-kubernetes-") and k not in ("nullable", "default")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}, *out.get("anyOf", [])]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if isinstance(node.get("properties"), dict):
        out["properties"] = {k: to_json_schema(v) for k, v in node["properties"].items() if isinstance(v, dict)}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            out[key] = to_json_schema(node[key])
    for key in _SUBSCHEMA_LISTS:
        if isinstance(node.get(key), list):
            out[key] = [to_json_schema(s) for s in node[key] if isinstance(s, dict)]
    return out


def _non_schema_nodes(node: Any, path: str) -> list[str]:
    """Places where a schema is expected but something else stands (e.g. `properties: {a: string}`)."""
    if not isinstance(node, dict):
        return [f"{path or '<root>'}: must be a schema object, got {node!r}"]
    found: list[str] = []
    if "properties" in node:
        props = node["properties"]
        if not isinstance(props, dict):
            return [f"{path}.properties: must be a mapping of schemas"]
        for key, sub in props.items():
            found += _non_schema_nodes(sub, f"{path}.properties.{key}")
    for key in ("items", "not"):
        if key in node:
            found += _non_schema_nodes(node[key], f"{path}.{key}")
    if isinstance(node.get("additionalProperties"), dict):
        found += _non_schema_nodes(node["additionalProperties"], f"{path}.additionalProperties")
    for key in _SUBSCHEMA_LISTS:
        for i, sub in enumerate(node.get(key) or []):
            found += _non_schema_nodes(sub, f"{path}.{key}[{i}]")
    return found


def schema_problems(schema: dict[str, Any]) -> list[str]:
    """What is wrong with a schema itself (checked once, when the template loads)."""
    from jsonschema import Draft4Validator
    from jsonschema.exceptions import SchemaError as JSONSchemaError

    malformed = _non_schema_nodes(schema, "")
    if malformed:
        return malformed

    try:
        Draft4Validator.check_schema(to_json_schema(schema))
    except JSONSchemaError as exc:
        return [f"{_json_path(exc.path)}: {exc.message}"]
    return []


def validation_errors(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Every schema violation of `value`, each as `path: reason`, sorted by path."""
    from jsonschema import Draft4Validator

    validator = Draft4Validator(to_json_schema(schema))
    errors = sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{path}{_json_path(e.absolute_path)}: {e.message}" for e in errors]


def _json_path(parts: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
