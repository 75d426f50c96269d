"""`gatekeeper-py verify`: Suites run as gator runs them, with gator's report, JSON output and exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, admission_review, constraint, namespace, pod, run_cli, template

from gatekeeper_py.model.suite import Assertion
from gatekeeper_py.results import Result
from gatekeeper_py.verify import CaseFailure, RunFilter, check_assertion

NAME_REGO = """package names
violation contains {"msg": sprintf("name %v is too short", [name])} if {
  name := input.review.object.metadata.name
  count(name) < input.parameters.min
}
violation contains {"msg": sprintf("name %v has no team label", [name])} if {
  name := input.review.object.metadata.name
  not input.review.object.metadata.labels.team
}
violation contains {"msg": sprintf("%v is being deleted by %v", [name, input.review.userInfo.username])} if {
  input.review.operation == "DELETE"
  name := input.review.object.metadata.name
}
"""
SCHEMA = {"type": "object", "properties": {"min": {"type": "integer"}}}


def write(path: Path, *docs: object) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs))
    return path.name


def make_suite(root: Path, cases: list[dict], **test: object) -> Path:
    """A suite directory with the name template, a constraint (min 4) and the given cases."""
    write(root / "template.yaml", template("K8sNames", NAME_REGO, schema=SCHEMA))
    write(root / "constraint.yaml", constraint("K8sNames", "names", parameters={"min": 4}))
    write(root / "short.yaml", pod("ab", labels={"team": "x"}))
    write(root / "good.yaml", pod("abcdef", labels={"team": "x"}))
    write(root / "bad-both.yaml", pod("ab"))
    write(root / "delete.yaml", admission_review("DELETE", None, pod("abcdef", labels={"team": "x"})))
    spec = {"name": "names", "template": "template.yaml", "constraint": "constraint.yaml", "cases": cases, **test}
    suite = root / "suite.yaml"
    suite.write_text(
        yaml.safe_dump({"apiVersion": "test.gatekeeper.sh/v1alpha1", "kind": "Suite", "tests": [spec]}, sort_keys=False)
        .replace("'yes'", "yes")
        .replace("'no'", "no")
    )
    return suite


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("verify", *args)


CASES = [
    {"name": "good", "object": "good.yaml", "assertions": [{"violations": "no"}]},
    {"name": "short", "object": "short.yaml", "assertions": [{"violations": 1, "message": "too short"}]},
    {
        "name": "both",
        "object": "bad-both.yaml",
        "assertions": [{"violations": 2}, {"violations": "yes", "message": "team"}, {"message": "^name ab"}],
    },
    {"name": "delete", "object": "delete.yaml", "assertions": [{"violations": 1, "message": "deleted by alice"}]},
]


def test_passing_suite_prints_ok_and_pass(tmp_path: Path) -> None:
    suite = make_suite(tmp_path, CASES)
    assert "violations: yes" in suite.read_text()  # bare YAML 1.1 booleans, read as gator's strings
    run = verify(str(suite))
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"ok\t{suite}\t") and lines[0].endswith("s")
    assert lines[-1] == "PASS"


def test_failing_assertion_uses_gators_words(tmp_path: Path) -> None:
    cases = [{"name": "wrong", "object": "short.yaml", "assertions": [{"violations": "no", "message": "short"}]}]
    run = verify(str(make_suite(tmp_path, cases)))
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert lines[0].startswith("    --- FAIL: wrong\t(")
    assert lines[1] == (
        '        unexpected number of violations: got 1 violations containing "short" but want none: '
        "got messages [name ab is too short]"
    )
    assert lines[2].startswith("--- FAIL: names\t(")
    assert lines[3].startswith("FAIL\t") and lines[-1] == "FAIL"


def test_verbose_and_run_filter(tmp_path: Path) -> None:
    suite = make_suite(tmp_path, CASES)
    run = verify(str(suite), "-v", "--run", "names//^sh")
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    assert lines[:2] == ["=== RUN   names", "    === SKIP  good"]
    assert lines[2:4] == ["    === RUN   short", lines[3]] and lines[3].startswith("    --- PASS: short\t(")
    assert "    === SKIP  both" in lines and "    === SKIP  delete" in lines


def test_json_output_shape(tmp_path: Path) -> None:
    cases = [*CASES, {"name": "wrong", "object": "good.yaml", "assertions": [{"violations": 1}]}]
    cases.append({"name": "missing", "object": "nope.yaml", "assertions": [{"violations": 1}]})
    cases.append({"name": "skipped", "object": "good.yaml", "skip": True, "assertions": [{"violations": 1}]})
    run = verify(str(make_suite(tmp_path, cases)), "-o", "json")
    assert run.returncode == 1
    report = json.loads(run.stdout)
    assert report["summary"] == {
        "suites": 1, "tests": 1, "cases": 7, "passed": 4, "failed": 1, "errors": 1, "skipped": 1,
    }  # fmt: skip
    [test] = report["suites"][0]["tests"]
    assert test["status"] == "fail"
    by_name = {c["name"]: c for c in test["cases"]}
    assert (
        by_name["missing"]["status"] == "error"
        and "nope.yaml: cannot read file: No such file" in by_name["missing"]["error"]
    )
    assert by_name["wrong"]["error"].startswith("unexpected number of violations: got 0 violations but want exactly 1")
    assert set(by_name["good"]) == {"name", "status", "error", "seconds"}


def test_inventory_namespaces_feed_namespace_selector(tmp_path: Path) -> None:
    cases = [
        {"name": "selected", "object": "short.yaml", "inventory": ["ns.yaml"], "assertions": [{"violations": 1}]},
        {"name": "unknown-ns", "object": "short.yaml", "assertions": [{"message": "missing Namespace"}]},
    ]
    suite = make_suite(tmp_path, cases)
    write(tmp_path / "ns.yaml", namespace("default", {"env": "prod"}))
    spec = yaml.safe_load((tmp_path / "constraint.yaml").read_text())
    spec["spec"]["match"] = {"namespaceSelector": {"matchLabels": {"env": "prod"}}}
    write(tmp_path / "constraint.yaml", spec)
    run = verify(str(suite), "-o", "json")
    statuses = {c["name"]: c["status"] for c in json.loads(run.stdout)["suites"][0]["tests"][0]["cases"]}
    assert statuses == {"selected": "pass", "unknown-ns": "pass"}, run.stdout


def test_template_that_fails_to_load_errors_every_case(tmp_path: Path) -> None:
    suite = make_suite(tmp_path, CASES)
    write(tmp_path / "template.yaml", template("K8sNames", "package names\nviolation contains {", schema=SCHEMA))
    report = json.loads(verify(str(suite), "-o", "json").stdout)
    [test] = report["suites"][0]["tests"]
    assert test["status"] == "error" and "template.yaml: ConstraintTemplate/k8snames" in test["error"]
    assert {c["status"] for c in test["cases"]} == {"error"}
    assert report["summary"]["errors"] == 4


@pytest.mark.parametrize(("parameters", "passes"), [({"min": "four"}, True), ({"min": 4}, False)])
def test_invalid_tests_expect_a_schema_error(tmp_path: Path, parameters: dict, passes: bool) -> None:
    suite = make_suite(tmp_path, [], invalid=True)
    write(tmp_path / "constraint.yaml", constraint("K8sNames", "names", parameters=parameters))
    run = verify(str(suite))
    assert run.returncode == (0 if passes else 1), run.stdout


def test_directory_rules_and_non_suite_files(tmp_path: Path) -> None:
    make_suite(tmp_path / "a" / "b", CASES)
    (tmp_path / "not-a-suite.yaml").write_text("kind: ConfigMap\napiVersion: v1\n")
    assert verify(str(tmp_path)).stdout == "PASS\n"  # no suite directly inside: nothing to run
    nested = verify(f"{tmp_path}/...")
    assert nested.returncode == 0 and nested.stdout.count("ok\t") == 1


def test_bad_paths_and_filters_exit_two() -> None:
    missing = verify("no/such/dir/...")
    assert missing.returncode == 2 and missing.stderr == "error: no/such/dir/...: no such file or directory\n"
    assert verify(str(REPO), "--run", "a//b//c").returncode == 2


@pytest.mark.parametrize(
    ("assertion", "messages", "error"),
    [
        (Assertion("yes"), [], "got 0 violations but want at least 1: got messages []"),
        (Assertion("no", "x"), ["x1", "y"], 'got 1 violations containing "x" but want none: got messages [x1 y]'),
        (Assertion(2), ["a"], "got 1 violations but want exactly 2: got messages [a]"),
        (Assertion(0, "("), ["a"], "invalid regex"),
    ],
)
def test_check_assertion_failures(assertion: Assertion, messages: list[str], error: str) -> None:
    results = [Result(msg=m, constraint=None, enforcement_action="deny") for m in messages]  # type: ignore[arg-type]
    with pytest.raises(CaseFailure, match=error.replace("(", r"\(").replace("[", r"\[").replace("]", r"\]")):
        check_assertion(assertion, results)


def test_run_filter_forms() -> None:
    from gatekeeper_py.model.suite import Case, Test

    test = Test("alpha", "t", "c", cases=(Case("one", "o", ()), Case("two", "o", ())))
    assert RunFilter.parse("alp").runs_test(test) and RunFilter.parse("alp").runs_case("alpha", "two")
    assert RunFilter.parse("one").runs_test(test) and not RunFilter.parse("one").runs_case("alpha", "two")
    both = RunFilter.parse("alpha//tw")
    assert both.runs_case("alpha", "two") and not both.runs_case("alpha", "one") and not both.runs_case("beta", "two")


def test_bad_violations_value_fails_only_its_case(tmp_path: Path) -> None:
    cases = [
        {"name": "bad", "object": "short.yaml", "assertions": [{"violations": "maybe"}]},
        {"name": "negative", "object": "short.yaml", "assertions": [{"violations": -1}]},
        {"name": "fine", "object": "good.yaml", "assertions": [{"violations": "no"}]},
    ]
    run = verify(str(make_suite(tmp_path, cases)), "-o", "json")
    assert run.returncode == 1
    statuses = {c["name"]: (c["status"], c["error"]) for c in json.loads(run.stdout)["suites"][0]["tests"][0]["cases"]}
    assert statuses["fine"] == ("pass", None)
    for name in ("bad", "negative"):
        assert statuses[name] == (
            "fail",
            'invalid YAML: assertion.violation, if set, must be a nonnegative integer, "yes", or "no"',
        )


def test_failure_text_quotes_the_regex_like_go(tmp_path: Path) -> None:
    cases = [{"name": "q", "object": "good.yaml", "assertions": [{"violations": 1, "message": 'a\\w "x"'}]}]
    run = verify(str(make_suite(tmp_path, cases)), "-o", "json")
    [case] = json.loads(run.stdout)["suites"][0]["tests"][0]["cases"]
    assert case["error"].startswith('unexpected number of violations: got 0 violations containing "a\\\\w \\"x\\"" but')


def test_test_that_cannot_start_prints_only_its_own_error(tmp_path: Path) -> None:
    suite = make_suite(tmp_path, CASES)
    write(tmp_path / "template.yaml", template("K8sNames", "package names\nviolation contains {", schema=SCHEMA))
    lines = verify(str(suite)).stdout.splitlines()
    assert lines[0].startswith("--- FAIL: names\t(")
    assert "ConstraintTemplate/k8snames" in lines[1]
    assert not any("--- FAIL: good" in line for line in lines)
