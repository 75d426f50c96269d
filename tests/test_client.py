"""Client behaviour: enforcement actions, merging, order, matching before evaluation, inventory, bad input."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from conftest import admission_review, constraint, namespace, pod, record_calls, template

from gatekeeper_py import Client, ConstraintError, ReviewError, TemplateError
from gatekeeper_py.drivers.base import Violation
from gatekeeper_py.drivers.rego.engine import Runner
from gatekeeper_py.enforcement import AUDIT, GATOR, WEBHOOK
from gatekeeper_py.loader import Document
from gatekeeper_py.model import Constraint, ConstraintTemplate

ALWAYS = 'package always\nviolation contains {"msg": input.parameters.msg, "details": {"n": 1}} if { true }\n'
MSG_SCHEMA = {"type": "object", "properties": {"msg": {"type": "string"}}}


def client_for(kind: str, rego: str, *names: str) -> Client:
    """A webhook Client with one Rego v1 template and a constraint without parameters per name."""
    client = Client()
    client.add_template(template(kind, rego))
    for name in names:
        client.add_constraint(constraint(kind, name))
    return client


def always_client(**kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.add_template(template("K8sAlways", ALWAYS, schema=MSG_SCHEMA))
    return client


def test_deny_result_blocks_with_bracketed_message() -> None:
    client = always_client()
    client.add_constraint(constraint("K8sAlways", "no-pods", parameters={"msg": "pods are not allowed"}))
    responses = client.review(pod("p"))
    assert not responses.allowed
    assert responses.deny_messages == ["[no-pods] pods are not allowed"]
    assert responses.warnings == []
    [result] = responses.results
    assert result.enforcement_action == "deny"
    assert result.details == {"n": 1}
    assert result.to_dict()["metadata"] == {"details": {"n": 1}}
    assert result.to_dict()["constraint"]["spec"]["enforcementAction"] == "deny"


def test_warn_and_dryrun_do_not_block() -> None:
    client = always_client()
    client.add_constraint(constraint("K8sAlways", "w", parameters={"msg": "careful"}, action="warn"))
    client.add_constraint(constraint("K8sAlways", "d", parameters={"msg": "quietly"}, action="dryrun"))
    responses = client.review(pod("p"))
    assert responses.allowed
    assert responses.warnings == ["[w] careful"]
    assert responses.deny_messages == []
    assert sorted(r.enforcement_action for r in responses) == ["dryrun", "warn"]


SCOPED = [
    {"action": "deny", "enforcementPoints": [{"name": WEBHOOK}]},
    {"action": "warn", "enforcementPoints": [{"name": AUDIT}]},
]


@pytest.mark.parametrize(
    ("point", "expected"),
    [(WEBHOOK, ("deny",)), (AUDIT, ("warn",)), (GATOR, None)],
)
def test_scoped_actions_follow_the_enforcement_point(point: str, expected: tuple[str, ...] | None) -> None:
    client = always_client(enforcement_point=point)
    client.add_constraint(constraint("K8sAlways", "scoped", parameters={"msg": "m"}, action="scoped", scoped=SCOPED))
    results = client.review(pod("p")).results
    if expected is None:
        assert results == []  # no action at this point: the constraint is skipped entirely
    else:
        [result] = results
        assert result.enforcement_action == "scoped"
        assert result.scoped_actions == expected
        assert result.to_dict()["scopedActions"] == list(expected)


def test_identical_results_of_one_constraint_are_merged_but_constraints_never() -> None:
    # Distinct in the template's set, identical once details default to {} as Gatekeeper's hook does.
    rego = (
        "package twice\n"
        'violation contains {"msg": "same"} if { input.review.object.kind == "Pod" }\n'
        'violation contains {"msg": "same", "details": {}} if { input.review.object.metadata.name == "p" }\n'
        'violation contains {"msg": "same", "details": {"other": true}} if { true }\n'
    )
    client = client_for("K8sTwice", rego, "a", "b")
    results = client.review(pod("p")).results
    # per constraint: the two identical violations merge, the one with other details stays apart
    assert [(r.constraint.name, r.details) for r in results] == [
        ("a", {}),
        ("a", {"other": True}),
        ("b", {}),
        ("b", {"other": True}),
    ]


def test_results_are_ordered_by_action_then_message() -> None:
    client = always_client()
    client.add_constraint(constraint("K8sAlways", "c1", parameters={"msg": "b"}, action="warn"))
    client.add_constraint(constraint("K8sAlways", "c2", parameters={"msg": "z"}, action="deny"))
    client.add_constraint(constraint("K8sAlways", "c3", parameters={"msg": "a"}, action="warn"))
    client.add_constraint(constraint("K8sAlways", "c4", parameters={"msg": "a"}, action="dryrun"))
    order = [(r.enforcement_action, r.msg) for r in client.review(pod("p"))]
    assert order == [("deny", "z"), ("dryrun", "a"), ("warn", "a"), ("warn", "b")]


def test_template_operations_filter_only_the_webhook() -> None:
    for point, expected in ((WEBHOOK, 0), (AUDIT, 1), (GATOR, 1)):
        client = Client(enforcement_point=point)
        client.add_template(
            template("K8sOnDelete", 'package d\nviolation contains {"msg": "x"} if { true }', operations=["DELETE"])
        )
        client.add_constraint(constraint("K8sOnDelete", "c"))
        assert len(client.review(admission_review("CREATE", pod("p")))) == expected, point
    webhook = Client()
    webhook.add_template(
        template("K8sOnDelete", 'package d\nviolation contains {"msg": "x"} if { true }', operations=["DELETE"])
    )
    webhook.add_constraint(constraint("K8sOnDelete", "c"))
    assert len(webhook.review(admission_review("DELETE", None, pod("p")))) == 1


def test_match_error_becomes_an_autoreject_result_with_the_constraints_action() -> None:
    client = always_client()
    client.add_constraint(
        constraint(
            "K8sAlways",
            "ns-sel",
            parameters={"msg": "m"},
            action="warn",
            match={"namespaceSelector": {"matchLabels": {"a": "b"}}},
        )
    )
    [result] = client.review(pod("web", "unknown-ns")).results
    assert result.msg == (
        "unable to match constraints: error matching the requested object: web :failed to run Match criteria: "
        "namespace selector for namespace-scoped object but missing Namespace"
    )
    assert result.enforcement_action == "warn"


def test_namespace_for_matching_comes_from_the_inventory_when_not_given() -> None:
    client = always_client()
    client.add_constraint(
        constraint(
            "K8sAlways",
            "ns-sel",
            parameters={"msg": "m"},
            match={"namespaceSelector": {"matchLabels": {"tier": "prod"}}},
        )
    )
    client.add_data(namespace("shop", {"tier": "prod"}))
    client.add_data(namespace("lab", {"tier": "dev"}))
    assert [r.msg for r in client.review(pod("a", "shop"))] == ["m"]
    assert client.review(pod("a", "lab")).results == []
    # a Namespace passed explicitly wins over the inventory
    assert [r.msg for r in client.review(pod("a", "lab"), namespace=namespace("lab", {"tier": "prod"}))] == ["m"]


def test_constraints_that_do_not_match_are_never_evaluated() -> None:
    seen: list[list[str]] = []

    class RecordingDriver:
        engine = "Rego"

        def add_template(self, template: ConstraintTemplate) -> None: ...
        def remove_template(self, kind: str) -> None: ...
        def set_inventory(self, inventory: dict[str, Any]) -> None: ...

        def query(
            self, matched: Mapping[str, Sequence[Constraint]], review: dict[str, Any], deadline: Any = None
        ) -> list[Violation]:
            constraints = [c for kind in matched for c in matched[kind]]
            seen.append([c.name for c in constraints])
            return [Violation(c, f"from {c.name}") for c in constraints]

    client = Client(drivers=[RecordingDriver()])
    client.add_template(template("K8sAlways", ALWAYS, schema=MSG_SCHEMA))
    client.add_constraint(constraint("K8sAlways", "pods", match={"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}))
    client.add_constraint(
        constraint("K8sAlways", "deploys", match={"kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]}]})
    )
    assert [r.msg for r in client.review(pod("p"))] == ["from pods"]
    assert seen == [["pods"]]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "x"}}
    seen.clear()
    client.review({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}} | {"kind": "Secret"})
    assert seen == []  # nothing matched: the engine is not called at all
    assert [r.msg for r in client.review(deployment)] == ["from deploys"]


def test_templates_see_parameters_and_namespace_object() -> None:
    rego = (
        "package echo\n"
        'violation contains {"msg": "params", "details": input.parameters} if { true }\n'
        'violation contains {"msg": "ns", "details": {"ns": input.review.namespaceObject}} if { true }\n'
    )
    client = client_for("K8sEcho", rego, "echo")
    ns = namespace("team", {"owner": "me"})
    by_msg = {r.msg: r.details for r in client.review(pod("p", "team"), namespace=ns)}
    assert by_msg == {"params": {}, "ns": {"ns": ns}}
    by_msg = {r.msg: r.details for r in client.review(pod("p", "team"), namespace=ns, namespace_in_input=False)}
    assert by_msg["ns"] == {"ns": None}


def test_inventory_changes_reach_templates_that_read_it() -> None:
    rego = (
        "package unique\n"
        'violation contains {"msg": msg} if {\n'
        "  host := input.review.object.spec.host\n"
        "  some ns, other\n"
        '  data.inventory.namespace[ns]["v1"]["Route"][other].spec.host == host\n'
        "  other != input.review.object.metadata.name\n"
        '  msg := sprintf("host %v is already used by %v/%v", [host, ns, other])\n'
        "}\n"
    )
    client = client_for("K8sUniqueHost", rego, "unique-host")

    def route(name: str, ns: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Route",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"host": "a.example.com"},
        }

    assert client.review(route("new", "b")).results == []
    client.add_data(route("old", "a"))
    assert [r.msg for r in client.review(route("new", "b"))] == ["host a.example.com is already used by a/old"]
    client.remove_data(route("old", "a"))
    assert client.review(route("new", "b")).results == []


def test_evaluation_error_gives_one_result_per_constraint() -> None:
    rego = (
        "package conflict\n"
        "x := 1 if { true }\n"
        "x := 2 if { true }\n"
        'violation contains {"msg": sprintf("%v", [x])} if { true }\n'
    )
    client = client_for("K8sConflict", rego, "one", "two")
    results = client.review(pod("p")).results
    assert [r.constraint.name for r in results] == ["one", "two"]
    assert all("multiple outputs" in r.msg for r in results)


def test_violation_without_msg_is_dropped_and_non_string_msg_fails_the_review() -> None:
    client = Client()
    client.add_template(template("K8sNoMsg", 'package n\nviolation contains {"message": "x"} if { true }'))
    client.add_constraint(constraint("K8sNoMsg", "c"))
    assert client.review(pod("p")).results == []
    client.add_template(template("K8sNumMsg", 'package n\nviolation contains {"msg": 7} if { true }'))
    client.add_constraint(constraint("K8sNumMsg", "c"))
    with pytest.raises(ReviewError, match="extracting message binding"):
        client.review(pod("p"))


@pytest.mark.parametrize(
    ("rego", "kwargs", "message"),
    [
        ('package x\nviolation[{"msg": "m"}] {\n  input.x ==\n}', {"version": ""}, "K8sBad.rego:4:1: unexpected '}'"),
        ('package x\ndeny contains {"msg": "m"} if { true }', {}, "missing required rules: [violation]"),
        (
            'package x\nviolation contains {"msg": m} if {\n  m := \n}',
            {},
            "K8sBad.rego:4:1: unexpected '}', expected a term",
        ),
        (
            'package x\nimport data.foo\nviolation contains {"msg": "m"} if { true }',
            {},
            'invalid import: bad import: "data.foo"',
        ),
        ('package x\nimport rego.v1\nviolation contains {"msg": "m"} if { true }', {}, 'bad import: "rego.v1"'),
        ('package x\nimport input.review\nviolation contains {"msg": "m"} if { true }', {}, "cannot import input"),
        ('package x\nviolation contains {"msg": "m"} if { data.other.x }', {}, "disallowed ref data.other"),
        ('package x\nviolation contains {"msg": "m"} if { data.x.y }', {}, "disallowed ref data.x"),
        (
            'package x\nviolation contains {"msg": "m"} if { true }',
            {"libs": ["package util\nf := 1"]},
            "invalid lib prefix",
        ),
    ],
)
def test_broken_templates_are_rejected_with_a_clear_reason(rego: str, kwargs: dict[str, Any], message: str) -> None:
    client = Client()
    with pytest.raises(TemplateError) as caught:
        client.add_template(template("K8sBad", rego, **kwargs), source="bad.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("bad.yaml: ConstraintTemplate/k8sbad: ")
    assert client.templates == {}


def test_strings_and_comments_do_not_trip_the_rego_checks() -> None:
    rego = (
        "package x\n"
        "# data.secret is mentioned only in this comment; import data.nope\n"
        'violation contains {"msg": "see data.other and `data.x`"} if { true }\n'
    )
    client = client_for("K8sQuoted", rego, "c")
    assert [r.msg for r in client.review(pod("p"))] == ["see data.other and `data.x`"]


def test_libs_are_imported_under_data_lib() -> None:
    lib = 'package lib.naming\nbad_name(name) if startswith(name, "tmp-")\n'
    rego = (
        "package naming\nimport data.lib.naming\n"
        'violation contains {"msg": "temporary name"} if { naming.bad_name(input.review.object.metadata.name) }\n'
    )
    client = Client()
    client.add_template(template("K8sNaming", rego, libs=[lib]))
    client.add_constraint(constraint("K8sNaming", "c"))
    assert [r.msg for r in client.review(pod("tmp-1"))] == ["temporary name"]
    assert client.review(pod("web")).results == []


def test_two_templates_with_the_same_package_do_not_collide() -> None:
    client = Client()
    client.add_template(template("K8sOne", 'package same\nviolation contains {"msg": "one"} if { true }'))
    client.add_template(template("K8sTwo", 'package same\nviolation contains {"msg": "two"} if { true }'))
    client.add_constraint(constraint("K8sOne", "c1"))
    client.add_constraint(constraint("K8sTwo", "c2"))
    assert [(r.constraint.name, r.msg) for r in client.review(pod("p"))] == [("c1", "one"), ("c2", "two")]


def test_a_broken_template_leaves_the_others_working() -> None:
    client = always_client()
    client.add_constraint(constraint("K8sAlways", "c", parameters={"msg": "still here"}))
    with pytest.raises(TemplateError):
        client.add_template(template("K8sAlways", "package always\nviolation contains {"))
    assert [r.msg for r in client.review(pod("p"))] == ["still here"]


def test_constraint_for_an_unknown_template_is_rejected() -> None:
    with pytest.raises(ConstraintError, match="no ConstraintTemplate defines kind 'K8sMissing'"):
        Client().add_constraint(constraint("K8sMissing", "c"), source="c.yaml")


def test_engine_choice_limits_which_templates_load() -> None:
    cel = template("K8sCel", "unused")
    cel["spec"]["targets"][0]["code"] = [{"engine": "K8sNativeValidation", "source": {"validations": []}}]
    with pytest.raises(TemplateError, match=r"no language driver .* \(engines: K8sNativeValidation\)"):
        Client(engine="rego").add_template(cel)
    assert Client(engine="cel").add_template(cel).kind == "K8sCel"
    rego_only = template("K8sRego", 'package r\nviolation contains {"msg": "m"} if { true }')
    with pytest.raises(TemplateError, match=r"no language driver .* \(engines: Rego\)"):
        Client(engine="cel").add_template(rego_only)


def test_removing_a_template_removes_its_constraints_and_replacing_keeps_them() -> None:
    client = always_client()
    client.add_constraint(constraint("K8sAlways", "c", parameters={"msg": "m"}))
    client.add_template(
        template("K8sAlways", 'package always\nviolation contains {"msg": "v2"} if { true }', schema=MSG_SCHEMA)
    )
    assert [r.msg for r in client.review(pod("p"))] == ["v2"]
    client.remove_constraint("K8sAlways", "c")
    assert client.review(pod("p")).results == []
    client.add_constraint(constraint("K8sAlways", "c", parameters={"msg": "m"}))
    client.remove_template("k8salways")
    assert client.constraints == []
    assert client.review(pod("p")).results == []


def test_add_policies_adds_templates_before_constraints_and_skips_bad_ones() -> None:
    good = template("K8sAlways", ALWAYS, schema=MSG_SCHEMA)
    docs = [
        Document(constraint("K8sAlways", "first", parameters={"msg": "m"}), "c.yaml"),  # before its template
        Document(constraint("K8sAlways", "bad", parameters={"msg": 5}), "bad-c.yaml"),
        Document(template("K8sBroken", "package x\nviolation contains {"), "bad-t.yaml"),
        Document(good, "t.yaml"),
        Document(pod("p"), "pod.yaml"),  # neither: ignored
    ]
    client = Client()
    errors = client.add_policies(docs)
    assert sorted(type(e).__name__ for e in errors) == ["SchemaError", "TemplateError"]
    assert {e.source for e in errors} == {"bad-c.yaml", "bad-t.yaml"}
    assert [c.name for c in client.constraints] == ["first"]


def test_object_with_a_non_finite_number_is_a_review_error() -> None:
    client = always_client()
    client.add_constraint(constraint("K8sAlways", "c", parameters={"msg": "m"}))
    with pytest.raises(ReviewError, match="cannot be reviewed: it holds a number that is not finite"):
        client.review(pod("p", containers=[{"name": "c", "image": "x", "ratio": float("inf")}]))


def test_an_object_that_contains_itself_is_a_review_error() -> None:
    client = always_client()
    looped = pod("p")
    looped["spec"]["self"] = looped
    with pytest.raises(ReviewError, match="cannot be reviewed: it is nested too deeply"):
        client.review(looped)


@pytest.mark.parametrize("operation", ["CREATE", "UPDATE", "DELETE"])
def test_review_leaves_the_callers_admission_review_unchanged(operation: str) -> None:
    client = always_client()
    client.add_constraint(constraint("K8sAlways", "c", parameters={"msg": "m"}))
    body = admission_review(operation, pod("p"), pod("p", labels={"v": "old"}), dryRun=True)
    before = copy.deepcopy(body)
    assert [r.msg for r in client.review(body, namespace=namespace("default"))] == ["m"]
    assert body == before


V0_TEMPLATE = """package k8sdisallowedtags

