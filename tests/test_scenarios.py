"""The acceptance scenarios, on the shipped starter templates and constraints, through real AdmissionReviews."""

from __future__ import annotations

import pytest
from conftest import admission_review, exec_review, namespace, pod

from gatekeeper_py import Client, ReviewError


def node(name: str, labels: dict[str, str] | None = None) -> dict:
    meta: dict = {"name": name}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Node", "metadata": meta, "spec": {}}


# -- block deleting a Node unless it is labelled deletable (DELETE, oldObject) -------------------------


def test_deleting_an_unlabelled_node_is_denied(starter_client: Client) -> None:
    responses = starter_client.review(admission_review("DELETE", None, node("worker-7")))
    assert not responses.allowed
    assert responses.deny_messages == [
        "[protect-nodes] Node worker-7 cannot be deleted: it needs the label node.example.com/deletable=true"
    ]


@pytest.mark.parametrize(
    ("labels", "allowed"),
    [
        ({"node.example.com/deletable": "true"}, True),
        ({"node.example.com/deletable": "false"}, False),
        ({"other": "true"}, False),
    ],
)
def test_node_delete_depends_on_the_label_of_the_old_object(
    starter_client: Client, labels: dict, allowed: bool
) -> None:
    assert starter_client.review(admission_review("DELETE", None, node("n1", labels))).allowed is allowed


def test_creating_or_updating_a_node_is_not_judged_by_the_delete_policy(starter_client: Client) -> None:
    assert starter_client.review(admission_review("CREATE", node("n1"))).results == []
    assert starter_client.review(admission_review("UPDATE", node("n1"), node("n1"))).results == []


def test_delete_without_old_object_is_a_review_error(starter_client: Client) -> None:
    with pytest.raises(ReviewError, match="oldObject cannot be nil for DELETE operations"):
        starter_client.review(admission_review("DELETE", node("n1")))


# -- deny kubectl exec/attach in listed namespaces (CONNECT) --------------------------------------------
# As Gatekeeper's webhook does, the server passes the request's Namespace: a PodExecOptions object has no
# metadata, so without it the namespaces criterion has nothing to check (see the last test of this block).


@pytest.mark.parametrize("subresource", ["exec", "attach"])
def test_exec_and_attach_are_denied_in_production_namespaces(starter_client: Client, subresource: str) -> None:
    review = exec_review("prod-eu", "checkout", subresource=subresource)
    responses = starter_client.review(review, namespace=namespace("prod-eu"))
    assert not responses.allowed
    assert responses.deny_messages == [
        f"[deny-exec-in-production] {subresource} into pod prod-eu/checkout is not allowed for user alice"
    ]


@pytest.mark.parametrize("ns", ["dev", "staging", "preprod-eu"])
def test_exec_is_allowed_outside_the_listed_namespaces(starter_client: Client, ns: str) -> None:
    assert starter_client.review(exec_review(ns), namespace=namespace(ns)).results == []


def test_exempt_user_may_exec_in_production(starter_client: Client) -> None:
    review = exec_review("production", user="system:serviceaccount:ops:break-glass")
    assert starter_client.review(review, namespace=namespace("production")).allowed


def test_exec_namespace_can_come_from_the_inventory(starter_client: Client) -> None:
    starter_client.add_data(namespace("prod-us"))
    assert not starter_client.review(exec_review("prod-us")).allowed


def test_exec_without_any_namespace_object_is_not_filtered_by_namespaces(starter_client: Client) -> None:
    # Gatekeeper's matcher treats an object with no namespace and no Namespace as cluster-scoped, and the
    # namespaces list does not filter those: the constraint applies. Pinned so a change is noticed.
    assert not starter_client.review(exec_review("dev")).allowed


def test_exec_requests_are_matched_by_the_options_kind_not_pod(starter_client: Client) -> None:
    # A Pod CREATE in production is not an exec: the exec constraint does not match Pods.
    review = admission_review(
        "CREATE", pod("app", "production", containers=[{"name": "a", "image": "registry.example.com/a"}])
    )
    assert starter_client.review(review, namespace=namespace("production")).results == []


# -- images only from allowed registries: containers, initContainers, ephemeralContainers ---------------


