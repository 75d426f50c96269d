"""Findings of the second review, each pinned: concurrency, template checks, odd input, Gatekeeper details."""

from __future__ import annotations

import copy
import re
import threading
from typing import Any

import pytest
from conftest import admission_review, constraint, namespace, pod, template
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutations import value_paths

from gatekeeper_py import Client, GatekeeperPyError, SchemaError, TemplateError
from gatekeeper_py.loader import Document

ECHO = 'package echo\nviolation contains {"msg": input.review.object.metadata.name} if { true }\n'


def test_one_client_serves_many_threads_without_mixing_reviews() -> None:
    client = Client()
    client.add_template(template("K8sEcho", ECHO))
    client.add_constraint(constraint("K8sEcho", "echo"))
    wrong: list[tuple[str, list[str]]] = []

    def worker(t: int) -> None:
        for i in range(60):
            name = f"p{t}-{i}"
            got = [r.msg for r in client.review(pod(name))]
            if got != [name]:
                wrong.append((name, got))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@pytest.mark.parametrize(
    "expr",
    [
        "input.review.object.data.password",
        'input.review.object.data["password"]',
        'obj := input.review.object; obj.data["password"]',
    ],
)
def test_object_fields_named_data_are_not_data_references(expr: str) -> None:
    client = Client()
    rego = f'package secrets\nviolation contains {{"msg": "has a password"}} if {{\n  {expr}\n}}\n'
    client.add_template(template("K8sSecretPassword", rego))
    client.add_constraint(constraint("K8sSecretPassword", "c"))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "eA=="}}
    assert [r.msg for r in client.review(secret)] == ["has a password"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x := data", "disallowed ref data"),
        ('x := data["other"]', "disallowed ref data.other"),
        ("x := data[input.k]", "disallowed ref data[...]"),
        ("data.other.f(1)", "disallowed ref data.other"),
        ("nosuch(1)", "K8sCalls.rego:3: undefined function nosuch"),
        ('external_data({"provider": "p", "keys": []})', "undefined function external_data"),
        ("any([true])", "undefined function any"),
        ('net.cidr_contains("10.0.0.0/8", "10.1.1.1")', "the builtin net.cidr_contains is not supported by rego-cpp"),
        ('http.send({"method": "get", "url": "http://x"})', "the builtin http.send is not supported by rego-cpp"),
    ],
)
def test_calls_and_refs_gatekeeper_would_not_compile_are_rejected_at_load(body: str, message: str) -> None:
    rego = f'package calls\nviolation contains {{"msg": "m"}} if {{\n  {body}\n}}\n'
    with pytest.raises(TemplateError, match=re.escape(message)):
        Client().add_template(template("K8sCalls", rego))


def test_own_functions_builtins_and_lib_functions_are_accepted() -> None:
    lib = "package lib.util\nshort(s) if count(s) < 3\n"
    rego = (
        "package calls\nimport data.lib.util\nimport data.lib\n"
        "too_short(s) if util.short(s)\n"
        'violation contains {"msg": sprintf("short: %v", [name])} if {\n'
        "  name := input.review.object.metadata.name\n"
        "  too_short(name)\n"
        "  data.lib.util.short(lower(name))\n"
        "}\n"
    )
    client = Client()
    client.add_template(template("K8sShort", rego, libs=[lib]))
    client.add_constraint(constraint("K8sShort", "c"))
    assert [r.msg for r in client.review(pod("ab"))] == ["short: ab"]


def test_print_statements_are_erased_wherever_they_are() -> None:
    rego = (
        "package p\n"
        'violation contains {"msg": "m"} if {\n'
        '  print("debug", input.review)\n'
        '  print(sprintf("%v", [count(input.review)]))\n'
        '  print("spread",\n    "over lines")\n'
        "  xs := [x | some x in [1]; print(x)]\n"
        "  count(xs) == 1\n"
        "}\n"
    )
    client = Client()
    client.add_template(template("K8sPrint", rego))
    client.add_constraint(constraint("K8sPrint", "c"))
    assert [r.msg for r in client.review(pod("p"))] == ["m"]