violation[{"msg": msg, "details": {"image": image}}] {
  container := input_containers[_]
  image := container.image
  tag := image_tag(image)
  bad_tag(tag)
  msg := sprintf("container <%v> uses a disallowed tag <%v>", [container.name, tag])
}

image_tag(image) = tag {
  parts := split(image, ":")
  count(parts) > 1
  tag := parts[count(parts) - 1]
} else = "latest" {
  true
}

bad_tag(tag) {
  tag == input.parameters.tags[_]
}

input_containers[c] {
  c := input.review.object.spec.containers[_]
}
input_containers[c] {
  c := input.review.object.spec.initContainers[_]
}
"""


def test_rego_v0_templates_run_as_gatekeeper_runs_them() -> None:
    schema = {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}}
    client = Client()
    client.add_template(template("K8sDisallowedTags", V0_TEMPLATE, schema=schema, version=""))
    client.add_constraint(constraint("K8sDisallowedTags", "no-latest", parameters={"tags": ["latest", "dev"]}))
    obj = pod(
        "p",
        containers=[{"name": "a", "image": "nginx"}, {"name": "b", "image": "nginx:1.2"}],
        initContainers=[{"name": "c", "image": "tools:dev"}],
    )
    results = client.review(obj).results
    assert [(r.msg, r.details) for r in results] == [
        ("container <a> uses a disallowed tag <latest>", {"image": "nginx"}),
        ("container <c> uses a disallowed tag <dev>", {"image": "tools:dev"}),
    ]


@pytest.fixture
def rego_inputs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every input the Rego driver hands rego-cpp, parsed."""
    return record_calls(monkeypatch, Runner, "set_input", lambda _, input_json: json.loads(input_json))