def test_each_container_list_is_checked(starter_client: Client) -> None:
    bad = pod(
        "mixed",
        "shop",
        containers=[{"name": "ok", "image": "registry.example.com/shop/web:1"}, {"name": "hub", "image": "nginx:1.27"}],
        initContainers=[{"name": "init", "image": "quay.io/tools/init:3"}],
        ephemeralContainers=[{"name": "dbg", "image": "docker.io/busybox"}],
    )
    responses = starter_client.review(admission_review("CREATE", bad), namespace=namespace("shop"))
    assert not responses.allowed
    details = sorted((r.details["container"], r.details["image"]) for r in responses)
    assert details == [("dbg", "docker.io/busybox"), ("hub", "nginx:1.27"), ("init", "quay.io/tools/init:3")]
    allowed_list = '["registry.example.com/", "ghcr.io/example-org/"]'
    expected = (
        "[allowed-registries] initContainers <init> has image <quay.io/tools/init:3>, "
        f"which is not from an allowed registry: {allowed_list}"
    )
    assert expected in responses.deny_messages


def test_images_from_allowed_registries_pass(starter_client: Client) -> None:
    good = pod(
        "good",
        "shop",
        containers=[{"name": "a", "image": "registry.example.com/shop/web:1"}],
        initContainers=[{"name": "b", "image": "ghcr.io/example-org/init:2"}],
    )
    assert starter_client.review(admission_review("CREATE", good), namespace=namespace("shop")).results == []


def test_registry_prefix_is_not_a_substring_match(starter_client: Client) -> None:
    sneaky = pod("s", "shop", containers=[{"name": "a", "image": "evil.io/registry.example.com/web"}])
    assert not starter_client.review(sneaky, namespace=namespace("shop")).allowed


def test_excluded_namespaces_are_not_checked(starter_client: Client) -> None:
    system = pod("dns", "kube-system", containers=[{"name": "a", "image": "k8s.gcr.io/coredns"}])
    responses = starter_client.review(admission_review("CREATE", system), namespace=namespace("kube-system"))
    assert responses.results == []


# -- a namespaceSelector constraint that applies only in labelled namespaces -----------------------------

ENFORCED = namespace("payments", {"policy.example.com/enforce": "true"})
RELAXED = namespace("sandbox")


def unlabelled_pod(ns: str) -> dict:
    return pod("w", ns, containers=[{"name": "a", "image": "registry.example.com/a"}])


def test_namespace_selector_applies_in_labelled_namespace(starter_client: Client) -> None:
    responses = starter_client.review(admission_review("CREATE", unlabelled_pod("payments")), namespace=ENFORCED)
    assert responses.allowed  # the constraint is in warn mode
    assert responses.warnings == ['[team-label-in-enforced-namespaces] Pod w is missing the required labels {"team"}']


def test_namespace_selector_skips_unlabelled_namespace(starter_client: Client) -> None:
    assert starter_client.review(admission_review("CREATE", unlabelled_pod("sandbox")), namespace=RELAXED).results == []


def test_namespace_selector_uses_namespaces_from_the_inventory(starter_client: Client) -> None:
    starter_client.add_data(ENFORCED)
    starter_client.add_data(RELAXED)
    assert len(starter_client.review(unlabelled_pod("payments")).warnings) == 1
    assert starter_client.review(unlabelled_pod("sandbox")).results == []


def test_namespace_selector_with_unknown_namespace_autorejects(starter_client: Client) -> None:
    [result] = starter_client.review(unlabelled_pod("nowhere")).results
    assert result.constraint.name == "team-label-in-enforced-namespaces"
    assert result.msg.endswith("namespace selector for namespace-scoped object but missing Namespace")


def test_label_value_pattern_is_checked_in_enforced_namespaces(starter_client: Client) -> None:
    labelled = pod(
        "w", "payments", labels={"team": "Payments"}, containers=[{"name": "a", "image": "registry.example.com/a"}]
    )
    responses = starter_client.review(labelled, namespace=ENFORCED)
    assert responses.warnings == [
        "[team-label-in-enforced-namespaces] label team=Payments does not match ^[a-z][a-z0-9-]*$"
    ]
