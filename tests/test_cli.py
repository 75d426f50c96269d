"""`gatekeeper-py test` as a user runs it: a real process, exit codes, stdout for results, stderr for errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, SCENARIO_CONSTRAINTS, V1_TEMPLATES, run_cli

STARTER = ["-f", str(V1_TEMPLATES), "-f", str(SCENARIO_CONSTRAINTS)]


gatekeeper_py = run_cli


def test_main_job_on_shipped_defaults_warns_and_exits_zero() -> None:
    """The README's first command: the starter set (templates/, constraints/) on the example cluster."""
    run = gatekeeper_py("test", "-f", "templates", "-f", "constraints", "-f", "examples/cluster")
    assert run.returncode == 0, run.stderr
    assert run.stdout == (
        '[warn] v1/Pod payments/worker: ["team-label-in-enforced-namespaces"] Message: '
        '"Pod \\"payments/worker\\" is missing the required label \\"team\\""\n'
        "6 objects and 40 policies reviewed: 0 deny, 1 warn, 0 dryrun\n"
    )
    assert run.stderr == ""


def test_starter_set_judges_workloads_through_the_expansion() -> None:
    run = gatekeeper_py(
        "test",
        "-f",
        "templates",
        "-f",
        "constraints",
        "-f",
        "examples/violations",
        "-f",
        "examples/cluster/namespaces.yaml",
        "-o",
        "json",
    )
    assert run.returncode == 1
    results = json.loads(run.stdout)
    actions = {r["constraint"]["metadata"]["name"]: r["enforcementAction"] for r in results}
    assert actions["allowed-registries"] == "deny"
    assert {name for name, action in actions.items() if action == "warn"} == {
        "pss-restricted-privileged",
        "pss-restricted-privilege-escalation",
        "pss-restricted-capabilities-restricted",
        "pss-restricted-run-as-non-root",
        "pss-restricted-seccomp-restricted",
    }
    assert all(r["msg"].startswith("[Implied by expand-workloads] ") for r in results)
    assert {r["violatingObject"]["kind"] for r in results} == {"Deployment"}


def test_deny_results_exit_one_with_gator_lines() -> None:
    run = gatekeeper_py("test", *STARTER, "-f", str(EXAMPLES))
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert (
        '[deny] v1/Pod payments/debug: ["allowed-registries"] Message: "ephemeralContainers <debugger> has image '
        "<docker.io/library/busybox:1.36>, which is not from an allowed registry: "
        '[\\"registry.example.com/\\", \\"ghcr.io/example-org/\\"]"'
    ) in lines
    assert len(lines) == 4  # 3 results and the summary


def test_deny_only_hides_warnings() -> None:
    run = gatekeeper_py("test", *STARTER, "-f", str(EXAMPLES), "--deny-only")
    assert run.returncode == 1
    assert [line.split(": ")[1] for line in run.stdout.splitlines()[:-1]] == ['["allowed-registries"] Message']


def test_json_output_is_gator_shaped_and_alone_on_stdout() -> None:
    run = gatekeeper_py("test", *STARTER, "-f", str(EXAMPLES), "-o", "json")
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
    run = gatekeeper_py("test", *STARTER, "-f", str(EXAMPLES), "-o", "yaml")
    assert run.returncode == 1
    results = yaml.safe_load(run.stdout)
    # gator's yaml.v3 shape: the framework result under `result:` with Go's lower-cased field names.
    assert [r["result"]["enforcementaction"] for r in results] == ["deny", "warn", "warn"]  # order: action, msg
    first = results[0]
    assert first["result"]["msg"].startswith("ephemeralContainers <debugger>")
    assert first["result"]["constraint"]["object"]["metadata"]["name"] == "allowed-registries"
    assert first["result"]["target"] == "admission.k8s.gatekeeper.sh"
    assert first["result"]["scopedenforcementactions"] == []
    assert first["violatingObject"]["metadata"]["name"] == "debug"
    assert first["trace"] is None


def test_objects_from_stdin(tmp_path: Path) -> None:
    pod = (EXAMPLES / "violations" / "pods.yaml").read_text()
    run = gatekeeper_py("test", *STARTER, "-f", str(EXAMPLES / "cluster" / "namespaces.yaml"), "-f", "-", stdin=pod)
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
    run = gatekeeper_py("test", *STARTER, "-f", str(tmp_path), "-f", str(EXAMPLES / "violations"), "-o", "json")
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
    assert run.stdout == "0 objects and 0 policies reviewed: 0 deny, 0 warn, 0 dryrun; 1 input error\n"


def test_version_and_help() -> None:
    assert gatekeeper_py("--version").stdout.startswith("gatekeeper-py ")
    assert "test" in gatekeeper_py("--help").stdout


def test_duplicate_objects_are_warned_about_and_still_reviewed(tmp_path: Path) -> None:
    violations = EXAMPLES / "violations" / "pods.yaml"
    (tmp_path / "again.yaml").write_text(violations.read_text())
    run = gatekeeper_py("test", *STARTER, "-f", str(violations), "-f", str(tmp_path), "--deny-only")
    assert run.returncode == 1
    assert run.stderr == f"warning: {tmp_path / 'again.yaml'}: duplicate Pod/payments/debug, also in {violations}\n"
    assert len(run.stdout.splitlines()) == 3  # both copies reviewed, as gator does; the summary