def test_a_review_sets_the_rego_input_once_for_all_its_templates_and_constraints(
    rego_inputs: list[dict[str, Any]],
) -> None:
    """Each constraint still sees its own parameters, through helper rules and functions alike."""
    labels = (
        "package labels\n"
        "required := {l | some l in input.parameters.labels}\n"
        'suffix(l) := concat("", [l, input.parameters.suffix])\n'
        'violation contains {"msg": suffix(l)} if { some l in required; not input.review.object.metadata.labels[l] }\n'
    )
    broken = (
        "package broken\nx := 1 if { true }\nx := 2 if { true }\n"
        'violation contains {"msg": "x"} if { x > input.parameters.n }\n'
    )
    client = Client()
    open_schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    client.add_template(template("K8sLabels", labels, schema=open_schema))
    client.add_template(template("K8sBroken", broken, schema=open_schema))
    client.add_template(template("K8sAlways", ALWAYS, schema=MSG_SCHEMA))
    client.add_constraint(constraint("K8sLabels", "a", parameters={"labels": ["x", "y"], "suffix": "-a"}))
    client.add_constraint(constraint("K8sLabels", "b", parameters={"labels": ["y", "z"], "suffix": "-b"}))
    client.add_constraint(constraint("K8sLabels", "c", parameters={"labels": ["x"], "suffix": "-c"}))
    client.add_constraint(constraint("K8sBroken", "e", parameters={"n": 1}))
    client.add_constraint(constraint("K8sAlways", "m", parameters={"msg": "always"}))
    found = sorted((r.constraint.name, r.msg) for r in client.review(pod("p", labels={"x": "1"})))
    assert len(rego_inputs) == 1
    assert [f for f in found if f[0] != "e"] == [("a", "y-a"), ("b", "y-b"), ("b", "z-b"), ("m", "always")]
    [(_, error)] = [f for f in found if f[0] == "e"]
    assert "multiple outputs" in error


