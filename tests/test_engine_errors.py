"""One error contract for both engines: whatever stops a template's evaluation (an engine error, cel-cpp's
iteration budget, an exception the engine raises, the review's deadline) becomes an error result for the
constraints of that template, naming it and the reason; Client.review raises only ReviewError. And values
Kubernetes' JSON decoder would never hand Gatekeeper are given as it would hand them."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import REPO, cel_template, constraint, pod, template

from gatekeeper_py import Client, ReviewError
from gatekeeper_py.drivers.base import Violation
from gatekeeper_py.drivers.cel import CelDriver
from gatekeeper_py.drivers.rego import RegoDriver
from gatekeeper_py.jsonvalue import as_json
from gatekeeper_py.loader import load_all

ANY_PARAMS = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def validating(kind: str, expression: str, failure_policy: str = "Fail") -> dict[str, Any]:
    """A CEL template with one validation."""
    validations = [{"expression": expression, "message": "failed"}]
    return cel_template(kind, schema=ANY_PARAMS, validations=validations, failurePolicy=failure_policy)


def containers(count: int) -> list[dict[str, Any]]:
    return [{"name": f"c{i}", "image": "registry.example.com/app"} for i in range(count)]


# A million comprehension iterations and more: over Kubernetes' per-call cost limit and cel-cpp's budget alike.
TRIPLE = "object.spec.containers.all(a, object.spec.containers.all(b, object.spec.containers.all(c, true)))"


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
def test_an_exceeded_cel_budget_is_an_error_result_under_the_failure_policy(policy: str) -> None:
    client = Client()
    client.add_template(validating("K8sTriple", TRIPLE, policy))
    client.add_constraint(constraint("K8sTriple", "triple"))
    client.add_template(validating("K8sNamed", "has(object.metadata.name)"))
    client.add_constraint(constraint("K8sNamed", "named"))
    results = list(client.review(pod("big", containers=containers(120))))
    if policy == "Ignore":
        assert results == []
        return
    [result] = results
    assert result.error and result.constraint.name == "triple"
    assert "resulted in error: operation cancelled: iteration budget exceeded" in result.msg
    assert TRIPLE in result.msg


def test_the_budget_is_not_shared_by_the_constraints_of_a_kind() -> None:
    """Each constraint alone stays within the budget; evaluated together in one call they would not."""
    double = "object.spec.containers.all(a, object.spec.containers.all(b, a == b || a.name != b.name))"
    client = Client()
    client.add_template(validating("K8sDouble", double))
    for i in range(4):
        client.add_constraint(constraint("K8sDouble", f"double-{i}", parameters={"i": i}))
    assert list(client.review(pod("p", containers=containers(60)))) == []


@pytest.mark.parametrize("engine", ["auto", "rego"])
def test_an_exception_from_an_engine_becomes_error_results_for_its_kind_only(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(engine=engine)
    for kind in ("K8sFirst", "K8sSecond"):
        client.add_template(validating(kind, "false") if engine == "auto" else template(kind, ALWAYS, version="v0"))
        client.add_constraint(constraint(kind, kind.lower()))
    driver = CelDriver if engine == "auto" else RegoDriver
    original = driver.query

    def failing(self: Any, matched: dict[str, Any], review: dict[str, Any], deadline: Any = None) -> list[Violation]:
        if "K8sFirst" in matched:
            raise RecursionError("maximum recursion depth exceeded")
        return original(self, matched, review, deadline)

    monkeypatch.setattr(driver, "query", failing)
    results = {r.constraint.name: r for r in client.review(pod("p"))}
    assert results["k8sfirst"].error
    assert results["k8sfirst"].msg == "template K8sFirst could not be evaluated: nested too deeply"
    assert not results["k8ssecond"].error


ALWAYS = 'package always\nviolation[{"msg": "always"}] { true }'
SLOW = """package k8sslow
violation[{"msg": msg}] {
  total := count([x | x := numbers.range(1, input.parameters.n)[_]; x % 7 == 0])
  msg := sprintf("%d multiples of 7", [total])
}"""


def test_a_rego_evaluation_past_the_deadline_is_abandoned_and_the_client_goes_on() -> None:
    client = Client(engine="rego", review_timeout=0.3)
    client.add_template(template("K8sSlow", SLOW, schema=ANY_PARAMS, version="v0"))
    client.add_constraint(constraint("K8sSlow", "slow", parameters={"n": 400_000}))
    start = time.monotonic()
    [result] = client.review(pod("p"))
    assert time.monotonic() - start < 2.0
    assert result.error and result.msg.startswith("template K8sSlow was not evaluated: the review's deadline of 0.3s")
    client.add_constraint(constraint("K8sSlow", "slow", parameters={"n": 20}))
    [result] = client.review(pod("p"))  # on a fresh interpreter: the abandoned one is still busy
    assert (result.msg, result.error) == ("2 multiples of 7", False)


def test_review_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="review_timeout"):
        Client(review_timeout=0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\ud800b", "a\ufffdb"),  # a lone surrogate: Go's decoder gives U+FFFD
        ("\udc00", "\ufffd"),
        ("\ud83d\ude00", "\U0001f600"),  # a pair held as two code points is the one character
        ("\U0001f600", "\U0001f600"),
        ("\\ud800", "\\ud800"),  # the text of an escape, not an escape
        ("\\\ud800", "\\\ufffd"),
        (2**63 - 1, 2**63 - 1),
        (-(2**63), -(2**63)),
        (2**63, float(2**63)),  # beyond int64: a float64, as Kubernetes decodes it
        (-(10**30), -1e30),
    ],
)
def test_values_are_reviewed_as_kubernetes_decodes_them(value: Any, expected: Any) -> None:
    reason, decoded = as_json({"v": [value]})
    assert reason is None and decoded == {"v": [expected]} and type(decoded["v"][0]) is type(expected)


def test_values_kubernetes_cannot_decode_are_review_errors() -> None:
    client = Client()
    for value in (10**400, 10**5000, float("nan")):
        with pytest.raises(ReviewError, match="cannot be reviewed"):
            client.review(pod("p", labels={"a": "b"}) | {"data": value})


def test_values_as_they_are_keep_their_identity() -> None:
    obj = {"a": ["x", 1, 2.5, None, "é", "\U0001f600", "1234567890123456789012"]}
    assert as_json(obj)[1] is obj


@pytest.mark.parametrize("engine", ["auto", "rego"])
def test_strings_with_surrogates_are_reviewed_not_rejected(engine: str) -> None:
    client = Client(engine=engine)
    docs, _ = load_all([REPO / "library" / "pod-security" / "privileged"])
    client.add_policies(docs)
    obj = pod("p", containers=[{"name": "a\ud800", "image": "x", "securityContext": {"privileged": True}}])
    [result] = client.review(obj)
    assert not result.error and "a\ufffd" in result.msg
