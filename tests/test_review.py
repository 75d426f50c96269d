"""The `input.review` document: audit/gator shape, AdmissionRequests, AdmissionReviews (semantics 1.2-1.7)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import admission_request

from gatekeeper_py.errors import ReviewError
from gatekeeper_py.review import (
    GENERATED,
    ORIGINAL,
    Review,
    build_review,
    group_version_kind,
    review_object,
    review_request,
)


def deployment(name: str = "web", namespace: str | None = "shop") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"app": name}}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {"replicas": 2}}


def config_map(name: str = "settings", namespace: str = "shop", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data or {"k": "v"},
    }


BOB = {"username": "bob", "uid": "u-1", "groups": ["devs", "system:authenticated"]}


def request(operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None = None, **extra: Any) -> dict:
    return admission_request(
        operation, obj, old, **{"uid": "4b1d5a2e-0000-4000-8000-000000000001", "userInfo": copy.deepcopy(BOB), **extra}
    )


# --- audit / gator shape ---


def test_review_object_has_exactly_the_audit_shape() -> None:
    obj = deployment()
    review = review_object(obj)
    assert review.request == {
        "uid": "",
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "resource": {"group": "", "version": "", "resource": ""},
        "name": "web",
        "namespace": "shop",
        "operation": "",
        "userInfo": {},
        "object": obj,
        "oldObject": None,
        "options": None,
    }
    assert review.operation == ""
    assert review.source == ORIGINAL
    assert review.namespace is None


def test_review_object_core_group_is_empty_string() -> None:
    review = review_object(config_map())
    assert review.request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}


@pytest.mark.parametrize(
    ("api_version", "expected"),
    [
        ("v1", ("", "v1")),
        ("apps/v1", ("apps", "v1")),
        ("networking.k8s.io/v1beta1", ("networking.k8s.io", "v1beta1")),
        ("", ("", "")),
    ],
)
def test_group_version_kind_splits_api_version(api_version: str, expected: tuple[str, str]) -> None:
    gvk = group_version_kind({"apiVersion": api_version, "kind": "Thing"})
    assert gvk == {"group": expected[0], "version": expected[1], "kind": "Thing"}


def test_review_object_omits_empty_name_and_namespace() -> None:
    cluster_scoped = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x"}}
    review = review_object(cluster_scoped)
    assert review.request["name"] == "x"
    assert "namespace" not in review.request
    assert review.namespace_name == ""

    nameless = review_object({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "p-"}})
    assert "name" not in nameless.request
    assert "namespace" not in nameless.request
    for key in ("subResource", "requestKind", "requestResource", "requestSubResource", "dryRun"):
        assert key not in nameless.request


def test_review_object_without_metadata_still_has_the_fixed_keys() -> None:
    review = review_object({"apiVersion": "v1", "kind": "PodExecOptions", "command": ["sh"]})
    assert set(review.request) == {"uid", "kind", "resource", "operation", "userInfo", "object", "oldObject", "options"}


def test_review_object_keeps_namespace_and_source() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    review = review_object(deployment(), namespace=ns, source=GENERATED)
    assert review.namespace == ns
    assert review.source == GENERATED


def test_review_object_delete_moves_object_into_old_object_and_copies_it_back() -> None:
    obj = deployment()
    review = review_object(obj, operation="DELETE")
    assert review.operation == "DELETE"
    assert review.old_object == obj
    assert review.object == obj
    assert review.object is not review.old_object
    review.object["metadata"]["name"] = "changed"
    assert review.old_object["metadata"]["name"] == "web"


@pytest.mark.parametrize(
    ("thing", "words"),
    [
        ({"apiVersion": "v1", "metadata": {"name": "x"}}, "no kind"),
        ({"apiVersion": "v1", "kind": "", "metadata": {"name": "x"}}, "no kind"),
        (["not", "a", "mapping"], "mapping"),
    ],
)
def test_review_object_rejects_objects_it_cannot_review(thing: Any, words: str) -> None:
    with pytest.raises(ReviewError, match=words):
        review_object(thing)


# --- AdmissionRequest ---


def test_review_request_create_keeps_the_request() -> None:
    obj = config_map()
    req = request("CREATE", obj)
    review = review_request(req)
    assert review.request == {
        "uid": "4b1d5a2e-0000-4000-8000-000000000001",
        "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
        "resource": {"group": "", "version": "v1", "resource": "configmaps"},
        "name": "settings",
        "namespace": "shop",
        "operation": "CREATE",
        "userInfo": {"username": "bob", "uid": "u-1", "groups": ["devs", "system:authenticated"]},
        "object": obj,
        "oldObject": None,
        "options": None,
    }


def test_review_request_copies_its_input() -> None:
    req = request("CREATE", config_map())
    review = review_request(req)
    req["object"]["data"]["k"] = "mutated"
    req["userInfo"]["groups"].append("late")
    assert review.object["data"] == {"k": "v"}
    assert review.request["userInfo"]["groups"] == ["devs", "system:authenticated"]


@pytest.mark.parametrize("wrap", [False, True])
def test_build_review_can_share_the_requests_values_instead_of_copying(wrap: bool) -> None:
    req = request("CREATE", config_map())
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req} if wrap else req
    shared = build_review(body, copy_input=False)
    assert shared.request == build_review(body).request
    assert shared.object is req["object"]
    assert shared.request["userInfo"]["groups"] is req["userInfo"]["groups"]


def test_review_request_update_keeps_object_and_old_object() -> None:
    new, old = config_map(k="new"), config_map(k="old")
    review = review_request(request("UPDATE", new, old))
    assert review.operation == "UPDATE"
    assert review.object == new
    assert review.old_object == old


def test_review_request_delete_replaces_object_with_a_copy_of_old_object() -> None:
    old = config_map(k="old")
    review = review_request(request("DELETE", config_map(k="ignored"), old))
    assert review.object == old
    assert review.old_object == old
    assert review.object is not review.old_object

    without_object = review_request(request("DELETE", None, old))
    assert without_object.object == old


def test_review_request_delete_without_old_object_fails() -> None:
    with pytest.raises(ReviewError, match="oldObject cannot be nil for DELETE operations"):
        review_request(request("DELETE", config_map(), None))


def test_review_request_connect_pod_exec() -> None:
    options = {
        "apiVersion": "v1",
        "kind": "PodExecOptions",
        "stdin": True,
        "stdout": True,
        "tty": True,
        "container": "app",
        "command": ["sh", "-c", "id"],
    }
    req = request(
        "CONNECT",
        options,
        name="app-7d9c",
        namespace="shop",
        kind={"group": "", "version": "v1", "kind": "PodExecOptions"},
        resource={"group": "", "version": "v1", "resource": "pods"},
        subResource="exec",
        userInfo={"username": "mallory", "groups": ["ops"]},
    )
    review = review_request(req)
    doc = review.request
    assert doc["operation"] == "CONNECT"
    assert doc["kind"] == {"group": "", "version": "v1", "kind": "PodExecOptions"}
    assert doc["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert doc["subResource"] == "exec"
    assert doc["name"] == "app-7d9c"
    assert doc["namespace"] == "shop"
    assert doc["userInfo"] == {"username": "mallory", "groups": ["ops"]}
    assert doc["object"] == options
    assert doc["oldObject"] is None
    assert review.namespace_name == "shop"


def test_review_request_drops_empty_optional_fields_and_fills_required_ones() -> None:
    obj = config_map()
    review = review_request(
        {
            "operation": "CREATE",
            "object": obj,
            "name": "",
            "namespace": "",
            "subResource": "",
            "requestKind": None,
            "dryRun": None,
            "userInfo": {"username": "bob", "uid": "", "groups": [], "extra": {}},
        }
    )
    assert review.request == {
        "uid": "",
        "kind": {"group": "", "version": "", "kind": ""},
        "resource": {"group": "", "version": "", "resource": ""},
        "operation": "CREATE",
        "userInfo": {"username": "bob"},
        "object": obj,
        "oldObject": None,
        "options": None,
    }


@pytest.mark.parametrize("dry_run", [True, False])
def test_review_request_keeps_dry_run_when_set(dry_run: bool) -> None:
    review = review_request(request("CREATE", config_map(), dryRun=dry_run))
    assert review.request["dryRun"] is dry_run


def test_review_request_keeps_request_kind_and_options() -> None:
    req = request(
        "UPDATE",
        config_map(k="new"),
        config_map(k="old"),
        requestKind={"group": "", "version": "v1", "kind": "ConfigMap"},
        requestResource={"group": "", "version": "v1", "resource": "configmaps"},
        options={"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions"},
    )
    doc = review_request(req).request
    assert doc["requestKind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert doc["requestResource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert doc["options"] == {"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions"}


def test_review_request_field_order_follows_go() -> None:
    req = request("UPDATE", config_map(), config_map(), subResource="status", dryRun=True)
    assert list(review_request(req).request) == [
        "uid",
        "kind",
        "resource",
        "subResource",
        "name",
        "namespace",
        "operation",
        "userInfo",
        "object",
        "oldObject",
        "dryRun",
        "options",
    ]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"unexpected": 1}, "unknown field(s): unexpected"),
        ({"zzz": 1, "aaa": 2}, "unknown field(s): aaa, zzz"),
        ({"userInfo": {"username": "bob", "role": "admin"}}, "userInfo"),
        ({"userInfo": "bob"}, "userInfo"),
        ({"object": {"apiVersion": "v1"}}, "object must be an object with a kind"),
        ({"object": "text"}, "object must be an object with a kind"),
        ({"oldObject": {"metadata": {}}}, "oldObject must be an object with a kind"),
        ({"object": None, "oldObject": None}, "needs an object or an oldObject"),
    ],
)
def test_review_request_is_strict(change: dict[str, Any], words: str) -> None:
    req = request("CREATE", config_map())
    req.update(change)
    with pytest.raises(ReviewError) as info:
        review_request(req, strict=True)
    assert words in str(info.value)


def test_review_request_ignores_unknown_fields_unless_strict() -> None:
    req = request("CREATE", config_map())
    req.update({"futureField": 1, "userInfo": {"username": "bob", "newInfo": "x"}})
    doc = review_request(req).document()
    assert "futureField" not in doc
    assert doc["userInfo"] == {"username": "bob"}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"kind": "Pod"}, "kind must be an object"),
        ({"resource": ["pods"]}, "resource must be an object"),
        ({"namespace": ["a"]}, "namespace must be a string"),
        ({"name": 5}, "name must be a string"),
        ({"object": {"kind": "Pod", "spec": {"x": float("inf")}}}, "not finite"),
    ],
)
def test_malformed_requests_are_review_errors(change: dict[str, Any], words: str) -> None:
    req = request("CREATE", config_map())
    req.update(change)
    with pytest.raises(ReviewError, match=words):
        review_request(req)


def test_review_request_must_be_a_mapping() -> None:
    with pytest.raises(ReviewError, match="mapping"):
        review_request(["CREATE"])  # type: ignore[arg-type]


# --- build_review dispatch ---


@pytest.mark.parametrize("api_version", ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])
def test_build_review_extracts_the_request_of_an_admission_review(api_version: str) -> None:
    obj = config_map()
    req = request("UPDATE", obj, config_map(k="old"))
    review = build_review({"apiVersion": api_version, "kind": "AdmissionReview", "request": copy.deepcopy(req)})
    assert review.request == review_request(req).request
    assert review.operation == "UPDATE"
    assert review.object == obj


@pytest.mark.parametrize("body", [{}, {"request": None}])
def test_build_review_of_admission_review_without_request_fails(body: dict[str, Any]) -> None:
    with pytest.raises(ReviewError, match="AdmissionReview has no request"):
        build_review({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", **body})


def test_build_review_of_admission_review_applies_delete_rule() -> None:
    old = config_map(k="old")
    review = build_review(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request("DELETE", None, old)}
    )
    assert review.object == old


def test_build_review_of_a_bare_admission_request() -> None:
    obj = config_map()
    review = build_review(request("CREATE", obj))
    assert review.operation == "CREATE"
    assert review.request["userInfo"]["username"] == "bob"
    assert review.object == obj


def test_build_review_of_a_plain_object_is_the_audit_shape() -> None:
    obj = deployment()
    review = build_review(obj, source=GENERATED)
    assert review.request == review_object(obj).request
    assert review.source == GENERATED


def test_build_review_of_an_admission_review_kind_in_another_group_is_a_plain_object() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "AdmissionReview", "metadata": {"name": "r"}}
    review = build_review(obj)
    assert review.request["operation"] == ""
    assert review.object == obj


def test_build_review_of_an_object_without_kind_fails() -> None:
    with pytest.raises(ReviewError, match="no kind"):
        build_review({"apiVersion": "v1", "metadata": {"name": "x"}})


def test_build_review_passes_the_namespace_on() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    assert build_review(request("CREATE", config_map()), namespace=ns).namespace == ns
    assert build_review(config_map(), namespace=ns).namespace == ns


# --- Review ---


def test_document_always_has_namespace_object() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "a"}}}
    with_ns = review_object(config_map(), namespace=ns)
    assert with_ns.document()["namespaceObject"] == ns
    assert with_ns.document(with_namespace=False)["namespaceObject"] is None

    without_ns = review_object(config_map())
    assert "namespaceObject" in without_ns.document()
    assert without_ns.document()["namespaceObject"] is None


def test_document_is_the_request_plus_namespace_object_and_leaves_the_request_alone() -> None:
    review = review_object(config_map())
    doc = review.document()
    assert {k: v for k, v in doc.items() if k != "namespaceObject"} == review.request
    assert "namespaceObject" not in review.request


def test_display_name() -> None:
    assert review_object(config_map()).display_name == "ConfigMap/shop/settings"
    assert review_object(deployment(namespace=None)).display_name == "Deployment/web"
    assert review_object(config_map(), operation="DELETE").display_name == "ConfigMap/shop/settings"
    assert review_request(request("DELETE", None, config_map(name="gone"))).display_name == "ConfigMap/shop/gone"


def test_review_is_immutable() -> None:
    review = review_object(config_map())
    assert isinstance(review, Review)
    with pytest.raises(AttributeError):
        review.source = GENERATED  # type: ignore[misc]
