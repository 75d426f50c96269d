"""`gatekeeper-py test` as a user runs it: a real process, exit codes, stdout for results, stderr for errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO

STARTER = ["-f", str(REPO / "templates"), "-f", str(REPO / "constraints")]


def gatekeeper_py(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gatekeeper_py", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        cwd=REPO,
    )


def test_main_job_on_shipped_defaults_warns_and_exits_zero() -> None:
    run = gatekeeper_py("test", *STARTER, "-f", str(REPO / "examples" / "cluster"))
    assert run.returncode == 0, run.stderr
    assert run.stdout == (
        'v1/Pod payments/worker: ["team-label-in-enforced-namespaces"] Message: '
        '"Pod worker is missing the required labels {\\"team\\"}"\n'
    )
    assert run.stderr == ""


def test_deny_results_exit_one_with_gator_lines() -> None:
    run = gatekeeper_py("test", *STARTER, "-f", str(REPO / "examples"))
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert (
        'v1/Pod payments/debug: ["allowed-registries"] Message: "ephemeralContainers <debugger> has image '
        "<docker.io/library/busybox:1.36>, which is not from an allowed registry: "
        '[\\"registry.example.com/\\", \\"ghcr.io/example-org/\\"]"'
    ) in lines
    assert len(lines) == 3


def test_deny_only_hides_warnings() -> None:
    run = gatekeeper_py("test", *STARTER, "-f", str(REPO / "examples"), "--deny-only")
    assert run.returncode == 1
    assert [line.split(": ")[1] for line in run.stdout.splitlines()] == ['["allowed-registries"] Message']


def test_json_output_is_gator_shaped_and_alone_on_stdout() -> None:
    run = gatekeeper_py("test", *STARTER, "-f", str(REPO / "examples"), "-o", "json")
    assert run.returncode == 1
    results = json.loads(run.stdout)
    assert {r["constraint"]["metadata"]["name"] for r in results} == {
        "allowed-registries",
        "team-label-in-enforced-namespaces",
    }
    deny = next(r for r in results if r["enforcementAction"] == "deny")
    assert deny["target"] == "admission.k8s.gatekeeper.sh"
    assert deny["metadata"] == {"details": {"container": "debugger", "image": "docker.io/library/busybox:1.36"}}
    assert deny["violatingObject"]["metadata"]["name"] == "debug"
    assert run.stdout.startswith("[\n    {")  # four-space indent, as gator prints


def test_yaml_output_parses() -> None:
    run = gatekeeper_py("test", *STARTER, "-f", str(REPO / "examples"), "-o", "yaml")
    assert run.returncode == 1
    results = yaml.safe_load(run.stdout)
    assert [r["enforcementAction"] for r in results] == ["warn", "deny", "warn"]
    assert results[1]["msg"].startswith("ephemeralContainers <debugger>")


def test_objects_from_stdin(tmp_path: Path) -> None:
    pod = (REPO / "examples" / "violations" / "pods.yaml").read_text()
    run = gatekeeper_py(
        "test", *STARTER, "-f", str(REPO / "examples" / "cluster" / "namespaces.yaml"), "-f", "-", stdin=pod
    )
    assert run.returncode == 1
    assert "v1/Pod payments/debug" in run.stdout


def test_bad_input_is_reported_and_the_rest_still_runs(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n")
    bad_template = tmp_path / "bad-template.yaml"
    bad_template.write_text(
        "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: wrongname\n"
        "spec:\n  crd:\n    spec:\n      names:\n        kind: K8sRightName\n"
        "  targets:\n    - target: admission.k8s.gatekeeper.sh\n      rego: 'package x'\n"
    )
    run = gatekeeper_py(
        "test", *STARTER, "-f", str(tmp_path), "-f", str(REPO / "examples" / "violations"), "-o", "json"
    )
    assert run.returncode == 2
    errors = run.stderr.splitlines()
    assert len(errors) == 2
    assert any(str(tmp_path / "broken.yaml") in e and "invalid YAML/JSON at line " in e for e in errors)
    assert any(
        "bad-template.yaml: ConstraintTemplate/wrongname: " in e and "lowercase of CRD's Kind" in e for e in errors
    )
    # the good policies still reviewed the good objects, and stdout is still valid JSON
    names = {r["constraint"]["metadata"]["name"] for r in json.loads(run.stdout)}
    assert names == {"allowed-registries", "team-label-in-enforced-namespaces"}


def test_missing_path_exits_two_with_one_line() -> None:
    run = gatekeeper_py("test", "-f", "does/not/exist.yaml")
    assert run.returncode == 2
    assert run.stderr == "error: does/not/exist.yaml: no such file or directory\n"
    assert run.stdout == ""


def test_version_and_help() -> None:
    assert gatekeeper_py("--version").stdout.startswith("gatekeeper-py ")
    assert "test" in gatekeeper_py("--help").stdout


def test_duplicate_objects_are_warned_about_and_still_reviewed(tmp_path: Path) -> None:
    violations = REPO / "examples" / "violations" / "pods.yaml"
    (tmp_path / "again.yaml").write_text(violations.read_text())
    run = gatekeeper_py("test", *STARTER, "-f", str(violations), "-f", str(tmp_path), "--deny-only")
    assert run.returncode == 1
    assert run.stderr == f"warning: {tmp_path / 'again.yaml'}: duplicate Pod/payments/debug, also in {violations}\n"
    assert len(run.stdout.splitlines()) == 2  # both copies reviewed, as gator does