def test_each_distinct_set_of_parameters_is_evaluated_once(
    rego_inputs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once per kind when the template reads no parameters; every constraint still gets its results. A kind with
    one set of parameters is queried without the hook's `with`."""
    entrypoints = record_calls(monkeypatch, Runner, "query", lambda _, policy, entrypoint=None: entrypoint)
    fixed = 'package fixed\nviolation contains {"msg": "no labels"} if { not input.review.object.metadata.labels }\n'
    client = Client()
    client.add_template(template("K8sFixed", fixed))
    client.add_template(template("K8sAlways", ALWAYS, schema=MSG_SCHEMA))
    for name in ("f1", "f2", "f3"):
        client.add_constraint(constraint("K8sFixed", name))
    for name, msg in (("a1", "same"), ("a2", "other"), ("a3", "same")):
        client.add_constraint(constraint("K8sAlways", name, parameters={"msg": msg}))
    found = sorted((r.constraint.name, r.msg) for r in client.review(pod("p")))
    assert found == [("a1", "same"), ("a2", "other"), ("a3", "same")] + [(f, "no labels") for f in ("f1", "f2", "f3")]
    [sent] = rego_inputs
    assert sent["gatekeeper_py_parameters"] == {"K8sAlways": {"msg": "same"}}  # K8sFixed reads none
    assert sent["gatekeeper_py_parameter_sets"] == {"K8sAlways": [{"msg": "same"}, {"msg": "other"}]}
    assert entrypoints == ["gatekeeper_py_hook/violations", "gatekeeper_py_hook/violation"]  # K8sAlways, K8sFixed


def test_constraints_are_matched_only_against_objects_of_kinds_they_can_select(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gatekeeper_py.client as client_module

    checked = record_calls(monkeypatch, client_module, "review_matches", lambda _, review, ns: review.object["kind"])
    client = Client()
    client.add_template(template("K8sAlways", ALWAYS, schema=MSG_SCHEMA))
    pods = {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}
    any_kind = {"kinds": [{"apiGroups": ["*"], "kinds": ["Pod"]}]}
    client.add_constraint(constraint("K8sAlways", "pods", match=pods, parameters={"msg": "pod"}))
    client.add_constraint(constraint("K8sAlways", "wild", match=any_kind, parameters={"msg": "wild"}))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "x"}}
    assert client.review(secret).results == [] and checked == ["Secret"]  # only the wildcard one was tried
    checked.clear()
    assert sorted(r.msg for r in client.review(pod("p"))) == ["pod", "wild"] and checked == ["Pod", "Pod"]
    client.remove_constraint("K8sAlways", "wild")
    assert [r.msg for r in client.review(pod("p"))] == ["pod"]


