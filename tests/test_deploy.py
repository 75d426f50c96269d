"""deploy/: the manifests parse, and the webhook's own Pods meet the restricted Pod Security Standard."""

from __future__ import annotations

import yaml
from conftest import REPO

from gatekeeper_py.cli.gator_test import run_test

DEPLOY = REPO / "deploy"


def test_every_manifest_parses_and_names_its_kind() -> None:
    docs = [doc for path in sorted(DEPLOY.rglob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]
    kinds = {doc["kind"] for doc in docs}
    assert {"Namespace", "Deployment", "Service", "ValidatingWebhookConfiguration", "Secret"} <= kinds
    webhook = next(doc for doc in docs if doc["kind"] == "ValidatingWebhookConfiguration")
    rules = [rule for hook in webhook["webhooks"] for rule in hook["rules"]]
    assert any("CONNECT" in r["operations"] and {"pods/exec", "pods/attach"} <= set(r["resources"]) for r in rules)
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] >= 2


def test_the_webhook_pods_pass_the_restricted_profile() -> None:
    inputs = [REPO / "library/pod-security/restricted", REPO / "library/expansion/workloads/expansion.yaml"]
    run = run_test([str(p) for p in inputs] + [str(DEPLOY / "deployment.yaml")], "auto")
    assert run.errors == []
    assert [r.msg for _, r in run.results] == []
