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
        "message": "[deny-exec-in-production] exec into pod production/app is not allowed for user alice",
    }


def test_readme_example_allows_with_warnings(admit: Admit) -> None:
    obj = pod("w", "payments", containers=[{"name": "a", "image": "registry.example.com/a:1"}])
    answer = admit(admission_review("CREATE", obj), namespace("payments", {"policy.example.com/enforce": "true"}))
    assert answer["response"]["allowed"] is True
    assert answer["response"]["warnings"] == [
        '[team-label-in-enforced-namespaces] Pod w is missing the required labels {"team"}'
    ]