def test_data_inventory_may_be_written_with_brackets() -> None:
    rego = 'package inv\nviolation contains {"msg": "seen"} if {\n  data["inventory"].cluster.v1.Namespace[_]\n}\n'
    client = Client()
    client.add_template(template("K8sInv", rego))
    client.add_constraint(constraint("K8sInv", "c"))
    assert client.review(pod("p")).results == []
    client.add_data(namespace("shop"))
    assert [r.msg for r in client.review(pod("p"))] == ["seen"]


def test_evaluation_error_replaces_the_results_of_every_constraint_of_the_kind() -> None:
    rego = (
        "package kinds\n"
        "x := 1 if input.parameters.bad\n"
        "x := 2 if input.parameters.bad\n"
        'violation contains {"msg": sprintf("conflict %v", [x])} if { input.parameters.bad }\n'
        'violation contains {"msg": "real"} if { not input.parameters.bad }\n'
    )
    client = Client()
    client.add_template(
        template("K8sKinds", rego, schema={"type": "object", "properties": {"bad": {"type": "boolean"}}})
    )
    client.add_constraint(constraint("K8sKinds", "a-bad", parameters={"bad": True}))
    client.add_constraint(constraint("K8sKinds", "b-good", parameters={"bad": False}))
    results = client.review(pod("p")).results
    assert [r.constraint.name for r in results] == ["a-bad", "b-good"]
    assert all("multiple outputs" in r.msg for r in results)


def test_results_do_not_share_state_with_the_client() -> None:
    client = Client()
    schema = {"type": "object", "properties": {"m": {"type": "string"}}}
    client.add_template(
        template("K8sParam", 'package p\nviolation contains {"msg": input.parameters.m} if { true }', schema=schema)
    )
    client.add_constraint(constraint("K8sParam", "c", parameters={"m": "original"}))
    [result] = client.review(pod("p")).results
    result.to_dict()["constraint"]["spec"]["parameters"]["m"] = "tampered"
    result.to_dict()["metadata"]["details"]["x"] = 1
    assert [r.msg for r in client.review(pod("p"))] == ["original"]


def test_webhook_clears_the_namespace_of_namespace_requests() -> None:
    rego = 'package ns\nviolation contains {"msg": object.get(input.review, "namespace", "<none>")} if { true }\n'
    client = Client()
    client.add_template(template("K8sNs", rego))
    client.add_constraint(constraint("K8sNs", "c"))
    review = admission_review("CREATE", namespace("team-a"))
    review["request"]["namespace"] = "team-a"
    assert [r.msg for r in client.review(review)] == ["<none>"]
    audit = Client(enforcement_point="audit.gatekeeper.sh")
    audit.add_template(template("K8sNs", rego))
    audit.add_constraint(constraint("K8sNs", "c"))
    assert [r.msg for r in audit.review(review)] == ["team-a"]


def test_unknown_enforcement_point_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown enforcement point 'gator'"):
        Client(enforcement_point="gator")


def test_constraint_of_a_failed_template_says_so() -> None:
    docs = [
        Document(template("K8sBroken", "package x\nviolation contains {"), "t.yaml"),
        Document(constraint("K8sBroken", "c"), "c.yaml"),
    ]
    errors = Client().add_policies(docs)
    assert [str(e) for e in errors][1] == (
        "c.yaml: K8sBroken/c: not added: the ConstraintTemplate for kind 'K8sBroken' failed to load"
    )


def test_non_finite_parameters_are_a_schema_error() -> None:
    client = Client()
    schema = {"type": "object", "properties": {"limit": {"type": "number"}}}
    client.add_template(template("K8sNum", 'package n\nviolation contains {"msg": "m"} if { false }', schema=schema))
    with pytest.raises(SchemaError, match="not finite"):
        client.add_constraint(constraint("K8sNum", "c", parameters={"limit": float("nan")}))


