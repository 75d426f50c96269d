"""The README's library example runs as written and answers like Gatekeeper's webhook."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import REPO, admission_review, exec_review, namespace, pod

Admit = Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]]


@pytest.fixture(scope="module")
def admit() -> Admit:
    """The `admit` function the README defines, after running its example from the repository root."""
    text = (REPO / "README.md").read_text()
    [example] = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    scope: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        exec(compile(example, "README.md", "exec"), scope)
    return scope["admit"]


def test_readme_example_denies_with_status_and_uid(admit: Admit) -> None:
    review = exec_review("production")
    answer = admit(review, namespace("production"))
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    response = answer["response"]
    assert response["uid"] == review["request"]["uid"]
    assert response["allowed"] is False
    assert response["status"] == {
        "code": 403,
        "reason": "Forbidden",
        "message": '[deny-exec-in-production] exec into pod "production/app" by user "alice" is denied: '
        'namespace "production" is listed in namespaces',
    }


def test_readme_example_allows_with_warnings(admit: Admit) -> None:
    hardened = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    container = {"name": "a", "image": "registry.example.com/a:1", "securityContext": hardened}
    pod_security = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    obj = pod("w", "payments", containers=[container], securityContext=pod_security)
    answer = admit(admission_review("CREATE", obj), namespace("payments", {"policy.example.com/enforce": "true"}))
    assert answer["response"]["allowed"] is True
    assert answer["response"]["warnings"] == [
        '[team-label-in-enforced-namespaces] Pod "payments/w" is missing the required label "team"'
    ]
    # The restricted Pod Security Standard is in warn mode in the starter set: a plain Pod is admitted, warned.
    plain = pod("p", "sandbox", containers=[{"name": "a", "image": "registry.example.com/a:1"}])
    answer = admit(admission_review("CREATE", plain), namespace("sandbox"))
    assert answer["response"]["allowed"] is True
    assert {w.split("]")[0] + "]" for w in answer["response"]["warnings"]} == {
        "[pss-restricted-privilege-escalation]",
        "[pss-restricted-capabilities-restricted]",
        "[pss-restricted-run-as-non-root]",
        "[pss-restricted-seccomp-restricted]",
    }
