"""Builders for templates, constraints, objects and admission requests used across the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gatekeeper_py import Client
from gatekeeper_py.loader import read_paths

REPO = Path(__file__).resolve().parent.parent
# Compiled templates are cached in a directory of this session's (the CLI runs it starts inherit it), never in
# the user's cache.
os.environ["GATEKEEPER_PY_CACHE_DIR"] = tempfile.mkdtemp(prefix="gatekeeper-py-test-cache-")
pytest_plugins = ["fake_cluster"]  # the fake_cluster fixture


def record_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, note: Callable[..., Any]) -> list[Any]:
    """From now on, each call of `owner.name` is carried out as before and noted, as `note(*its arguments)`, in
    the list returned (for a method, the arguments start with the instance)."""
    noted: list[Any] = []
    original = getattr(owner, name)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        noted.append(note(*args, **kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return noted


def run_cli(*args: str, stdin: str | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """`gatekeeper-py ARGS...` in a fresh process, as a user runs it; stdin is `stdin` piped in, or /dev/null
    (never the test runner's own stdin, which the CLI would read when it is a pipe)."""
    return subprocess.run(
        [sys.executable, "-m", "gatekeeper_py", *args],
        capture_output=True,
        text=True,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        timeout=600,
        cwd=cwd,
    )


def template(
    kind: str,
    rego: str,
    *,
    schema: dict[str, Any] | None = None,
    operations: list[str] | None = None,
    libs: list[str] | None = None,
    version: str = "v1",
) -> dict[str, Any]:
    """A ConstraintTemplate manifest (templates.gatekeeper.sh/v1) with one Rego source."""
    source: dict[str, Any] = {"rego": rego}
    if version:
        source["version"] = version
    if libs:
        source["libs"] = libs
    target: dict[str, Any] = {"target": "admission.k8s.gatekeeper.sh", "code": [{"engine": "Rego", "source": source}]}
    if operations:
        target["operations"] = operations
    crd: dict[str, Any] = {"names": {"kind": kind}}
    if schema is not None:
        crd["validation"] = {"openAPIV3Schema": schema}
    return {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": kind.lower()},
        "spec": {"crd": {"spec": crd}, "targets": [target]},
    }


def cel_template(kind: str, rego: str | None = None, schema: dict | None = None, **source: Any) -> dict[str, Any]:
    """A template with a CEL source (and a Rego one when `rego` is given)."""
    tmpl = template(kind, rego or "unused", schema=schema)
    code = [{"engine": "K8sNativeValidation", "source": source}]
    if rego:
        code.append(tmpl["spec"]["targets"][0]["code"][0])
    tmpl["spec"]["targets"][0]["code"] = code
    return tmpl


def constraint(
    kind: str,
    name: str,
    *,
    match: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    action: str | None = None,
    scoped: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if match is not None:
        spec["match"] = match
    if parameters is not None:
        spec["parameters"] = parameters
    if action is not None:
        spec["enforcementAction"] = action
    if scoped is not None:
        spec["scopedEnforcementActions"] = scoped
    return {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def pod(name: str, namespace: str = "default", *, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels is not None:
        meta["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec or {"containers": [{"name": "c", "image": "x"}]},
    }


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def admission_review(
    operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None = None, **request: Any
) -> dict[str, Any]:
    """An admission.k8s.io/v1 AdmissionReview for `obj` (and `old`), with extra request fields."""
    req = admission_request(operation, obj, old, **request)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


def admission_request(
    operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None = None, **request: Any
) -> dict[str, Any]:
    """An AdmissionRequest for `obj` (and `old`); `request` overrides or adds fields."""
    subject = obj or old or {}
    meta = subject.get("metadata", {})
    group, _, version = subject.get("apiVersion", "v1").rpartition("/")
    req: dict[str, Any] = {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": subject.get("kind", "")},
        "resource": {"group": group, "version": version, "resource": subject.get("kind", "").lower() + "s"},
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "operation": operation,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": old,
    }
    req.update(request)
    return req


def exec_review(
    namespace_name: str, pod_name: str = "app", *, subresource: str = "exec", user: str = "alice"
) -> dict[str, Any]:
    """A CONNECT AdmissionReview for `kubectl exec` (or attach) into a pod."""
    kind = "PodExecOptions" if subresource == "exec" else "PodAttachOptions"
    options = {"apiVersion": "v1", "kind": kind, "stdin": True, "stdout": True, "tty": True, "container": "app"}
    if subresource == "exec":
        options["command"] = ["sh"]
    review = admission_review("CONNECT", options, subResource=subresource)
    review["request"].update(
        name=pod_name,
        namespace=namespace_name,
        kind={"group": "", "version": "v1", "kind": kind},
        resource={"group": "", "version": "v1", "resource": "pods"},
        userInfo={"username": user},
    )
    return review


V0_TEMPLATES = REPO / "tests" / "data" / "v0-templates"
V1_TEMPLATES = REPO / "tests" / "data" / "v1-templates"
SCENARIO_CONSTRAINTS = REPO / "tests" / "data" / "scenario-constraints"
EXAMPLES = REPO / "tests" / "data" / "examples"


@pytest.fixture(params=["v1", "v0"])
def starter_client(request: pytest.FixtureRequest) -> Client:
    """A webhook Client with the scenario constraints and either their templates in Rego v1
    (tests/data/v1-templates) or the same policies in Rego v0, as Gatekeeper's documentation writes them
    (tests/data/v0-templates)."""
    templates = V1_TEMPLATES if request.param == "v1" else V0_TEMPLATES
    client = Client()
    assert client.add_policies(read_paths([templates, SCENARIO_CONSTRAINTS])) == []
    assert all(t.rego.version == request.param for t in client.templates.values())
    return client
