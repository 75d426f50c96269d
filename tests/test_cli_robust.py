"""`gatekeeper-py test` never passes silently and never crashes: piped stdin, Lists, empty input, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, constraint, pod, run_cli, template

from gatekeeper_py import Client
from gatekeeper_py.errors import ConstraintError
from gatekeeper_py.loader import Document

LABEL_REGO = """package labels
violation contains {"msg": sprintf("%v has no owner label", [input.review.object.metadata.name])} if {
  not input.review.object.metadata.labels.owner
}
"""
PODS = {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}
DENIED = '[deny] v1/Pod prod/api: ["owner-prod"] Message: "api has no owner label"'


def write(path: Path, *docs: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump_all(docs))
    return path


def policies(tmp_path: Path) -> Path:
    """A label template; a deny constraint for `prod`, warn for `dev`, dryrun for `lab`."""
    return write(
        tmp_path / "policies.yaml",
        template("K8sOwnerLabel", LABEL_REGO),
        constraint("K8sOwnerLabel", "owner-prod", match={**PODS, "namespaces": ["prod"]}),
        constraint("K8sOwnerLabel", "owner-dev", match={**PODS, "namespaces": ["dev"]}, action="warn"),
        constraint("K8sOwnerLabel", "owner-lab", match={**PODS, "namespaces": ["lab"]}, action="dryrun"),
    )


# --- stdin ---


def test_piped_stdin_is_read_along_with_dash_f(tmp_path: Path) -> None:
    run = run_cli("test", "-f", str(policies(tmp_path)), stdin=yaml.safe_dump(pod("api", "prod")))
    assert run.returncode == 1, run.stderr
    assert run.stdout.splitlines() == [DENIED, "1 object and 4 policies reviewed: 1 deny, 0 warn, 0 dryrun"]


def test_stdin_named_with_dash_is_read_once(tmp_path: Path) -> None:
    run = run_cli("test", "-f", str(policies(tmp_path)), "-f", "-", stdin=yaml.safe_dump(pod("api", "prod")))
    assert (run.returncode, run.stdout.splitlines()[0], run.stderr) == (1, DENIED, "")


def _with_stdin(args: list[str], **stdin: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gatekeeper_py", *args], capture_output=True, text=True, timeout=600, cwd=REPO, **stdin
    )


@pytest.mark.parametrize("stdin", ["empty pipe", "/dev/null", "closed"])
def test_an_empty_or_absent_stdin_changes_nothing(tmp_path: Path, stdin: str) -> None:
    args = ["test", "-f", str(policies(tmp_path)), "-f", str(write(tmp_path / "pods.yaml", pod("api", "prod")))]
    if stdin == "empty pipe":
        run = _with_stdin(args, input="")
    elif stdin == "/dev/null":
        run = _with_stdin(args, stdin=subprocess.DEVNULL)
    else:
        run = _with_stdin(args, stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(0))
    assert (run.returncode, run.stdout.splitlines()[0], run.stderr) == (1, DENIED, "")


def test_no_dash_f_and_nothing_piped_is_bad_usage() -> None:
    run = run_cli("test")
    assert run.returncode == 2
    assert run.stderr.startswith("error: no input: give -f PATH")


# --- Lists ---


def test_kubectl_list_items_are_reviewed_each_with_its_position(tmp_path: Path) -> None:
    listed = tmp_path / "list.yaml"
    items = [pod("web", "prod", labels={"owner": "shop"}), {"metadata": {"name": "kindless"}}, pod("api", "prod")]
    write(listed, {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})
    run = run_cli("test", "-f", str(policies(tmp_path)), "-f", str(listed))
    assert run.returncode == 2  # the item without kind is bad input
    assert run.stderr == f"error: {listed} (item 2): not a Kubernetes object (no kind)\n"
    assert run.stdout.splitlines()[0] == DENIED

    sarif = json.loads(run_cli("test", "-f", str(policies(tmp_path)), "-f", str(listed), "-o", "sarif").stdout)
    [result] = sarif["runs"][0]["results"]
    region = result["locations"][0]["physicalLocation"]["region"]
    lines = listed.read_text().splitlines()
    assert lines[region["startLine"] - 1].startswith("- apiVersion: v1")  # where the api Pod item starts
    assert "name: api" in "\n".join(lines[region["startLine"] - 1 :][:8])


def test_typed_list_from_the_api_is_unwrapped(tmp_path: Path) -> None:
    bare = {k: v for k, v in pod("api", "prod").items() if k not in ("apiVersion", "kind")}
    listed = tmp_path / "pods.json"
    listed.write_text(json.dumps({"apiVersion": "v1", "kind": "PodList", "items": [bare]}))
    run = run_cli("test", "-f", str(policies(tmp_path)), "-f", str(listed))
    assert (run.returncode, run.stdout.splitlines()[0], run.stderr) == (1, DENIED, "")


# --- runs that would check nothing ---


def test_empty_directory_exits_two(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    run = run_cli("test", "-f", str(tmp_path / "empty"))
    assert run.returncode == 2
    assert run.stderr == f"error: {tmp_path / 'empty'}: no manifest files (.yaml, .yml, .json) found\n"


def test_no_constraint_exits_two(tmp_path: Path) -> None:
    inputs = write(tmp_path / "in.yaml", template("K8sOwnerLabel", LABEL_REGO), pod("api", "prod"))
    run = run_cli("test", "-f", str(inputs))
    assert run.returncode == 2
    assert run.stderr == "error: no constraint loaded: the inputs hold no constraint, so nothing would be checked\n"


def test_every_constraint_failing_says_nothing_was_checked(tmp_path: Path) -> None:
    bad = [constraint("K8sOwnerLabel", n, parameters={"unknown": 1}) for n in ("one", "two")]
    inputs = write(tmp_path / "in.yaml", template("K8sOwnerLabel", LABEL_REGO), *bad, pod("api", "prod"))
    run = run_cli("test", "-f", str(inputs))
    assert run.returncode == 2
    errors = run.stderr.splitlines()
    assert len(errors) == 3 and all("unknown fields: [spec.parameters]" in line for line in errors[:2])
    assert errors[2] == "error: no constraint loaded: all 2 among the inputs failed"


def test_only_policies_exits_two(tmp_path: Path) -> None:
    run = run_cli("test", "-f", str(policies(tmp_path)))
    assert run.returncode == 2
    assert run.stderr == (
        "error: no objects to review: the inputs hold no manifest besides templates and constraints "
        "(give them with -f PATH or pipe them in)\n"
    )
    assert run.stdout == "0 objects and 4 policies reviewed: 0 deny, 0 warn, 0 dryrun; 1 input error\n"


# --- human output ---


def test_human_lines_say_their_action_and_a_summary_ends_them(tmp_path: Path) -> None:
    pods = write(tmp_path / "pods.yaml", pod("api", "prod"), pod("web", "dev"), pod("job", "lab"), pod("ok", "x"))
    run = run_cli("test", "-f", str(policies(tmp_path)), "-f", str(pods))
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        DENIED,
        '[dryrun] v1/Pod lab/job: ["owner-lab"] Message: "job has no owner label"',
        '[warn] v1/Pod dev/web: ["owner-dev"] Message: "web has no owner label"',
        "4 objects and 4 policies reviewed: 1 deny, 1 warn, 1 dryrun",
    ]
    only = run_cli("test", "-f", str(policies(tmp_path)), "-f", str(pods), "--deny-only")
    assert only.stdout.splitlines() == [DENIED, "4 objects and 4 policies reviewed: 1 deny, 1 warn, 1 dryrun"]


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_machine_output_has_no_labels_or_summary(tmp_path: Path, output: str) -> None:
    pods = write(tmp_path / "pods.yaml", pod("api", "prod"), pod("web", "dev"))
    run = run_cli("test", "-f", str(policies(tmp_path)), "-f", str(pods), "-o", output)
    results = json.loads(run.stdout) if output == "json" else yaml.safe_load(run.stdout)
    msgs = [r["msg"] if output == "json" else r["result"]["msg"] for r in results]
    assert (run.returncode, msgs, run.stderr) == (1, ["api has no owner label", "web has no owner label"], "")


# --- input that used to crash ---

LAUGHS = "\n".join(
    [f"l0: &l0 [{','.join(['lol'] * 9)}]"] + [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
)


DEEP_REFUSED = "refused YAML: nested more than 200 levels deep (line 1, column 201)"
DEEP_REFUSED_BY_PYYAML = "invalid YAML/JSON at line 1, column 1001: exceeded maximum nesting depth"
HOSTILE = {
    # PyYAML 6.0.4 and later refuse it themselves, at 1,000 levels, before our composer sees it.
    "deep.json": ("[" * 100_000, (DEEP_REFUSED, DEEP_REFUSED_BY_PYYAML)),
    "nested.json": ('{"a": ' * 100_000, "refused: the document at line 1 is nested more than 200 levels deep"),
    "loop.yaml": ("a: &a [*a]\n", "refused YAML: alias *a refers to a collection that contains it (line 1, column 8)"),
    "long.json": (
        '{"n": ' + "7" * 5000 + "}",
        "refused: the document at line 1: an integer of 5000 digits is too large",
    ),
    "laughs.yaml": (LAUGHS, "refused YAML: aliases expand to more than 100,000 nodes"),
}


def test_hostile_input_is_one_error_line_per_file_and_the_rest_is_reviewed(tmp_path: Path) -> None:
    # Before: a segmentation fault (deep.json), tracebacks with exit 1, or 3 GB and 80 s (laughs.yaml).
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    for name, (text, _) in HOSTILE.items():
        (hostile / name).write_text(text)
    pods = write(tmp_path / "pods.yaml", pod("api", "prod"))
    run = run_cli("test", "-f", str(policies(tmp_path)), "-f", str(hostile), "-f", str(pods))
    assert run.returncode == 2
    errors = dict(line.removeprefix(f"error: {hostile}/").split(": ", 1) for line in run.stderr.splitlines())
    assert sorted(errors) == sorted(HOSTILE)
    for name, (_, reason) in HOSTILE.items():
        assert errors[name].startswith(reason), name
    assert run.stdout.splitlines() == [
        DENIED,
        "1 object and 4 policies reviewed: 1 deny, 0 warn, 0 dryrun; 5 input errors",
    ]


# --- constraints whose kind is not a string ---


@pytest.mark.parametrize("kind", [["K8sOwnerLabel"], {"a": 1}, 7, True])
def test_constraint_kind_that_is_not_a_string_is_a_constraint_error(kind: Any) -> None:
    bad = constraint("K8sOwnerLabel", "bad")
    bad["kind"] = kind
    docs = [template("K8sOwnerLabel", LABEL_REGO), bad, constraint("K8sOwnerLabel", "good")]
    client = Client()
    [error] = client.add_policies(Document(obj, "p.yaml", i, 3) for i, obj in enumerate(docs))
    assert isinstance(error, ConstraintError)
    assert str(error).startswith("p.yaml (document 2): <no kind>/bad: kind must be a string, not ")
    assert [c.name for c in client.constraints] == ["good"]
    with pytest.raises(ConstraintError, match="kind must be a string"):
        client.add_constraint(bad)


def test_constraint_kind_list_on_the_command_line(tmp_path: Path) -> None:
    path = policies(tmp_path)
    bad = constraint("K8sOwnerLabel", "bad")
    bad["kind"] = ["K8sOwnerLabel"]
    path.write_text(path.read_text() + "---\n" + yaml.safe_dump(bad))
    odd = {**pod("odd", "prod"), "kind": ["Pod"]}
    pods = write(tmp_path / "pods.yaml", pod("api", "prod"), odd)
    run = run_cli("test", "-f", str(path), "-f", str(pods))
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        f"error: {pods} (document 2): not a Kubernetes object (its kind is not a string)",
        f'error: {path} (document 5): <no kind>/bad: kind must be a string, not an array (["K8sOwnerLabel"])',
    ]
    assert run.stdout.splitlines()[0] == DENIED


def test_an_object_that_cannot_be_inventory_data_is_reported_once(tmp_path: Path) -> None:
    odd = tmp_path / "odd.yaml"
    odd.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: nan, namespace: prod}\nspec: {ratio: .nan}\n")
    run = run_cli("test", "-f", str(policies(tmp_path)), "-f", str(odd))
    assert run.returncode == 2
    assert run.stderr == (
        f"error: {odd}: resource Pod/prod/nan cannot be inventory data: it holds a number that is not finite "
        "(NaN or infinity), which JSON cannot carry\n"
    )
