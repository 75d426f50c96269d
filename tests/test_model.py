"""ConstraintTemplates, constraints, parameter schemas and enforcement actions.

gatekeeper-semantics.md sections 3.1, 4.1, 4.2 (source version) and 4.6.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from gatekeeper_py.enforcement import (
    AUDIT,
    GATOR,
    VAP,
    WEBHOOK,
    enforcement_action_problems,
    scoped_actions_for,
)
from gatekeeper_py.errors import ConstraintError, SchemaError, TemplateError
from gatekeeper_py.model import ConstraintTemplate, RegoSource, parse_constraint, parse_template
from gatekeeper_py.model.schema import (
    PRESERVE,
    legacy_schema,
    prune_nulls_and_default,
    to_json_schema,
    validation_errors,
)

REGO_V1 = 'package x\nviolation contains {"msg": "m"} if { false }'
REGO_V0 = 'package x\nviolation[{"msg": "m"}] { false }'
LIB = "package lib.helpers\nok := true"

TEMPLATE_YAML = """
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sdemo
spec:
  crd:
    spec:
      names:
        kind: K8sDemo
      validation:
        openAPIV3Schema:
          type: object
          properties:
            labels:
              type: array
              items:
                type: string
            mode:
              type: string
              default: strict
            limits:
              type: object
              properties:
                cpu:
                  type: string
                  default: "1"
                memory:
                  type: string
            note:
              type: string
              nullable: true
            count:
              type: integer
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
        - engine: Rego
          source:
            version: v1
            rego: |
              package x
              violation contains {"msg": "m"} if { false }
