"""ExpansionTemplates: validation, the resultant's shape, recursion and cycles, results `[Implied by ...]`, and
the `expand`, `test` and `verify` commands on them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import constraint, run_cli, template

from gatekeeper_py import Client, ReviewError
from gatekeeper_py.enforcement import GATOR
from gatekeeper_py.errors import ExpansionError
from gatekeeper_py.expansion import MAX_DEPTH, Expander, expand_once, parse_expansion_template
from gatekeeper_py.review import review_object

PRIVILEGED_REGO = """package privileged
violation contains {"msg": sprintf("%v %v: container %v is privileged", [input.review.kind.kind, name, c.name])} if {
  name := input.review.object.metadata.name
  some c in input.review.object.spec.containers
  c.securityContext.privileged
}
"""


def expansion(name: str, kinds: list[str], source: str = "spec.template", **spec: Any) -> dict[str, Any]:
    group, version = ("apps", "v1") if kinds[0] != "CronJob" else ("batch", "v1")
    return {
        "apiVersion": "expansion.gatekeeper.sh/v1beta1",
        "kind": "ExpansionTemplate",
        "metadata": {"name": name},
        "spec": {
            "applyTo": [{"groups": [group], "versions": [version], "kinds": kinds}],
            "templateSource": source,
            "generatedGVK": {"group": "", "version": "v1", "kind": "Pod"},
            **spec,
        },
    }


def deployment(name: str = "web", namespace: str | None = "shop", privileged: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    container = {"name": "app", "image": "nginx", "securityContext": {"privileged": privileged}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}},
    }


def client_with(*expansions: dict[str, Any], match: dict[str, Any] | None = None) -> Client:
    client = Client(enforcement_point=GATOR)
    client.add_template(template("K8sPrivileged", PRIVILEGED_REGO))
    client.add_constraint(constraint("K8sPrivileged", "no-privileged", match=match))
    for item in expansions:
        client.add_expansion_template(item)
    return client


# --- validation ---


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda t: t["metadata"].update(name=""), "ExpansionTemplate has empty name field"),
        (lambda t: t["metadata"].update(name="x" * 64), "ExpansionTemplate name must be less than 64 characters"),
        (lambda t: t["spec"].pop("templateSource"), "ExpansionTemplate pods has empty source field"),
        (lambda t: t["spec"].pop("generatedGVK"), "ExpansionTemplate pods has empty generatedGVK field"),
        (lambda t: t["spec"].update(applyTo=[]), "ExpansionTemplate pods must specify ApplyTo"),
        (lambda t: t["spec"].update(applyTo=[{"groups": "apps"}]), "spec.applyTo[0].groups must be a list of strings"),
        (
            lambda t: t["spec"]["applyTo"].append({"groups": [""], "versions": ["v1"], "kinds": ["Pod"]}),
            "ExpansionTemplate pods generates GVK /v1, Kind=Pod, but also applies to that same GVK",
        ),
        (
            lambda t: t["spec"].update(enforcementAction="block"),
            "spec.enforcementAction must be one of deny, dryrun or warn, not 'block'",
        ),
    ],
)
def test_invalid_expansion_templates_name_the_problem(change: Any, reason: str) -> None:
    raw = expansion("pods", ["Deployment"])
    change(raw)
    with pytest.raises(ExpansionError) as caught:
        parse_expansion_template(raw, "et.yaml")
    assert caught.value.reason == reason
    assert caught.value.source == "et.yaml"


# --- the resultant ---


def test_resultant_is_the_template_with_kind_namespace_name_and_owner() -> None:
    parent = deployment("Web-Frontend")
    pod = expand_once(parent, parse_expansion_template(expansion("pods", ["Deployment"])))
    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "labels": {"app": "Web-Frontend"},
            "namespace": "shop",
            "name": "web-frontend-pod",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "Web-Frontend", "uid": ""}],
        },
        "spec": parent["spec"]["template"]["spec"],
    }
    pod["spec"]["containers"][0]["name"] = "changed"
    assert parent["spec"]["template"]["spec"]["containers"][0]["name"] == "app"  # a deep copy


def test_cluster_scoped_parent_gives_a_resultant_without_namespace() -> None:
    parent = deployment(namespace=None)
    parent["spec"]["template"]["metadata"]["namespace"] = "stale"
    pod = expand_once(parent, parse_expansion_template(expansion("pods", ["Deployment"])))
    assert "namespace" not in pod["metadata"]


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({}, "could not find source field 'spec.template' in resource web"),
        ({"template": "text"}, "source field 'spec.template' is not a map"),
    ],
)
def test_missing_or_wrong_source_is_a_review_error(spec: dict[str, Any], reason: str) -> None:
    parent = {**deployment(), "spec": spec}
    with pytest.raises(ReviewError) as caught:
        Expander([parse_expansion_template(expansion("pods", ["Deployment"]))]).expand(parent)
    assert caught.value.reason == reason


def test_expansion_recurses_deeper_resultants_first() -> None:
    to_job = {
        "apiVersion": "expansion.gatekeeper.sh/v1beta1",
        "kind": "ExpansionTemplate",
        "metadata": {"name": "cron-to-job"},
        "spec": {
            "applyTo": [{"groups": ["batch"], "versions": ["v1"], "kinds": ["CronJob"]}],
            "templateSource": "spec.jobTemplate",
            "generatedGVK": {"group": "batch", "version": "v1", "kind": "Job"},
        },
    }
    to_pod = expansion("job-to-pod", ["CronJob"])
    to_pod["spec"]["applyTo"] = [{"groups": ["batch"], "versions": ["v1"], "kinds": ["Job"]}]
    expander = Expander([parse_expansion_template(to_job), parse_expansion_template(to_pod)])
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "ops"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}},
    }
    made = expander.expand(cron)
    assert [(r.obj["kind"], r.obj["metadata"]["name"], r.template.name) for r in made] == [
        ("Pod", "nightly-job-pod", "job-to-pod"),
        ("Job", "nightly-job", "cron-to-job"),
    ]
    assert made[0].obj["metadata"]["ownerReferences"][0]["kind"] == "Job"


def _chain_template(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "expansion.gatekeeper.sh/v1beta1",
        "kind": "ExpansionTemplate",
        "metadata": {"name": f"step-{i}"},
        "spec": {
            "applyTo": [{"groups": ["x.example.com"], "versions": ["v1"], "kinds": [f"K{i}"]}],
            "templateSource": "spec",
            "generatedGVK": {"group": "x.example.com", "version": "v1", "kind": f"K{i + 1}"},
        },
    }


def test_expansion_stops_at_depth_thirty() -> None:
    obj = {"apiVersion": "x.example.com/v1", "kind": "K0", "metadata": {"name": "a"}}
    nested: dict[str, Any] = {}
    for _ in range(MAX_DEPTH + 2):
        nested = {"spec": nested}
    obj["spec"] = nested
    # As in Gatekeeper, every resultant is itself expanded one level deeper, so a chain of 29 templates is the
    # longest that works: the 30th resultant would be expanded at depth 30.
    within = Expander([parse_expansion_template(_chain_template(i)) for i in range(MAX_DEPTH - 1)])
    assert len(within.expand(obj)) == MAX_DEPTH - 1
    beyond = Expander([parse_expansion_template(_chain_template(i)) for i in range(MAX_DEPTH)])
    with pytest.raises(ReviewError, match="maximum recursion depth of 30 reached"):
        beyond.expand(obj)


def test_templates_in_a_cycle_are_kept_but_never_applied() -> None:
    forward = parse_expansion_template(_chain_template(0))
    back = _chain_template(1)
    back["spec"]["generatedGVK"]["kind"] = "K0"
    expander = Expander([forward])
    with pytest.raises(ExpansionError, match="template forms expansion cycle"):
        expander.add(parse_expansion_template(back))
    assert expander.conflicts == {"step-0", "step-1"}
    obj = {"apiVersion": "x.example.com/v1", "kind": "K0", "metadata": {"name": "a"}, "spec": {"spec": {}}}
    assert expander.expand(obj) == []
    expander.remove("step-1")
    assert expander.conflicts == frozenset()
    assert len(expander.expand(obj)) == 1


# --- results through the Client ---


def test_client_reports_resultant_results_on_the_parent() -> None:
    client = client_with(expansion("pods", ["Deployment"]))
    parent = deployment()
    results = client.review(review_object(parent)).results
    assert [r.msg for r in results] == ["[Implied by pods] Pod web-pod: container app is privileged"]
    assert results[0].violating_object is parent
    assert client.review(review_object(parent), expand=False).results == []
    assert client.review(review_object(deployment(privileged=False))).results == []


def test_expansion_enforcement_action_overrides_the_constraints() -> None:
    client = client_with(expansion("pods", ["Deployment"], enforcementAction="warn"))
    [result] = client.review(review_object(deployment())).results
    assert (result.enforcement_action, result.constraint.enforcement_action) == ("warn", "deny")


@pytest.mark.parametrize(("source", "expected"), [("Generated", 1), ("Original", 0), ("All", 1)])
def test_match_source_sees_resultants_as_generated(source: str, expected: int) -> None:
    client = client_with(expansion("pods", ["Deployment"]), match={"source": source})
    assert len(client.review(review_object(deployment())).results) == expected


def test_add_policies_takes_expansion_templates_and_reports_bad_ones() -> None:
    from gatekeeper_py.loader import Document

    client = Client(enforcement_point=GATOR)
    good = Document(expansion("pods", ["Deployment"]), "good.yaml")
    bad = Document(expansion("", ["Deployment"]), "bad.yaml")
    errors = client.add_policies([good, bad])
    assert [str(e) for e in errors] == ["bad.yaml: ExpansionTemplate/<no name>: ExpansionTemplate has empty name field"]
    assert list(client.expander.templates) == ["pods"]


# --- the commands ---


def write_all(path: Path, *docs: Any) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def test_expand_prints_resultants_sorted_descending_as_yaml_and_json(tmp_path: Path) -> None:
    inputs = write_all(
        tmp_path / "in.yaml",
        expansion("pods", ["Deployment"]),
        deployment("alpha"),
        deployment("beta"),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
    )
    run = run_cli("expand", "-f", str(inputs))
    assert run.returncode == 0, run.stderr
    docs = list(yaml.safe_load_all(run.stdout))
    assert [d["metadata"]["name"] for d in docs] == ["beta-pod", "alpha-pod"]
    assert run.stdout.count("\n---\n") == 1
    as_json = run_cli("expand", "-n", str(inputs), "--format", "json")
    decoder, text, found = json.JSONDecoder(), as_json.stdout.replace("---\n", ""), []
    pos = 0
    while text[pos:].strip():
        obj, pos = decoder.raw_decode(text, pos + len(text[pos:]) - len(text[pos:].lstrip()))
        found.append(obj)
    assert found == docs
    assert '\n    "apiVersion": "v1",' in as_json.stdout  # Go's four-space indent, sorted keys


def test_expand_writes_the_output_file(tmp_path: Path) -> None:
    inputs = write_all(tmp_path / "in.yaml", expansion("pods", ["Deployment"]), deployment())
    out = tmp_path / "out.yaml"
    run = run_cli("expand", "-f", str(inputs), "--outputfile", str(out))
    assert (run.returncode, run.stdout) == (0, "")
    assert run.stderr == f"Writing output to file: {out}\n"
    assert yaml.safe_load(out.read_text())["metadata"]["name"] == "web-pod"


def test_expand_bad_input_exits_two_with_one_line_each(tmp_path: Path) -> None:
    inputs = write_all(tmp_path / "in.yaml", expansion("pods", ["Deployment"], templateSource=""), deployment())
    run = run_cli("expand", "-f", str(inputs))
    assert run.returncode == 2
    assert run.stderr == (
        f"error: {inputs} (document 1): ExpansionTemplate/pods: ExpansionTemplate pods has empty source field\n"
    )
    empty = tmp_path / "empty.yaml"
    empty.write_text("---\n")
    assert run_cli("expand", "-f", str(empty)).stderr == "error: no input data identified\n"


def test_expand_warns_that_mutators_are_not_applied(tmp_path: Path) -> None:
    mutator = {"apiVersion": "mutations.gatekeeper.sh/v1", "kind": "Assign", "metadata": {"name": "set-pull"}}
    inputs = write_all(tmp_path / "in.yaml", expansion("pods", ["Deployment"]), deployment(), mutator)
    run = run_cli("expand", "-f", str(inputs))
    assert run.returncode == 0
    assert run.stderr == "warning: mutators are not applied (not supported yet): Assign/set-pull\n"


def test_gator_test_attributes_implied_results_to_the_workload(tmp_path: Path) -> None:
    inputs = write_all(
        tmp_path / "in.yaml",
        template("K8sPrivileged", PRIVILEGED_REGO),
        constraint("K8sPrivileged", "no-privileged", match={"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}),
        expansion("pods", ["Deployment"]),
        deployment(),
    )
    run = run_cli("test", "-f", str(inputs))
    assert run.returncode == 1
    assert run.stdout == (
        '[deny] apps/v1/Deployment shop/web: ["no-privileged"] Message: '
        '"[Implied by pods] Pod web-pod: container app is privileged"\n'
        "1 object and 3 policies reviewed: 1 deny, 0 warn, 0 dryrun\n"
    )


def test_verify_runs_the_tests_expansion_file(tmp_path: Path) -> None:
    write_all(tmp_path / "template.yaml", template("K8sPrivileged", PRIVILEGED_REGO))
    write_all(tmp_path / "constraint.yaml", constraint("K8sPrivileged", "no-privileged"))
    write_all(tmp_path / "expansion.yaml", expansion("pods", ["Deployment"]), expansion("crons", ["CronJob"]))
    write_all(tmp_path / "not-expansion.yaml", deployment())
    write_all(tmp_path / "deployment.yaml", deployment())
    case = {
        "name": "implied",
        "object": "deployment.yaml",
        "assertions": [{"violations": 1, "message": "^\\[Implied by pods\\]"}],
    }
    policy = {"template": "template.yaml", "constraint": "constraint.yaml", "cases": [case]}
    tests = [
        {"name": "ok", "expansion": "expansion.yaml", **policy},
        {"name": "bad", "expansion": "not-expansion.yaml", **policy},
    ]
    write_all(tmp_path / "suite.yaml", {"apiVersion": "test.gatekeeper.sh/v1alpha1", "kind": "Suite", "tests": tests})
    run = run_cli("verify", str(tmp_path), "-o", "json")
    assert run.returncode == 1
    statuses = {t["name"]: (t["status"], t["error"]) for t in json.loads(run.stdout)["suites"][0]["tests"]}
    assert statuses["ok"] == ("pass", None)
    assert statuses["bad"] == ("error", f"{tmp_path / 'not-expansion.yaml'}: not an Expansion Template")