def test_a_template_reading_input_whole_sees_only_review_and_parameters() -> None:
    """As in Gatekeeper, whatever other constraints are under review."""
    rego = (
        "package whole\n"
        'violation contains {"msg": concat(",", sort([k | some k, _ in input]))} if { true }\n'
        'violation contains {"msg": sprintf("found %v", [input.parameters.a])} if {\n'
        '  walk(input, [["parameters", "a"], _])\n'
        "}\n"
    )
    client = Client()
    client.add_template(
        template("K8sWhole", rego, schema={"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    )
    client.add_template(template("K8sAlways", ALWAYS, schema=MSG_SCHEMA))
    client.add_constraint(constraint("K8sWhole", "with-a", parameters={"a": 1}))
    client.add_constraint(constraint("K8sWhole", "without-a", parameters={"b": 2}))
    client.add_constraint(constraint("K8sAlways", "m", parameters={"msg": "always"}))
    found = sorted((r.constraint.name, r.msg) for r in client.review(pod("p")))
    assert found == [
        ("m", "always"),
        ("with-a", "found 1"),
        ("with-a", "parameters,review"),
        ("without-a", "parameters,review"),
    ]


def test_variables_named_like_the_package_evaluate_instead_of_recursing() -> None:
    # rego-cpp reports recursion on them, and under the driver's `with` exhausts memory: they are renamed.
    rego = 'package k\nviolation contains {"msg": concat(",", x)} if { x := {k | input.review.object.metadata[k]} }\n'
    client = client_for("K8sPackageNamed", rego, "c")
    assert [r.msg for r in client.review(pod("p"))] == ["name,namespace"]


def test_parameters_rego_cpp_rejects_fail_only_their_own_kind() -> None:
    client = Client()
    open_schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    client.add_template(template("K8sAlways", ALWAYS, schema=MSG_SCHEMA))
    client.add_template(template("K8sBad", ALWAYS.replace("package always", "package bad"), schema=open_schema))
    client.add_constraint(constraint("K8sAlways", "good", parameters={"msg": "fine"}))
    client.add_constraint(constraint("K8sBad", "bad", parameters={"msg": "x", "odd": "\ud800"}))
    found = {r.constraint.name: r.msg for r in client.review(pod("p"))}
    assert found["good"] == "fine" and found["bad"].startswith("rego-cpp rejected the input")