"""

# --------------------------------------------------------------------------------------------------
# Builders


def template_obj(
    kind: str = "K8sDemo",
    *,
    api_version: str = "templates.gatekeeper.sh/v1",
    schema: dict[str, Any] | None = None,
    legacy: bool | None = None,
    code: list[dict[str, Any]] | None = None,
    operations: list[str] | None = None,
) -> dict[str, Any]:
    crd: dict[str, Any] = {"names": {"kind": kind}}
    validation: dict[str, Any] = {}
    if schema is not None:
        validation["openAPIV3Schema"] = schema
    if legacy is not None:
        validation["legacySchema"] = legacy
    if validation:
        crd["validation"] = validation
    target: dict[str, Any] = {
        "target": "admission.k8s.gatekeeper.sh",
        "code": code if code is not None else [{"engine": "Rego", "source": {"version": "v1", "rego": REGO_V1}}],
    }
    if operations is not None:
        target["operations"] = operations
    return {
        "apiVersion": api_version,
        "kind": "ConstraintTemplate",
        "metadata": {"name": kind.lower()},
        "spec": {"crd": {"spec": crd}, "targets": [target]},
    }


def demo_template_obj() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATE_YAML)


def demo_template(api_version: str = "templates.gatekeeper.sh/v1") -> ConstraintTemplate:
    obj = demo_template_obj()
    obj["apiVersion"] = api_version
    return parse_template(obj)


def constraint_obj(
    name: str = "demo",
    *,
    kind: str = "K8sDemo",
    api_version: str = "constraints.gatekeeper.sh/v1beta1",
    **spec: Any,
) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}


# --------------------------------------------------------------------------------------------------
# parse_template: valid templates


def test_parse_template_valid_v1() -> None:
    obj = demo_template_obj()
    template = parse_template(obj, "t.yaml")
    assert template.name == "k8sdemo"
    assert template.kind == "K8sDemo"
    assert template.api_version == "templates.gatekeeper.sh/v1"
    assert template.source == "t.yaml"
    assert template.raw == obj
    assert template.raw is not obj  # a copy: later edits by the caller do not leak in
    assert template.operations == ()
    assert template.rego == RegoSource(rego=REGO_V1 + "\n", libs=(), version="v1")
    assert template.code == {"Rego": template.rego}
    # v1: legacySchema defaults to false, the schema is kept as written
    schema = obj["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"]
    assert template.parameters_schema == schema
    assert PRESERVE not in str(template.parameters_schema)


def test_parse_template_name_is_case_insensitive_equal_to_kind() -> None:
    obj = template_obj()
    obj["metadata"]["name"] = "K8sDemo"  # EqualFold
    assert parse_template(obj).kind == "K8sDemo"


def test_parse_template_keeps_other_engines() -> None:
    cel = {"validations": [{"expression": "true", "message": "m"}]}
    obj = template_obj(
        code=[
            {"engine": "K8sNativeValidation", "source": cel},
            {"engine": "Rego", "source": {"rego": REGO_V0, "libs": [LIB]}},
        ]
    )
    template = parse_template(obj)
    assert template.code["K8sNativeValidation"] == cel
    assert template.rego == RegoSource(rego=REGO_V0, libs=(LIB,), version="v0")


# --------------------------------------------------------------------------------------------------
# parse_template: errors


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = obj
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list) and int(last) == len(node):
            node.append(value)
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


_DELETE = object()
TARGET = "spec.targets.0"
SECOND_TARGET = {"target": "admission.k8s.gatekeeper.sh", "rego": REGO_V0}


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (
            _set("apiVersion", "templates.gatekeeper.sh/v2"),
            "unsupported apiVersion 'templates.gatekeeper.sh/v2'",
        ),
        (_set("apiVersion", "example.com/v1"), "not a ConstraintTemplate of group templates.gatekeeper.sh"),
        (_set("kind", _DELETE), "not a ConstraintTemplate"),
        (_set("kind", "Template"), "not a ConstraintTemplate"),
        (_set("spec.crd.spec.names.kind", _DELETE), "spec.crd.spec.names.kind is required"),
        (_set("spec.crd.spec.names", {}), "spec.crd.spec.names.kind is required"),
        (_set("metadata.name", "k8sother"), "is not equal to the lowercase of CRD's Kind: 'k8sdemo'"),
        (_set("spec.targets", []), "expected exactly 1 item in spec.targets, got 0"),
        (_set("spec.targets", _DELETE), "expected exactly 1 item in spec.targets, got 0"),
        (_set("spec.targets.1", SECOND_TARGET), "got 2"),
        (
            _set(TARGET + ".target", "mutation.gatekeeper.sh"),
            "target name 'mutation.gatekeeper.sh' is not supported",
        ),
        (_set(TARGET + ".target", _DELETE), "the only target is 'admission.k8s.gatekeeper.sh'"),
        (_set(TARGET + ".code", []), "has no rego and no code"),
        (
            _set(TARGET + ".code.0.source", {"version": "v1"}),
            "spec.targets[0].code[0].source.rego is required",
        ),
        (_set(TARGET + ".operations", ["CREATE", "PATCH"]), "unsupported value 'PATCH'"),
        (_set(TARGET + ".operations", ["create"]), "unsupported value 'create'"),
        (_set(TARGET + ".operations", ["*", "CREATE"]), "'*' cannot be combined with other operations"),
        (_set("spec.crd.spec.validation", {"openAPIV3Schema": {"type": 5}}), "invalid openAPIV3Schema"),
    ],
)
def test_parse_template_errors(mutate: Callable[[dict[str, Any]], None], fragment: str) -> None:
    obj = template_obj()
    mutate(obj)
    with pytest.raises(TemplateError) as info:
        parse_template(obj, "bad.yaml")
    err = info.value
    assert fragment in err.reason
    assert err.source == "bad.yaml"
    assert err.obj == f"ConstraintTemplate/{obj['metadata'].get('name')}"
    assert str(err) == f"bad.yaml: {err.obj}: {err.reason}"


@pytest.mark.parametrize(("kind", "fragment"), [("K8s_Demo", "valid CRD plural"), ("K" * 64, "valid CRD plural")])
def test_parse_template_kind_must_make_a_dns_label(kind: str, fragment: str) -> None:
    with pytest.raises(TemplateError, match=fragment):
        parse_template(template_obj(kind))


def test_parse_template_error_without_source() -> None:
    obj = template_obj()
    obj["metadata"]["name"] = "wrong"
    with pytest.raises(TemplateError) as info:
        parse_template(obj)
    assert info.value.source is None
    assert info.value.obj == "ConstraintTemplate/wrong"
    assert "is not equal to the lowercase of CRD's Kind" in str(info.value)


# --------------------------------------------------------------------------------------------------
# Rego source and version


def test_legacy_rego_and_libs_override_code_and_are_v0() -> None:
    obj = template_obj(code=[{"engine": "Rego", "source": {"version": "v1", "rego": REGO_V1, "libs": ["x"]}}])
    obj["spec"]["targets"][0].update(rego=REGO_V0, libs=[LIB])
    assert parse_template(obj).rego == RegoSource(rego=REGO_V0, libs=(LIB,), version="v0")


def test_legacy_rego_without_code_entry_is_added() -> None:
    obj = template_obj()
    del obj["spec"]["targets"][0]["code"]
    obj["spec"]["targets"][0]["rego"] = REGO_V0
    template = parse_template(obj)
    assert template.rego == RegoSource(rego=REGO_V0, libs=(), version="v0")
    assert list(template.code) == ["Rego"]


def test_legacy_rego_keeps_other_engines() -> None:
    cel = {"validations": [{"expression": "true"}]}
    obj = template_obj(code=[{"engine": "K8sNativeValidation", "source": cel}])
    obj["spec"]["targets"][0]["rego"] = REGO_V0
    template = parse_template(obj)
    assert template.code == {"K8sNativeValidation": cel, "Rego": RegoSource(rego=REGO_V0)}


@pytest.mark.parametrize(
    ("version", "expected"),
    [("v1", "v1"), ("V1", "v0"), ("v0", "v0"), ("", "v0"), (None, "v0"), ("1", "v0"), (_DELETE, "v0")],
)
def test_code_source_version(version: Any, expected: str) -> None:
    source: dict[str, Any] = {"rego": REGO_V1, "libs": [LIB]}
    if version is not _DELETE:
        source["version"] = version
    rego = parse_template(template_obj(code=[{"engine": "Rego", "source": source}])).rego
    assert rego == RegoSource(rego=REGO_V1, libs=(LIB,), version=expected)


# --------------------------------------------------------------------------------------------------
# operations / runs_on


@pytest.mark.parametrize(
    ("operations", "runs"),
    [
        (None, {"CREATE": True, "UPDATE": True, "DELETE": True, "CONNECT": True}),
        ([], {"CREATE": True, "UPDATE": True, "DELETE": True, "CONNECT": True}),
        (["*"], {"CREATE": True, "UPDATE": True, "DELETE": True, "CONNECT": True}),
        (["CREATE"], {"CREATE": True, "UPDATE": False, "DELETE": False, "CONNECT": False}),
        (["UPDATE", "DELETE"], {"CREATE": False, "UPDATE": True, "DELETE": True, "CONNECT": False}),
        (["CONNECT"], {"CREATE": False, "UPDATE": False, "DELETE": False, "CONNECT": True}),
    ],
)
def test_operations_and_runs_on(operations: list[str] | None, runs: dict[str, bool]) -> None:
    template = parse_template(template_obj(operations=operations))
    assert template.operations == tuple(operations or ())
    assert {op: template.runs_on(op) for op in runs} == runs


# --------------------------------------------------------------------------------------------------
# legacySchema

SCHEMA = {
    "type": "object",
    "properties": {
        "tags": {"type": "array"},
        "names": {"type": "array", "items": {"type": "string"}},
        "opts": {"type": "object", "properties": {"level": {"type": "integer"}, "any": {}}},
        "name": {"type": "string"},
    },
}
LEGACY_SCHEMA = {
    "type": "object",
    PRESERVE: True,
    "properties": {
        "tags": {"type": "array", "items": {PRESERVE: True}},
        "names": {"type": "array", "items": {"type": "string"}},
        "opts": {
            "type": "object",
            PRESERVE: True,
            "properties": {"level": {"type": "integer"}, "any": {PRESERVE: True}},
        },
        "name": {"type": "string"},
    },
}


@pytest.mark.parametrize(
    ("api_version", "legacy", "expected"),
    [
        ("templates.gatekeeper.sh/v1", None, SCHEMA),
        ("templates.gatekeeper.sh/v1beta1", None, LEGACY_SCHEMA),
        ("templates.gatekeeper.sh/v1alpha1", None, LEGACY_SCHEMA),
        ("templates.gatekeeper.sh/v1beta1", False, SCHEMA),
        ("templates.gatekeeper.sh/v1", True, LEGACY_SCHEMA),
    ],
)
def test_legacy_schema_defaults(api_version: str, legacy: bool | None, expected: dict[str, Any]) -> None:
    obj = template_obj(api_version=api_version, schema=copy.deepcopy(SCHEMA), legacy=legacy)
    assert parse_template(obj).parameters_schema == expected


@pytest.mark.parametrize(
    ("api_version", "expected"),
    [
        ("templates.gatekeeper.sh/v1", None),
        ("templates.gatekeeper.sh/v1beta1", {PRESERVE: True}),
        ("templates.gatekeeper.sh/v1alpha1", {PRESERVE: True}),
    ],
)
def test_no_schema(api_version: str, expected: dict[str, Any] | None) -> None:
    assert parse_template(template_obj(api_version=api_version)).parameters_schema == expected


def test_legacy_schema_recurses_into_additional_properties_and_does_not_mutate() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "object"}}
    before = copy.deepcopy(schema)
    assert legacy_schema(schema) == {
        "type": "object",
        PRESERVE: True,
        "additionalProperties": {"type": "object", PRESERVE: True},
    }
    assert schema == before


# --------------------------------------------------------------------------------------------------
# parse_constraint: identity


def test_parse_constraint_valid() -> None:
    obj = constraint_obj(match={"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}, parameters={"labels": ["a"]})
    c = parse_constraint(obj, demo_template(), "c.yaml")
    assert (c.kind, c.name, c.source) == ("K8sDemo", "demo", "c.yaml")
    assert c.match == {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}
    assert c.enforcement_action == "deny"
    assert c.scoped_enforcement_actions == ()
    assert c.parameters == {"labels": ["a"], "mode": "strict"}
    c.match["kinds"].clear()
    assert obj["spec"]["match"]["kinds"] != []  # the constraint's match is a copy


def test_parse_constraint_v1alpha1_is_accepted() -> None:
    c = parse_constraint(constraint_obj(api_version="constraints.gatekeeper.sh/v1alpha1"), demo_template())
    assert c.name == "demo"
    assert c.match is None
    assert c.parameters == {}


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        (constraint_obj(api_version="constraints.gatekeeper.sh/v1"), "unsupported apiVersion"),
        (constraint_obj(api_version="constraints.gatekeeper.sh/v2"), "unsupported apiVersion"),
        (
            constraint_obj(api_version="example.com/v1beta1"),
            "apiVersion must be in group constraints.gatekeeper.sh",
        ),
        (constraint_obj(kind="K8sOther"), "kind 'K8sOther' does not match the template's kind 'K8sDemo'"),
        (constraint_obj(kind="k8sdemo"), "does not match the template's kind"),
        (constraint_obj(name=""), "metadata.name is required"),
        (constraint_obj(bogus=1), "invalid Constraint: unknown fields: [spec.bogus]"),
    ],
)
def test_parse_constraint_identity_errors(obj: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConstraintError) as info:
        parse_constraint(obj, demo_template(), "c.yaml")
    assert not isinstance(info.value, SchemaError)
    assert fragment in info.value.reason
    assert info.value.source == "c.yaml"
    assert info.value.obj == f"{obj['kind']}/{obj['metadata']['name'] or '<no name>'}"


@pytest.mark.parametrize("name", ["a" * 64, "Demo", "my_demo", "-demo", "demo-", "de mo"])
def test_parse_constraint_bad_name_is_schema_error(name: str) -> None:
    with pytest.raises(SchemaError, match="must be at most 63 characters and a DNS-1123 subdomain"):
        parse_constraint(constraint_obj(name), demo_template())


@pytest.mark.parametrize("name", ["a" * 63, "a.b-c", "x1", "0"])
def test_parse_constraint_good_name(name: str) -> None:
    assert parse_constraint(constraint_obj(name), demo_template()).name == name


# --------------------------------------------------------------------------------------------------
# parse_constraint: parameters


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, {"mode": "strict"}),
        ({"mode": "lax"}, {"mode": "lax"}),
        ({"limits": {}}, {"limits": {"cpu": "1"}, "mode": "strict"}),  # nested default
        ({"limits": {"memory": "2Gi"}}, {"limits": {"memory": "2Gi", "cpu": "1"}, "mode": "strict"}),
        ({"limits": {"cpu": "4"}}, {"limits": {"cpu": "4"}, "mode": "strict"}),
        ({"count": None}, {"mode": "strict"}),  # null of a non-nullable field is dropped
        ({"mode": None}, {"mode": "strict"}),  # ... and then defaulted
        ({"limits": {"cpu": None}}, {"limits": {"cpu": "1"}, "mode": "strict"}),
        ({"note": None}, {"note": None, "mode": "strict"}),  # nullable: kept
    ],
)
def test_parameters_defaults_and_nulls(given: dict[str, Any], expected: dict[str, Any]) -> None:
    obj = constraint_obj(parameters=given)
    before = copy.deepcopy(obj)
    c = parse_constraint(obj, demo_template())
    assert c.parameters == expected
    assert c.obj["spec"]["parameters"] == expected
    assert obj == before  # the input is not changed


def test_parameters_absent_get_no_defaults() -> None:
    c = parse_constraint(constraint_obj(), demo_template())
    assert c.parameters == {}
    assert "parameters" not in c.obj["spec"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"count": "three"}, "spec.parameters.count: 'three' is not of type 'integer'"),
        ({"labels": "a"}, "spec.parameters.labels: 'a' is not of type 'array'"),
        ({"labels": ["a", 1]}, "spec.parameters.labels[1]: 1 is not of type 'string'"),
        ({"limits": {"cpu": 2}}, "spec.parameters.limits.cpu: 2 is not of type 'string'"),
        ({"labels": None, "limits": []}, "spec.parameters.limits: [] is not of type 'object'"),
    ],
)
def test_parameters_type_errors(params: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_constraint(constraint_obj(parameters=params), demo_template(), "c.yaml")
    assert info.value.reason.startswith("schema validation failed: ")
    assert fragment in info.value.reason
    assert (info.value.source, info.value.obj) == ("c.yaml", "K8sDemo/demo")


@pytest.mark.parametrize(
    ("params", "unknown"),
    [
        ({"bogus": 1}, "[spec.parameters.bogus]"),
        ({"limits": {"gpu": "1"}}, "[spec.parameters.limits.gpu]"),
        ({"bogus": 1, "limits": {"gpu": "1"}}, "[spec.parameters.bogus spec.parameters.limits.gpu]"),
    ],
)
def test_unknown_parameters_rejected_by_structural_schema(params: dict[str, Any], unknown: str) -> None:
    with pytest.raises(ConstraintError) as info:
        parse_constraint(constraint_obj(parameters=params), demo_template())
    assert info.value.reason == f"invalid Constraint: unknown fields: {unknown}"


def test_unknown_parameters_accepted_by_legacy_schema() -> None:
    template = demo_template("templates.gatekeeper.sh/v1beta1")
    params = {"bogus": {"x": [1]}, "limits": {"gpu": "1"}}
    c = parse_constraint(constraint_obj(parameters=params), template)
    assert c.parameters == {"bogus": {"x": [1]}, "limits": {"gpu": "1", "cpu": "1"}, "mode": "strict"}


def test_legacy_schema_still_checks_types() -> None:
    template = demo_template("templates.gatekeeper.sh/v1beta1")
    with pytest.raises(SchemaError, match="schema validation failed"):
        parse_constraint(constraint_obj(parameters={"count": "x"}), template)


def test_parameters_without_schema() -> None:
    v1 = parse_template(template_obj())
    with pytest.raises(ConstraintError) as info:
        parse_constraint(constraint_obj(parameters={"a": 1}), v1)
    assert info.value.reason == "invalid Constraint: unknown fields: [spec.parameters]"
    assert parse_constraint(constraint_obj(), v1).parameters == {}
    v1beta1 = parse_template(template_obj(api_version="templates.gatekeeper.sh/v1beta1"))
    assert parse_constraint(constraint_obj(parameters={"a": [1]}), v1beta1).parameters == {"a": [1]}


# --------------------------------------------------------------------------------------------------
# parse_constraint: stored object


def test_status_is_removed_and_input_untouched() -> None:
    obj = constraint_obj(parameters={"mode": "lax"})
    obj["status"] = {"byPod": [{"id": "x"}]}
    c = parse_constraint(obj, demo_template())
    assert "status" not in c.obj
    assert c.obj["spec"] == {"parameters": {"mode": "lax"}, "enforcementAction": "deny"}
    assert obj["status"] == {"byPod": [{"id": "x"}]}
    assert "enforcementAction" not in obj["spec"]


@pytest.mark.parametrize("spec", [_DELETE, None, {}])
def test_enforcement_action_defaults_to_deny(spec: Any) -> None:
    obj = constraint_obj()
    if spec is _DELETE:
        del obj["spec"]
    else:
        obj["spec"] = spec
    c = parse_constraint(obj, demo_template())
    assert c.enforcement_action == "deny"
    assert c.obj["spec"] == {"enforcementAction": "deny"}
    assert c.actions_at(WEBHOOK) == ["deny"]


# --------------------------------------------------------------------------------------------------
# parse_constraint: enforcement actions

SCOPED_WARN_WEBHOOK = [{"action": "warn", "enforcementPoints": [{"name": WEBHOOK}]}]


@pytest.mark.parametrize("action", ["deny", "dryrun", "warn"])
def test_plain_enforcement_actions(action: str) -> None:
    c = parse_constraint(constraint_obj(enforcementAction=action), demo_template())
    assert c.enforcement_action == action
    assert c.obj["spec"]["enforcementAction"] == action
    for point in (WEBHOOK, AUDIT, GATOR, VAP, "*"):
        assert c.actions_at(point) == [action]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"enforcementAction": "block"},
            'unrecognized enforcementAction: "block" is not within the supported list [deny dryrun warn scoped]',
        ),
        (
            {"enforcementAction": "Deny"},
            'unrecognized enforcementAction: "Deny" is not within the supported list [deny dryrun warn scoped]',
        ),
        (
            {"enforcementAction": "scoped"},
            "missing required field: spec.scopedEnforcementActions must be defined",
        ),
        (
            {
                "enforcementAction": "scoped",
                "scopedEnforcementActions": [{"action": "deny", "enforcementPoints": [{"name": "webhook"}]}],
            },
            "unrecognized enforcement points: "
            "constraint will not be enforced for enforcement points [webhook], "
            "supported enforcement points are "
            "[validation.gatekeeper.sh audit.gatekeeper.sh gator.gatekeeper.sh vap.k8s.io]",
        ),
        (
            {
                "enforcementAction": "scoped",
                "scopedEnforcementActions": [{"action": "block", "enforcementPoints": [{"name": AUDIT}]}],
            },
            "unrecognized enforcementAction: [block] is not within the supported list [deny dryrun warn]",
        ),
    ],
)
def test_enforcement_action_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConstraintError) as info:
        parse_constraint(constraint_obj(**spec), demo_template(), "c.yaml")
    assert info.value.reason == message
    assert (info.value.source, info.value.obj) == ("c.yaml", "K8sDemo/demo")


def test_enforcement_action_must_be_a_string() -> None:
    with pytest.raises(SchemaError, match=r"spec\.enforcementAction must be a string"):
        parse_constraint(constraint_obj(enforcementAction=["deny"]), demo_template())


@pytest.mark.parametrize(
    ("scoped", "expected"),
    [
        (SCOPED_WARN_WEBHOOK, {WEBHOOK: ["warn"], AUDIT: None, GATOR: None, VAP: None}),
        (
            [
                {"action": "warn", "enforcementPoints": [{"name": WEBHOOK}]},
                {"action": "dryrun", "enforcementPoints": [{"name": AUDIT}, {"name": GATOR}]},
            ],
            {WEBHOOK: ["warn"], AUDIT: ["dryrun"], GATOR: ["dryrun"], VAP: None},
        ),
        (
            [{"action": "deny", "enforcementPoints": [{"name": "*"}]}],
            {WEBHOOK: ["deny"], AUDIT: ["deny"], GATOR: ["deny"], VAP: ["deny"]},
        ),
        (
            [
                {"action": "deny", "enforcementPoints": [{"name": "*"}]},
                {"action": "warn", "enforcementPoints": [{"name": GATOR}]},
                {"action": "deny", "enforcementPoints": [{"name": GATOR}]},
            ],
            {WEBHOOK: ["deny"], AUDIT: ["deny"], GATOR: ["deny", "warn"], VAP: ["deny"]},
        ),
    ],
)
def test_scoped_actions_at(scoped: list[dict[str, Any]], expected: dict[str, list[str] | None]) -> None:
    c = parse_constraint(constraint_obj(enforcementAction="scoped", scopedEnforcementActions=scoped), demo_template())
    assert c.enforcement_action == "scoped"
    assert c.scoped_enforcement_actions == tuple(scoped)
    assert {point: c.actions_at(point) for point in expected} == expected


# --------------------------------------------------------------------------------------------------
# parse_constraint: spec.match


@pytest.mark.parametrize(
    ("match", "fragment"),
    [
        ({"namespaces": ["Prod"]}, "spec.match.namespaces[0]"),
        ({"namespaces": ["ok", "pr*od"]}, "spec.match.namespaces[1]"),
        ({"namespaces": ["**prod"]}, "spec.match.namespaces[0]"),
        ({"excludedNamespaces": ["kube system"]}, "spec.match.excludedNamespaces[0]"),
        ({"name": "Web"}, "spec.match.name"),
        ({"source": "Both"}, "spec.match.source: 'Both' is not one of ['All', 'Generated', 'Original']"),
        ({"kinds": {"kinds": ["Pod"]}}, "spec.match.kinds"),
        ({"kinds": [{"kinds": "Pod"}]}, "spec.match.kinds[0].kinds"),
        ({"labelSelector": {"matchLabels": {"a": 1}}}, "spec.match.labelSelector.matchLabels.a"),
        ({"namespaceSelector": {"matchExpressions": [{"key": "a"}]}}, "'operator' is a required property"),
        ({"scope": 1}, "spec.match.scope"),
    ],
)
def test_match_schema_errors(match: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_constraint(constraint_obj(match=match), demo_template())
    assert info.value.reason.startswith("schema validation failed: ")
    assert fragment in info.value.reason


def test_match_wildcards_accepted() -> None:
    match = {
        "namespaces": ["prod-*", "*-eu", "*mid*", "*", "a:b"],
        "excludedNamespaces": ["kube-*"],
        "name": "web-*",
        "scope": "Namespaced",
        "source": "Generated",
    }
    assert parse_constraint(constraint_obj(match=match), demo_template()).match == match


@pytest.mark.parametrize(
    ("match", "fragment"),
    [
        (
            {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Foo"}]}},
            'invalid Constraint: spec.match.labelSelector: "Foo" is not a valid label selector operator',
        ),
        (
            {"namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}},
            "invalid Constraint: spec.match.namespaceSelector: for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}},
            "invalid Constraint: spec.match.labelSelector: values set must be empty",
        ),
        (
            {"labelSelector": {"matchLabels": {"bad key": "v"}}},
            "invalid Constraint: spec.match.labelSelector: ",
        ),
    ],
)
def test_match_label_selector_problems(match: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConstraintError) as info:
        parse_constraint(constraint_obj(match=match), demo_template(), "c.yaml")
    assert not isinstance(info.value, SchemaError)
    assert info.value.reason.startswith(fragment)
    assert info.value.source == "c.yaml"


# --------------------------------------------------------------------------------------------------
# enforcement module directly


@pytest.mark.parametrize("action", ["deny", "dryrun", "warn"])
def test_enforcement_action_problems_plain(action: str) -> None:
    assert enforcement_action_problems(action, None) == []


def test_enforcement_action_problems_scoped_shape() -> None:
    problems = enforcement_action_problems("scoped", [{"action": "deny", "enforcementPoints": "audit"}])
    assert problems == [
        "spec.scopedEnforcementAction must be in the format of []{action: string, enforcementPoints: []{name: string}}"
    ]
    assert enforcement_action_problems("scoped", [{"action": "deny", "enforcementPoints": [{"name": "*"}]}]) == []


def test_scoped_actions_for() -> None:
    scoped = [
        {"action": "dryrun", "enforcementPoints": [{"name": AUDIT}]},
        {"action": "warn", "enforcementPoints": [{"name": "*"}]},
        {"action": "dryrun", "enforcementPoints": [{"name": "*"}]},
    ]
    assert scoped_actions_for(scoped, AUDIT) == ["dryrun", "warn"]
    assert scoped_actions_for(scoped, WEBHOOK) == ["warn", "dryrun"]
    assert scoped_actions_for([], WEBHOOK) == []


# --------------------------------------------------------------------------------------------------
# model.schema


def test_to_json_schema_nullable() -> None:
    node = {"type": "string", "nullable": True, "default": "x", "x-kubernetes-list-type": "set"}
    assert to_json_schema(node) == {"type": ["string", "null"]}
    assert validation_errors(None, node, "p") == []
    assert validation_errors("a", node, "p") == []
    assert validation_errors(1, node, "p") == ["p: 1 is not of type 'string', 'null'"]
    assert validation_errors(None, {"type": "string"}, "p") == ["p: None is not of type 'string'"]


def test_to_json_schema_nullable_enum() -> None:
    node = {"type": "string", "enum": ["a", "b"], "nullable": True}
    assert to_json_schema(node) == {"type": ["string", "null"], "enum": ["a", "b", None]}
    assert validation_errors(None, node, "p") == []
    assert len(validation_errors("c", node, "p")) == 1


def test_to_json_schema_int_or_string() -> None:
    node = {"x-kubernetes-int-or-string": True}
    assert to_json_schema(node) == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert validation_errors(3, node, "p") == []
    assert validation_errors("50%", node, "p") == []
    assert len(validation_errors(1.5, node, "p")) == 1
    assert len(validation_errors([1], node, "p")) == 1


def test_to_json_schema_nested() -> None:
    node = {
        "type": "object",
        "properties": {
            "port": {"x-kubernetes-int-or-string": True},
            "items": {"type": "array", "items": {"type": "integer", "nullable": True}},
        },
        "additionalProperties": {"type": "string", "nullable": True},
    }
    out = to_json_schema(node)
    assert out["properties"]["port"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert out["properties"]["items"]["items"] == {"type": ["integer", "null"]}
    assert out["additionalProperties"] == {"type": ["string", "null"]}
    assert validation_errors({"port": "http", "items": [1, None], "x": None}, node, "spec") == []
    assert validation_errors({"items": ["a"]}, node, "spec") == ["spec.items[0]: 'a' is not of type 'integer', 'null'"]


def test_prune_nulls_and_default_does_not_mutate() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "default": ["a"], "items": {"type": "string"}},
            "opts": {"type": "object", "properties": {"n": {"type": "integer", "default": 1}, "m": {}}},
            "keep": {"type": "string", "nullable": True},
            "meta": {"type": "object", "default": {"k": ["v"]}},
        },
    }
    value = {"opts": {"m": None}, "keep": None, "gone": None}
    value_before, schema_before = copy.deepcopy(value), copy.deepcopy(schema)
    out = prune_nulls_and_default(value, schema)
    # "gone" has no schema: kept; "m" is non-nullable: dropped
    assert out == {"opts": {"n": 1}, "keep": None, "gone": None, "tags": ["a"], "meta": {"k": ["v"]}}
    assert value == value_before
    out["tags"].append("b")
    out["meta"]["k"].append("w")
    out["opts"]["n"] = 2
    assert schema == schema_before  # defaults are copied, not shared
    assert prune_nulls_and_default(value, schema)["tags"] == ["a"]


def test_prune_nulls_and_default_in_lists_and_additional_properties() -> None:
    schema = {
        "type": "object",
        "properties": {
            "rules": {
                "type": "array",
                "items": {"type": "object", "properties": {"op": {"type": "string", "default": "eq"}}},
            }
        },
        "additionalProperties": {
            "type": "object",
            "properties": {"on": {"type": "boolean", "default": True}},
        },
    }
    value = {"rules": [{}, {"op": "ne"}, {"op": None}], "extra": {}, "dropped": None}
    assert prune_nulls_and_default(value, schema) == {
        "rules": [{"op": "eq"}, {"op": "ne"}, {"op": "eq"}],
        "extra": {"on": True},
    }


@pytest.mark.parametrize("field", ["match", "enforcementAction", "parameters", "scopedEnforcementActions"])
def test_null_spec_fields_are_dropped_like_the_apiserver_does(field: str) -> None:
    tmpl = parse_template(
        {
            "apiVersion": "templates.gatekeeper.sh/v1",
            "kind": "ConstraintTemplate",
            "metadata": {"name": "k8snulls"},
            "spec": {
                "crd": {"spec": {"names": {"kind": "K8sNulls"}, "validation": {"openAPIV3Schema": {"type": "object"}}}},
                "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": "package x"}],
            },
        }
    )
    obj = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sNulls",
        "metadata": {"name": "c"},
        "spec": {field: None},
    }
    parsed = parse_constraint(obj, tmpl)
    assert parsed.enforcement_action == "deny"
    assert parsed.match is None
    assert parsed.parameters == {}
    assert parsed.obj["spec"] == {"enforcementAction": "deny"}


@pytest.mark.parametrize(
    ("match", "field"),
    [
        ({"excludedNamespace": ["kube-system"]}, "spec.match.excludedNamespace"),
        ({"kinds": [{"apiGroup": [""], "kinds": ["Pod"]}]}, "spec.match.kinds[0].apiGroup"),
        ({"namespaceSelector": {"matchLabel": {"a": "b"}}}, "spec.match.namespaceSelector.matchLabel"),
        ({"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "value": []}]}},
         "spec.match.labelSelector.matchExpressions[0].value"),
    ],
)  # fmt: skip
def test_misspelled_match_fields_are_unknown_fields_not_ignored(match: dict[str, Any], field: str) -> None:
    tmpl = parse_template(
        {
            "apiVersion": "templates.gatekeeper.sh/v1",
            "kind": "ConstraintTemplate",
            "metadata": {"name": "k8smatch"},
            "spec": {
                "crd": {"spec": {"names": {"kind": "K8sMatch"}}},
                "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": "package x"}],
            },
        }
    )
    obj = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sMatch",
        "metadata": {"name": "c"},
        "spec": {"match": match},
    }
    with pytest.raises(ConstraintError, match=re.escape(f"invalid Constraint: unknown fields: [{field}]")):
        parse_constraint(obj, tmpl)
