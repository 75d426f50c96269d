"""spec.match (gatekeeper-semantics.md section 2) and label selectors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatekeeper_py.errors import MatchError
from gatekeeper_py.labels import selector_matches, selector_problems
from gatekeeper_py.match import generate_name_matches, object_matches, review_matches, selected_kinds, wildcard_matches
from gatekeeper_py.review import GENERATED, ORIGINAL, Review, review_object, review_request

# --------------------------------------------------------------------------------------------------
# Builders


def make(
    kind: str = "Pod",
    name: str | None = "web",
    namespace: str | None = "default",
    *,
    api_version: str = "v1",
    labels: dict[str, str] | None = None,
    generate_name: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if name is not None:
        meta["name"] = name
    if namespace is not None:
        meta["namespace"] = namespace
    if labels is not None:
        meta["labels"] = labels
    if generate_name is not None:
        meta["generateName"] = generate_name
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def pod(namespace: str | None = "default", **kw: Any) -> dict[str, Any]:
    return make("Pod", kw.pop("name", "web"), namespace, **kw)


def deployment(api_version: str = "apps/v1") -> dict[str, Any]:
    return make("Deployment", "web", "default", api_version=api_version)


def ns_obj(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return make("Namespace", name, None, labels=labels)


def cluster_role() -> dict[str, Any]:
    return make("ClusterRole", "admin", None, api_version="rbac.authorization.k8s.io/v1")


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        out["values"] = list(values)
    return out


def selector(*exprs: dict[str, Any], **match_labels: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if match_labels:
        out["matchLabels"] = match_labels
    if exprs:
        out["matchExpressions"] = list(exprs)
    return out


# --------------------------------------------------------------------------------------------------
# Wildcards


@pytest.mark.parametrize(
    ("pattern", "candidate", "expected"),
    [
        ("web", "web", True),
        ("web", "web2", False),
        ("web", "Web", False),
        ("", "", True),
        ("", "x", False),
        ("kube-*", "kube-system", True),
        ("kube-*", "kube-", True),
        ("kube-*", "my-kube-system", False),
        ("*-system", "kube-system", True),
        ("*-system", "kube-system-2", False),
        ("*ub*", "kube", True),
        ("*ub*", "ub", True),
        ("*ub*", "abc", False),
        ("*", "", True),
        ("*", "anything", True),
    ],
)
def test_wildcard_matches(pattern: str, candidate: str, expected: bool) -> None:
    assert wildcard_matches(pattern, candidate) is expected


@pytest.mark.parametrize(
    ("pattern", "generate_name", "expected"),
    [
        ("web-*", "web-", True),
        ("web-*", "web-abc-", True),
        ("web-*", "api-", False),
        ("*eb*", "web-", True),
        ("*eb*", "api-", False),
        ("*-", "web-", False),  # suffix: the generated tail is unknown
        ("web-", "web-", False),  # exact: the generated name is longer
        ("web-*", "", False),
        ("*eb*", "", False),
    ],
)
def test_generate_name_matches(pattern: str, generate_name: str, expected: bool) -> None:
    assert generate_name_matches(pattern, generate_name) is expected


@given(st.text(), st.text(), st.text())
def test_wildcard_prefix_suffix_infix_property(a: str, b: str, c: str) -> None:
    assert wildcard_matches(a + "*", a + b) is True
    assert wildcard_matches("*" + b, a + b) is True
    assert wildcard_matches("*" + b + "*", a + b + c) is True
    assert wildcard_matches("*", a) is True


@given(st.text(alphabet="abc-", min_size=1), st.text(alphabet="abc-", min_size=1))
def test_wildcard_without_star_is_equality(a: str, b: str) -> None:
    assert wildcard_matches(a, b) is (a == b)


# --------------------------------------------------------------------------------------------------
# kinds

APPS_DEPLOYMENT = [{"apiGroups": ["apps"], "kinds": ["Deployment"]}]


@pytest.mark.parametrize(
    ("kinds", "obj", "expected"),
    [
        ([], pod(), True),
        ([{"apiGroups": [""], "kinds": ["Pod"]}], pod(), True),
        (APPS_DEPLOYMENT, deployment(), True),
        (APPS_DEPLOYMENT, deployment("apps/v1beta1"), True),  # no version matching
        ([{"apiGroups": [""], "kinds": ["Deployment"]}], deployment(), False),  # group is "apps"
        ([{"apiGroups": ["apps"], "kinds": ["Pod"]}], pod(), False),  # "v1" is the core group ""
        ([{"apiGroups": ["*"], "kinds": ["Deployment"]}], deployment(), True),
        ([{"apiGroups": ["*"], "kinds": ["Pod"]}], pod(), True),
        ([{"kinds": ["Deployment"]}], deployment(), True),  # no apiGroups: any group
        ([{"apiGroups": ["apps"], "kinds": ["*"]}], deployment(), True),
        ([{"apiGroups": ["apps"]}], deployment(), True),  # no kinds: any kind
        ([{"apiGroups": ["apps"], "kinds": ["deployment"]}], deployment(), False),  # case-sensitive kind
        ([{"apiGroups": ["Apps"], "kinds": ["Deployment"]}], deployment(), False),  # case-sensitive group
        ([{"apiGroups": ["apps"], "kinds": ["StatefulSet"]}], deployment(), False),
        ([{"apiGroups": [""], "kinds": ["Pod"]}, *APPS_DEPLOYMENT], deployment(), True),  # any entry
        (  # group and kind must come from the same entry
            [{"apiGroups": ["apps"], "kinds": ["Pod"]}, {"apiGroups": [""], "kinds": ["Deployment"]}],
            deployment(),
            False,
        ),
    ],
)
def test_kinds(kinds: list[dict[str, Any]], obj: dict[str, Any], expected: bool) -> None:
    assert object_matches({"kinds": kinds}, obj, None) is expected


# --------------------------------------------------------------------------------------------------
# scope

SOME_NS = ns_obj("default", {"env": "prod"})


@pytest.mark.parametrize(
    ("scope", "obj", "ns", "expected"),
    [
        ("Cluster", cluster_role(), None, True),
        ("Cluster", ns_obj("prod"), None, True),
        ("Cluster", ns_obj("prod"), SOME_NS, True),  # a Namespace is cluster-scoped regardless of ns
        ("Cluster", pod(), None, False),
        ("Cluster", pod(), SOME_NS, False),
        ("Cluster", pod(namespace=None), SOME_NS, False),  # ns given: has a namespace
        ("Cluster", cluster_role(), SOME_NS, False),  # gator's non-nil ns quirk
        ("Namespaced", pod(), None, True),
        ("Namespaced", pod(namespace=None), SOME_NS, True),
        ("Namespaced", pod(namespace=None), None, False),
        ("Namespaced", cluster_role(), None, False),
        ("Namespaced", cluster_role(), SOME_NS, True),
        ("Namespaced", ns_obj("prod"), SOME_NS, False),
        ("*", pod(), None, True),
        ("*", cluster_role(), None, True),
        ("", ns_obj("prod"), None, True),
        ("cluster", pod(), None, True),  # a typo is not an error: it matches everything
        ("Namespace", cluster_role(), None, True),
    ],
)
def test_scope(scope: str, obj: dict[str, Any], ns: dict[str, Any] | None, expected: bool) -> None:
    assert object_matches({"scope": scope}, obj, ns) is expected


def test_scope_namespace_kind_in_other_group_is_not_a_namespace() -> None:
    obj = make("Namespace", "x", None, api_version="example.com/v1")
    assert object_matches({"scope": "Cluster"}, obj, None) is True  # cluster-scoped: no namespace
    assert object_matches({"scope": "Namespaced"}, obj, SOME_NS) is True  # not a core Namespace


# --------------------------------------------------------------------------------------------------
# namespaces / excludedNamespaces


@pytest.mark.parametrize(
    ("patterns", "obj", "ns", "expected"),
    [
        ([], pod("dev"), None, True),
        (["prod"], pod("prod"), None, True),
        (["prod"], pod("dev"), None, False),
        (["prod-*"], pod("prod-eu"), None, True),
        (["*-eu"], pod("prod-eu"), None, True),
        (["*od*"], pod("prod-eu"), None, True),
        (["*-us"], pod("prod-eu"), None, False),
        (["dev", "prod"], pod("prod"), None, True),
        (["prod"], ns_obj("prod"), None, True),  # a Namespace uses its own name
        (["prod"], ns_obj("dev"), None, False),
        (["prod"], ns_obj("dev"), ns_obj("prod"), False),  # ... not the ns
        (["prod"], cluster_role(), None, True),  # cluster-scoped objects are not filtered out
        (["prod"], pod("dev"), ns_obj("prod"), True),  # ns name is preferred over metadata.namespace
        (["dev"], pod("dev"), ns_obj("prod"), False),
        (["prod"], cluster_role(), {}, False),  # an empty non-nil ns gives the candidate ""
    ],
)
def test_namespaces(patterns: list[str], obj: dict[str, Any], ns: dict[str, Any] | None, expected: bool) -> None:
    assert object_matches({"namespaces": patterns}, obj, ns) is expected


@pytest.mark.parametrize(
    ("patterns", "obj", "ns", "expected"),
    [
        ([], pod("kube-system"), None, True),
        (["kube-*"], pod("kube-system"), None, False),
        (["kube-*"], pod("default"), None, True),
        (["*-system"], pod("kube-system"), None, False),
        (["*ube*"], pod("kube-system"), None, False),
        (["kube-system"], ns_obj("kube-system"), None, False),  # a Namespace uses its own name
        (["kube-system"], ns_obj("default"), ns_obj("kube-system"), True),
        (["kube-*"], cluster_role(), None, True),  # cluster-scoped objects are not filtered out
        (["kube-*"], pod("default"), ns_obj("kube-public"), False),  # ns name preferred
        (["kube-*"], pod("kube-public"), ns_obj("default"), True),
        (["*"], cluster_role(), {}, False),
    ],
)
def test_excluded_namespaces(
    patterns: list[str], obj: dict[str, Any], ns: dict[str, Any] | None, expected: bool
) -> None:
    assert object_matches({"excludedNamespaces": patterns}, obj, ns) is expected


def test_namespaces_and_excluded_namespaces_both_apply() -> None:
    match = {"namespaces": ["prod-*"], "excludedNamespaces": ["prod-test"]}
    assert object_matches(match, pod("prod-eu"), None) is True
    assert object_matches(match, pod("prod-test"), None) is False
    assert object_matches(match, pod("dev"), None) is False


# --------------------------------------------------------------------------------------------------
# labelSelector

TIER_IN = expr("tier", "In", "a", "b")
TIER_NOT_IN = expr("tier", "NotIn", "a", "b")


@pytest.mark.parametrize(
    ("sel", "labels", "expected"),
    [
        (selector(app="web"), {"app": "web"}, True),
        (selector(app="web"), {"app": "web", "x": "y"}, True),
        (selector(app="web"), {"app": "api"}, False),
        (selector(app="web"), None, False),
        (selector(TIER_IN), {"tier": "b"}, True),
        (selector(TIER_IN), {"tier": "c"}, False),
        (selector(TIER_IN), {}, False),
        (selector(TIER_NOT_IN), {"tier": "c"}, True),
        (selector(TIER_NOT_IN), {"tier": "a"}, False),
        (selector(TIER_NOT_IN), {}, True),  # absent key satisfies NotIn
        (selector(TIER_NOT_IN), None, True),
        (selector(expr("tier", "Exists")), {"tier": "x"}, True),
        (selector(expr("tier", "Exists")), {"tier": ""}, True),
        (selector(expr("tier", "Exists")), {"app": "x"}, False),
        (selector(expr("tier", "DoesNotExist")), {"app": "x"}, True),
        (selector(expr("tier", "DoesNotExist")), {"tier": "x"}, False),
        ({}, None, True),  # an empty selector matches everything
        ({}, {"a": "b"}, True),
        ({"matchLabels": {}, "matchExpressions": []}, {"a": "b"}, True),
        # matchLabels and every expression are ANDed
        (selector(expr("tier", "Exists"), app="web"), {"app": "web"}, False),
        (selector(expr("tier", "Exists"), app="web"), {"tier": "x"}, False),
        (selector(expr("tier", "Exists"), app="web"), {"app": "web", "tier": "x"}, True),
        (selector(TIER_IN, expr("env", "DoesNotExist")), {"tier": "a"}, True),
        (selector(TIER_IN, expr("env", "DoesNotExist")), {"tier": "a", "env": "p"}, False),
        (selector(app="web", team="a"), {"app": "web"}, False),
    ],
)
def test_label_selector(sel: dict[str, Any], labels: dict[str, str] | None, expected: bool) -> None:
    assert object_matches({"labelSelector": sel}, pod(labels=labels), None) is expected
    assert selector_matches(sel, labels) is expected


def test_label_selector_absent_matches() -> None:
    assert object_matches({"labelSelector": None}, pod(), None) is True


@pytest.mark.parametrize(
    ("sel", "fragment"),
    [
        (selector(expr("tier", "in", "a")), '"in" is not a valid label selector operator'),  # case-sensitive
        (selector(expr("tier", "Foo")), '"Foo" is not a valid label selector operator'),
        (selector(expr("tier", "In")), "values set can't be empty"),
        (selector(expr("tier", "Exists", "a")), "values set must be empty"),
    ],
)
def test_label_selector_invalid_is_a_match_error(sel: dict[str, Any], fragment: str) -> None:
    with pytest.raises(MatchError) as info:
        object_matches({"labelSelector": sel}, pod(labels={"tier": "a"}), None)
    assert info.value.reason.startswith("failed to run Match criteria: ")
    assert fragment in info.value.reason


# --------------------------------------------------------------------------------------------------
# namespaceSelector

PROD = selector(env="prod")


@pytest.mark.parametrize(
    ("obj", "ns", "expected"),
    [
        (ns_obj("prod", {"env": "prod"}), None, True),  # a Namespace is matched on its own labels
        (ns_obj("dev", {"env": "dev"}), None, False),
        (ns_obj("dev", {"env": "dev"}), ns_obj("x", {"env": "prod"}), False),
        (ns_obj("prod", {"env": "prod"}), ns_obj("x", {"env": "dev"}), True),
        (cluster_role(), None, True),  # cluster-scoped: not filtered out
        (pod(), ns_obj("default", {"env": "prod"}), True),
        (pod(), ns_obj("default", {"env": "dev"}), False),
        (pod(), ns_obj("default"), False),
        (pod(namespace=None), ns_obj("default", {"env": "prod"}), True),
        (pod("other"), ns_obj("default", {"env": "prod"}), True),  # ns labels, whatever the name
        (cluster_role(), {}, False),  # gator's empty ns: an empty label set
    ],
)
def test_namespace_selector(obj: dict[str, Any], ns: dict[str, Any] | None, expected: bool) -> None:
    assert object_matches({"namespaceSelector": PROD}, obj, ns) is expected


def test_namespace_selector_empty_matches_any_namespace() -> None:
    assert object_matches({"namespaceSelector": {}}, pod(), ns_obj("default")) is True


def test_namespace_selector_namespaced_object_without_ns_is_an_error() -> None:
    with pytest.raises(MatchError) as info:
        object_matches({"namespaceSelector": PROD}, pod(), None)
    assert info.value.reason == (
        "failed to run Match criteria: namespace selector for namespace-scoped object but missing Namespace"
    )


def test_namespace_selector_invalid_is_a_match_error() -> None:
    with pytest.raises(MatchError, match="is not a valid label selector operator"):
        object_matches({"namespaceSelector": selector(expr("env", "Bad"))}, pod(), ns_obj("default"))


# --------------------------------------------------------------------------------------------------
# name


@pytest.mark.parametrize(
    ("pattern", "obj", "expected"),
    [
        ("", pod(), True),
        ("web", pod(), True),
        ("web", pod(name="web-1"), False),
        ("web-*", pod(name="web-1"), True),
        ("*-1", pod(name="web-1"), True),
        ("*eb*", pod(name="web-1"), True),
        ("api-*", pod(name="web-1"), False),
        ("web-*", pod(name=None, generate_name="web-"), True),
        ("*eb*", pod(name=None, generate_name="web-"), True),
        ("*-", pod(name=None, generate_name="web-"), False),  # suffix form: not decided by generateName
        ("web-", pod(name=None, generate_name="web-"), False),  # exact form neither
        ("api-*", pod(name=None, generate_name="web-"), False),
        ("web-*", pod(name="x-abc", generate_name="web-"), True),  # name OR generateName
        ("x-*", pod(name="x-abc", generate_name="web-"), True),
        ("*", pod(name=None), True),
    ],
)
def test_name(pattern: str, obj: dict[str, Any], expected: bool) -> None:
    assert object_matches({"name": pattern}, obj, None) is expected


# --------------------------------------------------------------------------------------------------
# source


@pytest.mark.parametrize(
    ("wanted", "source", "expected"),
    [
        (None, ORIGINAL, True),
        (None, GENERATED, True),
        (None, "", True),  # the default is All
        ("All", "", True),
        ("All", GENERATED, True),
        ("Original", ORIGINAL, True),
        ("Original", GENERATED, False),
        ("Generated", GENERATED, True),
        ("Generated", ORIGINAL, False),
    ],
)
def test_source(wanted: str | None, source: str, expected: bool) -> None:
    match = {} if wanted is None else {"source": wanted}
    assert object_matches(match, pod(), None, source) is expected


def test_source_defaults_to_original_review() -> None:
    assert object_matches({"source": "Original"}, pod(), None) is True
    assert object_matches({"source": "Generated"}, pod(), None) is False


@pytest.mark.parametrize("wanted", ["Original", "Generated"])
def test_source_missing_on_review_is_an_error(wanted: str) -> None:
    with pytest.raises(MatchError) as info:
        object_matches({"source": wanted}, pod(), None, "")
    assert info.value.reason == "failed to run Match criteria: source field not specified for resource web"


# --------------------------------------------------------------------------------------------------
# All criteria, order and short-circuit


def test_empty_match_matches_everything() -> None:
    for obj in (pod(), cluster_role(), ns_obj("x"), deployment()):
        assert object_matches({}, obj, None) is True


def test_all_criteria_together() -> None:
    match = {
        "kinds": [{"apiGroups": [""], "kinds": ["Pod"]}],
        "scope": "Namespaced",
        "namespaces": ["prod-*"],
        "excludedNamespaces": ["prod-test"],
        "labelSelector": selector(app="web"),
        "namespaceSelector": PROD,
        "name": "web*",
        "source": "Original",
    }
    ns = ns_obj("prod-eu", {"env": "prod"})
    good = pod("prod-eu", labels={"app": "web"})
    assert object_matches(match, good, ns) is True
    assert object_matches(match, pod("prod-eu", labels={"app": "api"}), ns) is False
    assert object_matches(match, good, ns_obj("prod-eu", {"env": "dev"})) is False
    assert object_matches(match, good, ns, GENERATED) is False
    assert object_matches({**match, "name": "api"}, good, ns) is False


@pytest.mark.parametrize(
    ("match", "obj"),
    [
        # kinds fails before namespaceSelector would raise (ns is None)
        ({"kinds": [{"kinds": ["Deployment"]}], "namespaceSelector": PROD}, pod()),
        # scope fails first
        ({"scope": "Cluster", "namespaceSelector": PROD}, pod()),
        # namespaces fails first
        ({"namespaces": ["prod"], "namespaceSelector": PROD}, pod("dev")),
        # labelSelector fails first
        ({"labelSelector": selector(app="api"), "namespaceSelector": PROD}, pod(labels={"app": "web"})),
        # kinds fails before an invalid labelSelector
        ({"kinds": [{"kinds": ["Deployment"]}], "labelSelector": selector(expr("a", "Bad"))}, pod()),
        # name fails before source would raise (no source on the review)
        ({"name": "other", "source": "Original"}, pod()),
    ],
)
def test_first_failing_criterion_short_circuits(match: dict[str, Any], obj: dict[str, Any]) -> None:
    assert object_matches(match, obj, None, "") is False


def test_first_error_aborts_even_if_a_later_criterion_fails() -> None:
    match = {"labelSelector": selector(expr("a", "Bad")), "name": "other"}
    with pytest.raises(MatchError, match="not a valid label selector operator"):
        object_matches(match, pod(), None)


# --------------------------------------------------------------------------------------------------
# review_matches


def update(new: dict[str, Any], old: dict[str, Any]) -> Review:
    return review_request({"operation": "UPDATE", "object": new, "oldObject": old})


def test_review_matches_none_match() -> None:
    assert review_matches(None, review_object(pod()), None) is True
    assert review_matches(None, review_object(pod(), source=""), None) is True


def test_review_matches_plain_object() -> None:
    review = review_object(pod(labels={"app": "web"}))
    assert review_matches({"labelSelector": selector(app="web")}, review, None) is True
    assert review_matches({"labelSelector": selector(app="api")}, review, None) is False


def test_review_matches_old_object_on_update() -> None:
    match = {"labelSelector": selector(app="web")}
    new, old = pod(labels={"app": "api"}), pod(labels={"app": "web"})
    assert review_matches(match, update(new, old), None) is True  # moved out of the selection
    assert review_matches(match, update(old, new), None) is True
    assert review_matches(match, update(new, new), None) is False


def test_review_matches_delete() -> None:
    review = review_object(pod(labels={"app": "web"}), operation="DELETE")
    assert review_matches({"labelSelector": selector(app="web")}, review, None) is True
    review = review_request({"operation": "DELETE", "oldObject": pod(labels={"app": "web"})})
    assert review_matches({"labelSelector": selector(app="web")}, review, None) is True
    assert review_matches({"labelSelector": selector(app="api")}, review, None) is False


def test_review_matches_uses_given_namespace() -> None:
    review = review_object(pod())
    assert review_matches({"namespaceSelector": PROD}, review, ns_obj("default", {"env": "prod"})) is True
    assert review_matches({"namespaceSelector": PROD}, review, ns_obj("default", {"env": "dev"})) is False


def test_review_matches_uses_review_source() -> None:
    match = {"source": "Original"}
    assert review_matches(match, review_object(pod(), source=ORIGINAL), None) is True
    assert review_matches(match, review_object(pod(), source=GENERATED), None) is False


def test_review_matches_wraps_errors() -> None:
    with pytest.raises(MatchError) as info:
        review_matches({"namespaceSelector": PROD}, review_object(pod(name="app-1")), None)
    assert info.value.reason == (
        "error matching the requested object: app-1 :failed to run Match criteria: "
        "namespace selector for namespace-scoped object but missing Namespace"
    )


def test_review_matches_wraps_source_error() -> None:
    with pytest.raises(MatchError) as info:
        review_matches({"source": "Generated"}, review_object(pod(), source=""), None)
    assert info.value.reason.startswith("error matching the requested object: web :failed to run Match criteria:")
    assert info.value.reason.endswith("source field not specified for resource web")


def test_review_matches_without_any_object() -> None:
    review = Review(request={"operation": "UPDATE", "object": None, "oldObject": None})
    with pytest.raises(MatchError, match="neither object nor old object are defined"):
        review_matches({}, review, None)


# --------------------------------------------------------------------------------------------------
# labels.selector_problems


@pytest.mark.parametrize(
    "sel",
    [
        None,
        {},
        {"matchLabels": {"app": "web", "example.com/team": "a-b_c.d", "empty": ""}},
        selector(
            expr("tier", "In", "a"),
            expr("tier", "NotIn", "b", "c"),
            expr("app.kubernetes.io/name", "Exists"),
            expr("x", "DoesNotExist"),
        ),
        {"matchLabels": {"k" * 63: "v" * 63}},
    ],
)
def test_selector_problems_valid(sel: dict[str, Any] | None) -> None:
    assert selector_problems(sel) == []


@pytest.mark.parametrize(
    ("sel", "fragment"),
    [
        (selector(expr("tier", "Foo")), '"Foo" is not a valid label selector operator'),
        (selector(expr("tier", "exists")), '"exists" is not a valid label selector operator'),
        (selector(expr("tier", "In")), "for 'in', 'notin' operators, values set can't be empty"),
        (
            selector({"key": "tier", "operator": "NotIn", "values": []}),
            "for 'in', 'notin' operators, values set can't be empty",
        ),
        (selector(expr("tier", "Exists", "a")), "values set must be empty for exists and does not exist"),
        (
            selector(expr("tier", "DoesNotExist", "a")),
            "values set must be empty for exists and does not exist",
        ),
        ({"matchLabels": {"bad key": "v"}}, "invalid label key 'bad key'"),
        ({"matchLabels": {"-app": "v"}}, "invalid label key '-app'"),
        ({"matchLabels": {"k" * 64: "v"}}, "invalid label key"),
        ({"matchLabels": {"Bad_Prefix/app": "v"}}, "the prefix must be a DNS subdomain"),
        ({"matchLabels": {"/app": "v"}}, "the prefix must be a DNS subdomain"),
        (selector(expr("bad key", "Exists")), "invalid label key 'bad key'"),
        ({"matchLabels": {"app": "-bad"}}, "invalid label value '-bad'"),
        ({"matchLabels": {"app": "v" * 64}}, "invalid label value"),
        (selector(expr("tier", "In", "has space")), "invalid label value 'has space'"),
    ],
)
def test_selector_problems_invalid(sel: dict[str, Any], fragment: str) -> None:
    problems = selector_problems(sel)
    assert len(problems) == 1
    assert fragment in problems[0]


def test_selector_problems_reports_every_problem() -> None:
    sel = {"matchLabels": {"bad key": "v"}, "matchExpressions": [expr("a", "Foo"), expr("b", "In")]}
    problems = selector_problems(sel)
    assert len(problems) == 3
    assert "invalid label key 'bad key'" in problems[0]
    assert problems[1] == '"Foo" is not a valid label selector operator'
    assert problems[2] == "for 'in', 'notin' operators, values set can't be empty"


@pytest.mark.parametrize(
    ("pattern", "candidate", "expected"),
    [("**x", "*x", True), ("**x", "ax", False), ("x**", "x*", True), ("x**", "xa", False)],
)
def test_wildcard_trims_one_star_at_each_end_like_go(pattern: str, candidate: str, expected: bool) -> None:
    assert wildcard_matches(pattern, candidate) is expected


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        (None, None),
        ({}, None),
        ({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}, {("", "Pod")}),
        (
            {
                "kinds": [
                    {"apiGroups": ["", "apps"], "kinds": ["Pod"]},
                    {"apiGroups": ["apps"], "kinds": ["Deployment"]},
                ]
            },
            {("", "Pod"), ("apps", "Pod"), ("apps", "Deployment")},
        ),
        ({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}, {"apiGroups": ["*"], "kinds": ["Job"]}]}, None),
        ({"kinds": [{"apiGroups": [""], "kinds": []}]}, None),
        ({"kinds": [{"kinds": ["Pod"]}]}, None),
    ],
)
def test_selected_kinds_index_constraints_or_say_any(match: dict | None, expected: set | None) -> None:
    assert selected_kinds(match) == expected
