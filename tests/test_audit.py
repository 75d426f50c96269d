"""`gatekeeper-py audit`: Gatekeeper's per-constraint report from files (the same violations as `test`), its
limit, order and truncation, JSON and PolicyReport output, worker processes, and a live cluster served by a fake
API server on loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import constraint, pod, run_cli, template
from fake_cluster import NAME_REGO, PODS_ONLY

from gatekeeper_py.audit import AuditViolation, summarize, truncate_message
from gatekeeper_py.cli.audit_cmd import run_audit
from gatekeeper_py.loader import load_all


def write_policies(tmp_path: Path, **match: Any) -> Path:
    path = tmp_path / "policies.yaml"
    path.write_text(
        yaml.safe_dump_all(
            [
                template("K8sOwner", NAME_REGO),
                constraint("K8sOwner", "owner", match=match or PODS_ONLY),
                constraint("K8sOwner", "owner-warn", match=match or PODS_ONLY, action="warn"),
            ]
        )
    )
    return path


def write_pods(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "pods.yaml"
    path.write_text(yaml.safe_dump_all([pod(f"p{i:02d}", "ns" if i % 2 else "default") for i in range(count)]))
    return path


def test_audit_from_files_gives_the_same_violations_as_test(tmp_path: Path) -> None:
    files = ["-f", str(write_policies(tmp_path)), "-f", str(write_pods(tmp_path, 5))]
    tested = json.loads(run_cli("test", *files, "-o", "json").stdout)
    audited = run_cli("audit", *files, "-o", "json")
    assert audited.returncode == 1
    report = {c["name"]: c for c in json.loads(audited.stdout)["constraints"]}
    assert report["owner"]["totalViolations"] == report["owner-warn"]["totalViolations"] == 5
    from_test = sorted((r["constraint"]["metadata"]["name"], r["msg"]) for r in tested)
    from_audit = sorted((name, v["message"]) for name, c in report.items() for v in c["violations"])
    assert from_audit == from_test


def test_limit_keeps_the_smallest_and_lists_them_largest_first(tmp_path: Path) -> None:
    files = ["-f", str(write_policies(tmp_path)), "-f", str(write_pods(tmp_path, 7))]
    run = run_cli("audit", *files, "-o", "json", "--constraint-violations-limit", "3")
    [owner] = [c for c in json.loads(run.stdout)["constraints"] if c["name"] == "owner"]
    assert owner["totalViolations"] == 7
    # smallest by (group, version, kind, namespace, name, ...): namespace "default" sorts before "ns"
    assert [(v["namespace"], v["name"]) for v in owner["violations"]] == [
        ("default", "p04"),
        ("default", "p02"),
        ("default", "p00"),
    ]
    assert owner["violations"][0] == {
        "group": "",
        "version": "v1",
        "kind": "Pod",
        "name": "p04",
        "namespace": "default",
        "message": "Pod p04 has no owner label",
        "enforcementAction": "deny",
    }


def test_messages_are_cut_to_256_bytes_as_gatekeeper_does() -> None:
    assert truncate_message("x" * 256) == "x" * 256
    assert truncate_message("x" * 300) == "x" * 253 + "..."
    assert truncate_message("é" * 200).endswith("...") and len(truncate_message("é" * 200).encode()) <= 256 + 3


def test_summarize_counts_every_action_and_keeps_constraints_without_violations() -> None:
    from gatekeeper_py import Client

    client = Client()
    client.add_template(template("K8sOwner", NAME_REGO))
    client.add_constraint(constraint("K8sOwner", "quiet", match={"namespaces": ["nowhere"]}))
    client.add_constraint(constraint("K8sOwner", "dry", action="dryrun"))
    results = [(p, r) for p in (pod("a"), pod("b")) for r in client.review(p)]
    audits = {a.constraint.name: a for a in summarize(client.constraints, results, limit=1)}
    assert (audits["quiet"].total, audits["quiet"].violations) == (0, [])
    assert audits["dry"].total == 2
    assert audits["dry"].violations == [
        AuditViolation("", "v1", "Pod", "default", "a", "Pod a has no owner label", "dryrun")
    ]


def test_policy_reports_per_namespace(tmp_path: Path) -> None:
    files = ["-f", str(write_policies(tmp_path)), "-f", str(write_pods(tmp_path, 3))]
    run = run_cli("audit", *files, "-o", "policyreport")
    reports = list(yaml.safe_load_all(run.stdout))
    assert [(r["kind"], r["metadata"].get("namespace")) for r in reports] == [
        ("PolicyReport", "default"),
        ("PolicyReport", "ns"),
    ]
    default = reports[0]
    assert default["apiVersion"] == "wgpolicyk8s.io/v1alpha2"
    assert default["summary"] == {"pass": 0, "fail": 2, "warn": 2, "error": 0, "skip": 0}
    entry = next(r for r in default["results"] if r["result"] == "fail")
    assert entry["policy"] == "K8sOwner" and entry["rule"] == "owner" and entry["source"] == "gatekeeper-py"
    assert entry["resources"][0] | {"name": "x"} == {
        "apiVersion": "v1",
        "kind": "Pod",
        "namespace": "default",
        "name": "x",
    }


def test_table_output_and_exit_codes(tmp_path: Path) -> None:
    run = run_cli("audit", "-f", str(write_policies(tmp_path)), "-f", str(write_pods(tmp_path, 1)))
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        "K8sOwner/owner  deny  violations: 1",
        "  v1 Pod default/p00: Pod p00 has no owner label",
        "K8sOwner/owner-warn  warn  violations: 1",
        "  v1 Pod default/p00: Pod p00 has no owner label",
    ]
    assert run_cli("audit").returncode == 2


def test_workers_give_the_results_of_one_process(tmp_path: Path) -> None:
    docs, errors = load_all([write_policies(tmp_path), write_pods(tmp_path, 9)])
    assert errors == []
    one = run_audit(docs, "rego", workers=1)
    three = run_audit(docs, "rego", workers=3)
    assert [(d.obj["metadata"]["name"], r.constraint.name, r.msg) for d, r in three.results] == [
        (d.obj["metadata"]["name"], r.constraint.name, r.msg) for d, r in one.results
    ]
    assert len(one.results) == 18


# --- a live cluster (tests/fake_cluster.py) ---


def test_live_cluster_audit_lists_matched_kinds_in_pages(fake_cluster: tuple[Path, list[str]]) -> None:
    kubeconfig, requests = fake_cluster
    run = run_cli("audit", "--cluster", "--kubeconfig", str(kubeconfig), "-o", "json")
    assert run.returncode == 1, run.stderr
    [owner] = json.loads(run.stdout)["constraints"]
    assert owner["totalViolations"] == 3
    assert sorted(v["name"] for v in owner["violations"]) == ["c0", "c1", "c2"]
    assert "/api/v1/pods?limit=500" in requests and "/api/v1/pods?limit=500&continue=page-2" in requests
    assert not any(r.startswith("/api/v1/configmaps") for r in requests)  # no constraint matches ConfigMaps


def test_live_cluster_with_policies_from_files(fake_cluster: tuple[Path, list[str]], tmp_path: Path) -> None:
    kubeconfig, requests = fake_cluster
    policies = write_policies(tmp_path)
    run = run_cli("audit", "--cluster", "--kubeconfig", str(kubeconfig), "-f", str(policies), "-o", "json")
    names = {c["name"]: c["totalViolations"] for c in json.loads(run.stdout)["constraints"]}
    assert names == {"owner": 3, "owner-warn": 3}
    assert not any("constrainttemplates" in r for r in requests)


def test_unreachable_cluster_is_one_clear_error(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    run = run_cli("audit", "--cluster", "--kubeconfig", str(kubeconfig))
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: {kubeconfig}: cannot load the cluster configuration")


def test_a_stalled_api_server_is_one_clear_error_in_bounded_time(fake_cluster: tuple[Path, list[str]]) -> None:
    """The server accepts connections and never answers: each try waits --cluster-timeout, 3 tries, then exit 2."""
    from fake_cluster import fake_cluster as fixture_function

    kubeconfig, requests = fake_cluster
    fixture_function.faults.stall.set()
    started = time.monotonic()
    run = run_cli("audit", "--cluster", "--kubeconfig", str(kubeconfig), "--cluster-timeout", "0.5")
    elapsed = time.monotonic() - started
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("error: cluster: GET /api: no answer in time")
    assert run.stderr.endswith("(after 3 tries)\n") and run.stderr.count("\n") == 1
    assert requests == ["/api"] * 3
    assert elapsed < 20  # 3 x 0.5 s, 1.5 s of back-off, and the interpreter's start


def test_server_errors_are_retried_a_bounded_number_of_times(fake_cluster: tuple[Path, list[str]]) -> None:
    from fake_cluster import fake_cluster as fixture_function

    kubeconfig, requests = fake_cluster
    fixture_function.faults.status["/api/v1/pods"] = 503
    run = run_cli("audit", "--cluster", "--kubeconfig", str(kubeconfig), "-o", "json")
    assert run.returncode == 2
    assert run.stderr == "error: cluster: GET /api/v1/pods: 503 Service Unavailable (after 3 tries)\n"
    assert requests.count("/api/v1/pods?limit=500") == 3


def test_a_forbidden_resource_is_skipped_and_reported(fake_cluster: tuple[Path, list[str]], tmp_path: Path) -> None:
    """A constraint matching every kind, and a role that may not list Secrets: the rest is audited, the gap is
    named on stderr and in the JSON report."""
    from fake_cluster import fake_cluster as fixture_function

    kubeconfig, requests = fake_cluster
    responses = fixture_function.responses
    responses["/api/v1"]["resources"].append(
        {"name": "secrets", "kind": "Secret", "namespaced": True, "verbs": ["get", "list"]}
    )
    responses["/apis/constraints.gatekeeper.sh/v1beta1/k8sowner"]["items"] = [constraint("K8sOwner", "owner")]
    responses["/apis/apps/v1/deployments"] = {"items": [], "metadata": {}}
    fixture_function.faults.status["/api/v1/secrets"] = 403
    run = run_cli("audit", "--cluster", "--kubeconfig", str(kubeconfig), "-o", "json")
    assert run.returncode == 1, run.stderr
    assert run.stderr == ("warning: cluster: v1 Secret (secrets) not audited: GET /api/v1/secrets: 403 Forbidden\n")
    report = json.loads(run.stdout)
    assert report["skipped"] == [{"resource": "v1 Secret (secrets)", "reason": "GET /api/v1/secrets: 403 Forbidden"}]
    [owner] = report["constraints"]
    audited = {(v["kind"], v["name"]) for v in owner["violations"]}
    assert {("Pod", "c0"), ("Pod", "c2"), ("ConfigMap", "never-listed"), ("Namespace", "shop")} <= audited
    assert requests.count("/api/v1/secrets?limit=500") == 1  # a 403 is not retried


def test_constraints_with_malformed_match_do_not_break_the_listing() -> None:
    from gatekeeper_py.cluster import _wanted_kinds

    odd = [
        {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": ["K8sOwner"], "spec": []},
        {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "spec": {"match": {"kinds": ["Pod", {"kinds": "Pod"}]}}},
    ]
    assert _wanted_kinds(odd) == ({("", "Namespace"), ("*", "*")}, True)


def test_constraints_of_a_template_added_later_are_found(
    fake_cluster: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discovery is cached, but a template whose constraint kind it does not know yet triggers a new one (at most
    every REDISCOVER_AFTER seconds), so a long-running `serve --cluster` sees new templates' constraints."""
    from fake_cluster import fake_cluster as fixture_function

    from gatekeeper_py import cluster as cluster_module

    kubeconfig, _ = fake_cluster
    responses = fixture_function.responses
    live = cluster_module.Cluster(str(kubeconfig))
    assert {d.obj["kind"] for d in cluster_module.policy_documents(live)} == {"ConstraintTemplate", "K8sOwner"}
    responses["/apis/templates.gatekeeper.sh/v1/constrainttemplates"]["items"].append(template("K8sNew", NAME_REGO))
    responses["/apis/constraints.gatekeeper.sh/v1beta1"]["resources"].append(
        {"name": "k8snew", "kind": "K8sNew", "namespaced": False, "verbs": ["list"]}
    )
    responses["/apis/constraints.gatekeeper.sh/v1beta1/k8snew"] = {"items": [constraint("K8sNew", "new")]}
    assert "K8sNew" not in {d.obj["kind"] for d in cluster_module.policy_documents(live)}  # discovery is recent
    monkeypatch.setattr(cluster_module, "REDISCOVER_AFTER", 0.0)
    assert "K8sNew" in {d.obj["kind"] for d in cluster_module.policy_documents(live)}