@pytest.mark.parametrize(
    "metadata",
    [
        {"name": None, "namespace": "default"},
        {"name": ["x"], "labels": ["a", "b"]},
        {"name": "p", "labels": "team=a"},
        {"name": "p", "labels": {"team": 5}},
        {"name": 7, "namespace": 8, "generateName": {}},
    ],
)
def test_malformed_metadata_is_read_like_kubernetes_accessors(metadata: dict[str, Any]) -> None:
    client = Client()
    client.add_template(template("K8sAny", 'package a\nviolation contains {"msg": "seen"} if { true }'))
    client.add_constraint(
        constraint(
            "K8sAny",
            "c",
            match={"name": "p*", "labelSelector": {"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}},
        )
    )
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}
    results = client.review(obj).results
    name = metadata.get("name")
    assert [r.msg for r in results] == (["seen"] if name == "p" else [])


def test_malformed_schema_nodes_are_template_errors() -> None:
    bad = template(
        "K8sSchema",
        'package s\nviolation contains {"msg": "m"} if { false }',
        schema={"type": "object", "properties": {"a": "string"}},
    )
    with pytest.raises(TemplateError, match=re.escape("properties.a: must be a schema object")):
        Client().add_template(bad)
    code = template("K8sCode", "x")
    code["spec"]["targets"][0]["code"] = 5
    with pytest.raises(TemplateError, match="code must be a list"):
        Client().add_template(code)


# Any single change to a valid template, constraint or object gives a result or one of our own errors, never a crash.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.just([]),
    st.just({}),
)
BASE = {
    "template": template(
        "K8sFuzz",
        'package f\nviolation contains {"msg": sprintf("%v", [input.review.object.metadata.name])} if { true }',
        schema={"type": "object", "properties": {"n": {"type": "integer", "default": 1}}},
    ),
    "constraint": constraint(
        "K8sFuzz",
        "c",
        parameters={"n": 2},
        match={"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}], "namespaces": ["d*"]},
    ),
    "object": pod("p", "default", labels={"a": "b"}),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_single_field_mutations_never_escape_as_crashes(data: st.DataObject) -> None:
    which = data.draw(st.sampled_from(sorted(BASE)))
    docs = copy.deepcopy(BASE)
    paths = [p for p in value_paths(docs[which]) if p]
    path = data.draw(st.sampled_from(paths))
    node = docs[which]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = data.draw(SCALARS)
    client = Client()
    try:
        client.add_template(docs["template"])
        client.add_constraint(docs["constraint"])
        client.review(docs["object"])
        request = {"uid": "u", "operation": "UPDATE", "object": docs["object"], "oldObject": docs["object"]}
        client.review({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
    except GatekeeperPyError:
        pass


def test_lib_function_imported_by_name_is_accepted() -> None:
    lib = 'package lib.exempt\nis_exempt(c) if c.name == "sidecar"\n'
    rego = (
        "package ex\nimport data.lib.exempt.is_exempt\n"
        'violation contains {"msg": c.name} if {\n'
        "  some c in input.review.object.spec.containers\n"
        "  not is_exempt(c)\n"
        "}\n"
    )
    client = Client()
    client.add_template(template("K8sExempt", rego, libs=[lib]))
    client.add_constraint(constraint("K8sExempt", "c"))
    containers = [{"name": "sidecar", "image": "a"}, {"name": "app", "image": "b"}]
    assert [r.msg for r in client.review(pod("p", containers=containers))] == ["app"]


def test_parenthesised_line_after_a_ref_is_not_taken_for_a_call() -> None:
    rego = (
        "package spread\n"
        'violation contains {"msg": "too few replicas"} if {\n'
        "  input.review.object.spec.replicas < input.parameters.min\n"
        "  (input.review.object.spec.replicas - 1) >= 0\n"
        "}\n"
    )
    client = Client()
    client.add_template(
        template("K8sSpread", rego, schema={"type": "object", "properties": {"min": {"type": "integer"}}})
    )
    client.add_constraint(constraint("K8sSpread", "c", parameters={"min": 3}))
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 2}}
    assert [r.msg for r in client.review(deployment)] == ["too few replicas"]


def test_templates_using_with_are_refused_instead_of_crashing_the_engine() -> None:
    rego = (
        "package w\n"
        'is_pod if input.review.object.kind == "Pod"\n'
        'violation contains {"msg": "m"} if {\n  is_pod with input as {"review": {"object": {"kind": "Pod"}}}\n}\n'
    )
    with pytest.raises(TemplateError, match=re.escape("K8sWith.rego:4:10: `with` is not supported")):
        Client().add_template(template("K8sWith", rego))
