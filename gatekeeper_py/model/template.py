"""ConstraintTemplate: parse and validate, as Gatekeeper's frameworks client does when a template is added."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import TemplateError
from .schema import legacy_schema, schema_problems

TEMPLATE_GROUP = "templates.gatekeeper.sh"
TEMPLATE_VERSIONS = ("v1", "v1beta1", "v1alpha1")
TARGET_NAME = "admission.k8s.gatekeeper.sh"
OPERATIONS = ("*", "CREATE", "UPDATE", "DELETE", "CONNECT")
REGO_ENGINE = "Rego"
CEL_ENGINE = "K8sNativeValidation"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class RegoSource:
    """A template's Rego: the entry module, its libraries, and the language version (v0 unless "v1")."""

    rego: str
    libs: tuple[str, ...] = ()
    version: str = "v0"


@dataclass(frozen=True)
class ConstraintTemplate:
    """A validated ConstraintTemplate."""

    name: str
    kind: str
    api_version: str
    parameters_schema: dict[str, Any] | None
    """The schema of `spec.parameters` after the legacySchema transform; None: no parameters allowed."""
    code: dict[str, Any]
    """Engine name -> its source, e.g. {"Rego": RegoSource(...), "K8sNativeValidation": {...}}."""
    operations: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    source: str | None = None

    @property
    def rego(self) -> RegoSource | None:
        return self.code.get(REGO_ENGINE)

    def runs_on(self, operation: str) -> bool:
        """The webhook-only `operations` filter: empty, `*` or the request's operation."""
        return not self.operations or "*" in self.operations or operation in self.operations


def is_template(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("kind") == "ConstraintTemplate"
        and str(obj.get("apiVersion", "")).split("/")[0] == TEMPLATE_GROUP
    )


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def declared_kind(obj: Any) -> str | None:
    """The kind a template manifest declares, without validating it."""
    kind = _get(obj, "spec", "crd", "spec", "names", "kind")
    return kind if isinstance(kind, str) else None


def parse_template(obj: Any, source: str | None = None) -> ConstraintTemplate:
    """Validate a ConstraintTemplate manifest; raise TemplateError naming what is wrong."""
    name = _get(obj, "metadata", "name") if isinstance(obj, dict) else None

    def fail(reason: str) -> TemplateError:
        return TemplateError(reason, source=source, obj=f"ConstraintTemplate/{name or '<no name>'}")

    if not is_template(obj):
        raise fail(f"not a ConstraintTemplate of group {TEMPLATE_GROUP}")
    group_version = str(obj["apiVersion"])
    version = group_version.partition("/")[2]
    if version not in TEMPLATE_VERSIONS:
        raise fail(f"unsupported apiVersion {group_version!r}: expected one of {', '.join(TEMPLATE_VERSIONS)}")
    if not isinstance(name, str) or not name:
        raise fail("metadata.name is required")
    kind = _get(obj, "spec", "crd", "spec", "names", "kind")
    if not isinstance(kind, str) or not kind:
        raise fail("spec.crd.spec.names.kind is required")
    if name.lower() != kind.lower():
        raise fail(
            f"the ConstraintTemplate's name {name!r} is not equal to the lowercase of CRD's Kind: {kind.lower()!r}"
        )
    if not _DNS_LABEL.match(kind.lower()) or len(kind) > 63:
        raise fail(f"kind {kind!r} does not make a valid CRD plural: it must be a DNS label of at most 63 characters")

    schema = _parameters_schema(obj, version, fail)
    targets = _get(obj, "spec", "targets")
    if not isinstance(targets, list) or len(targets) != 1:
        count = len(targets) if isinstance(targets, list) else 0
        raise fail(f"expected exactly 1 item in spec.targets, got {count}")
    target = targets[0]
    if not isinstance(target, dict) or target.get("target") != TARGET_NAME:
        got = target.get("target") if isinstance(target, dict) else target
        raise fail(f"target name {got!r} is not supported: the only target is {TARGET_NAME!r}")

    return ConstraintTemplate(
        name=name,
        kind=kind,
        api_version=group_version,
        parameters_schema=schema,
        code=_code(target, fail),
        operations=_operations(target, fail),
        raw=copy.deepcopy(obj),
        source=source,
    )


def _parameters_schema(obj: dict[str, Any], version: str, fail: Any) -> dict[str, Any] | None:
    validation = _get(obj, "spec", "crd", "spec", "validation") or {}
    if not isinstance(validation, dict):
        raise fail("spec.crd.spec.validation must be an object")
    schema = validation.get("openAPIV3Schema")
    if schema is not None and not isinstance(schema, dict):
        raise fail("spec.crd.spec.validation.openAPIV3Schema must be an object")
    legacy = validation.get("legacySchema", version != "v1")
    if not isinstance(legacy, bool):
        raise fail("spec.crd.spec.validation.legacySchema must be a boolean")
    if legacy:
        schema = legacy_schema(schema)
    if schema is not None:
        problems = schema_problems(schema)
        if problems:
            raise fail(f"invalid openAPIV3Schema: {problems[0]}")
    return schema


def _code(target: dict[str, Any], fail: Any) -> dict[str, Any]:
    code: dict[str, Any] = {}
    entries = target.get("code") or []
    if not isinstance(entries, list):
        raise fail("spec.targets[0].code must be a list of {engine, source}")
    for i, entry in enumerate(entries):
        engine = entry.get("engine") if isinstance(entry, dict) else None
        if not isinstance(engine, str) or not engine:
            raise fail(f"spec.targets[0].code[{i}].engine is required")
        if engine in code:
            raise fail(f"spec.targets[0].code has engine {engine!r} more than once")
        src = entry.get("source")
        code[engine] = _rego_source(src, f"spec.targets[0].code[{i}].source", fail) if engine == REGO_ENGINE else src
    legacy_rego = target.get("rego")
    if legacy_rego:
        # The legacy fields win over a code entry and are always Rego v0 (frameworks' v1 conversion).
        code[REGO_ENGINE] = _rego_source(
            {"rego": legacy_rego, "libs": target.get("libs") or []}, "spec.targets[0]", fail
        )
    if not code:
        raise fail("spec.targets[0] has no rego and no code")
    return code


def _rego_source(src: Any, where: str, fail: Any) -> RegoSource:
    if not isinstance(src, dict):
        raise fail(f"{where} must be an object with a rego field")
    rego = src.get("rego")
    if not isinstance(rego, str) or not rego.strip():
        raise fail(f"{where}.rego is required")
    libs = src.get("libs") or []
    if not isinstance(libs, list) or not all(isinstance(lib, str) for lib in libs):
        raise fail(f"{where}.libs must be a list of strings")
    return RegoSource(rego=rego, libs=tuple(libs), version="v1" if src.get("version") == "v1" else "v0")


def _operations(target: dict[str, Any], fail: Any) -> tuple[str, ...]:
    ops = target.get("operations") or []
    if not isinstance(ops, list):
        raise fail("spec.targets[0].operations must be a list")
    for op in ops:
        if op not in OPERATIONS:
            raise fail(f"spec.targets[0].operations: unsupported value {op!r}: expected one of {', '.join(OPERATIONS)}")
    if "*" in ops and len(ops) > 1:
        raise fail("spec.targets[0].operations: '*' cannot be combined with other operations")
    return tuple(ops)