def _policy_files(tmp_path: Path, rego: str, match: dict | None = None, **spec: object) -> Path:
    from conftest import constraint, template

    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "t.yaml").write_text(yaml.safe_dump(template("K8sProbe", rego)))
    (policy / "c.yaml").write_text(yaml.safe_dump(constraint("K8sProbe", "probe", match=match, **spec)))
    return policy


def _objects(tmp_path: Path, *objs: dict) -> Path:
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(objs))
    return path


NAME_MSG = (
    'package probe\nviolation contains {"msg": sprintf("saw %v", [input.review.object.metadata.name])} if { true }'
)


def test_gator_test_gives_cluster_scoped_objects_an_empty_namespace(tmp_path: Path) -> None:
    # gator's quirk: cluster-scoped objects get a non-nil empty Namespace, so `scope: Cluster` skips them
    # and `scope: Namespaced` selects them.
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
    for scope, expected in (("Cluster", []), ("Namespaced", ['[deny] v1/Node n1: ["probe"] Message: "saw n1"'])):
        case = tmp_path / scope
        case.mkdir()
        policy = _policy_files(case, NAME_MSG, match={"scope": scope, "kinds": [{"kinds": ["Node"]}]})
        run = gatekeeper_py("test", "-f", str(policy), "-f", str(_objects(case, node)))
        assert run.stdout.splitlines()[:-1] == expected, scope


def test_gator_test_knows_default_namespace_and_hides_namespace_object(tmp_path: Path) -> None:
    rego = 'package probe\nviolation contains {"msg": sprintf("ns %v", [input.review.namespaceObject])} if { true }'
    policy = _policy_files(tmp_path, rego, match={"namespaceSelector": {}, "kinds": [{"kinds": ["Pod"]}]})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}}
    run = gatekeeper_py("test", "-f", str(policy), "-f", str(_objects(tmp_path, pod)))
    # the synthetic `default` Namespace satisfies the selector; templates still see namespaceObject null
    assert run.stdout.splitlines()[0] == '[deny] v1/Pod default/p: ["probe"] Message: "ns null"'


def test_gator_test_sorts_results_of_all_objects_together(tmp_path: Path) -> None:
    policy = _policy_files(tmp_path, NAME_MSG, match={"kinds": [{"kinds": ["ConfigMap"]}]})
    maps = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n}} for n in ("zeta", "alpha", "mid")]
    run = gatekeeper_py("test", "-f", str(policy), "-f", str(_objects(tmp_path, *maps)))
    assert [line.rsplit('"saw ', 1)[1] for line in run.stdout.splitlines()[:-1]] == ['alpha"', 'mid"', 'zeta"']


def test_scoped_deny_for_gator_counts_as_deny(tmp_path: Path) -> None:
    scoped = [{"action": "deny", "enforcementPoints": [{"name": "gator.gatekeeper.sh"}]}]
    policy = _policy_files(
        tmp_path, NAME_MSG, match={"kinds": [{"kinds": ["ConfigMap"]}]}, action="scoped", scoped=scoped
    )
    objects = _objects(tmp_path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    run = gatekeeper_py("test", "-f", str(policy), "-f", str(objects), "--deny-only", "-o", "json")
    assert run.returncode == 1
    [result] = json.loads(run.stdout)
    assert (result["enforcementAction"], result["scopedActions"]) == ("scoped", ["deny"])


@pytest.mark.parametrize(
    ("text", "quoted"),
    [('a"b\\c', '"a\\"b\\\\c"'), ("tab\there\n", '"tab\\there\\n"'), ("é☃", '"é☃"'), ("\x01\u200b", '"\\x01\\u200b"')],
)
def test_go_quote_matches_go(text: str, quoted: str) -> None:
    from gatekeeper_py.cli.output import go_quote

    assert go_quote(text) == quoted


def test_rego_translate_prints_the_engines_rego_for_a_template() -> None:
    run = gatekeeper_py("rego", "translate", str(V1_TEMPLATES / "k8sallowedregistries.yaml"))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("# --- K8sAllowedRegistries.rego ---\npackage k8sallowedregistries\n")
    assert "violation contains {" in run.stdout and "__gk_str(x) := x if {" in run.stdout


def test_rego_translate_v0_file_and_errors(tmp_path: Path) -> None:
    source = tmp_path / "p.rego"
    source.write_text('package p\n\ndeny[msg] {\n  msg := "no"\n}\n')
    run = gatekeeper_py("rego", "translate", str(source))
    assert run.returncode == 0
    assert 'deny contains msg if {\n    msg := "no"\n}' in run.stdout
    source.write_text("package p\n\ndeny[msg] {\n  msg := \n}\n")
    broken = gatekeeper_py("rego", "translate", str(source))
    assert broken.returncode == 2 and broken.stdout == ""
    assert broken.stderr.startswith("error: invalid ConstraintTemplate: p.rego:5:1: ")
    assert gatekeeper_py("rego", "translate", str(tmp_path / "none.yaml")).returncode == 2
