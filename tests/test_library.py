"""The catalogue in library/: every suite passes, the Pod Security profiles trip exactly the controls each sample
names, every template describes itself, and the README's table is the generated one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import REPO, run_cli

from gatekeeper_py.catalogue import markdown_table, read_catalogue
from gatekeeper_py.cli.gator_test import exit_code, run_test

LIBRARY = REPO / "library"
PSS = LIBRARY / "pod-security"
PROFILES = ("baseline", "restricted")
PROFILE_SAMPLES = sorted(p for profile in PROFILES for p in (PSS / profile / "samples").glob("*.yaml"))


@pytest.mark.parametrize("engine", ["auto", "rego"])
def test_verify_over_the_whole_catalogue_passes(engine: str) -> None:
    """`auto` runs the CEL source of every template that has one, `rego` the Rego source of every template."""
    run = run_cli("verify", "library/...", "-o", "json", "--engine", engine)
    report = json.loads(run.stdout)
    problems = [
        (suite["path"], test["name"], case["name"], case["error"] or test["error"])
        for suite in report["suites"]
        for test in suite["tests"]
        for case in test["cases"] or [{"name": "", "status": test["status"], "error": None}]
        if case["status"] in ("fail", "error")
    ]
    assert problems == []
    assert run.returncode == 0, run.stderr
    assert report["summary"]["suites"] == len(list(LIBRARY.rglob("suite.yaml")))
    assert report["summary"]["passed"] > 250


def _expected(sample: Path, profile: str) -> set[str]:
    """Controls a sample must trip under `profile`: its first comment line for its own profile, the second
    (`# <other> profile trips: ...`) for the other one."""
    lines = sample.read_text().splitlines()
    own = sample.parent.parent.name
    line = lines[0] if profile == own else lines[1]
    prefix = "# must trip:" if profile == own else f"# {profile} profile trips:"
    assert line.startswith(prefix), f"{sample}: expected a line starting {prefix!r}"
    names = line[len(prefix) :].strip()
    return set() if names == "none" else {n.strip() for n in names.split(",")}


@pytest.mark.parametrize("engine", ["auto", "rego"])
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("sample", PROFILE_SAMPLES, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_profile_folder_enforces_exactly_the_controls_a_sample_names(sample: Path, profile: str, engine: str) -> None:
    run = run_test([str(PSS / profile), str(sample)], engine)
    assert run.errors == []
    prefix = f"pss-{profile}-"
    tripped = {r.constraint.name.removeprefix(prefix) for _, r in run.results}
    assert tripped == _expected(sample, profile)
    assert exit_code(run) == (1 if tripped else 0)


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_folder_holds_one_deny_constraint_per_template(profile: str) -> None:
    run = run_test([str(PSS / profile)], "rego")
    assert run.errors == [] and run.results == []
    from gatekeeper_py.loader import load_all
    from gatekeeper_py.model import is_constraint, is_template

    docs, errors = load_all([PSS / profile])
    assert errors == []
    templates = {d.obj["spec"]["crd"]["spec"]["names"]["kind"] for d in docs if is_template(d.obj)}
    constraints = [d.obj for d in docs if is_constraint(d.obj)]
    assert sorted(c["kind"] for c in constraints) == sorted(templates)
    assert {c["spec"].get("enforcementAction", "deny") for c in constraints} == {"deny"}


@pytest.mark.parametrize("engine", ["auto", "rego"])
def test_restricted_profile_admits_the_documented_restricted_pod(engine: str) -> None:
    sample = PSS / "restricted" / "samples" / "allowed-documented-restricted-pod.yaml"
    run = run_test([str(PSS / "restricted"), str(sample)], engine)
    assert (run.errors, run.results) == ([], [])


def test_pss_templates_carry_both_engines() -> None:
    entries, _ = read_catalogue(PSS)
    assert entries and all(set(e.engines) == {"cel", "rego"} for e in entries), [
        e.name for e in entries if set(e.engines) != {"cel", "rego"}
    ]


def test_every_pss_suite_has_allowed_and_disallowed_cases() -> None:
    import yaml

    for suite_file in sorted(PSS.glob("*/suite.yaml")):
        suite = yaml.safe_load(suite_file.read_text())
        counts = [
            a.get("violations", "yes") for t in suite["tests"] for c in t.get("cases", []) for a in c["assertions"]
        ]
        assert any(v in ("no", 0, False) for v in counts), f"{suite_file}: no allowed case"
        assert any(v not in ("no", 0, False) for v in counts), f"{suite_file}: no disallowed case"


def test_every_catalogue_template_describes_itself() -> None:
    entries, errors = read_catalogue(LIBRARY)
    assert errors == []
    assert len(entries) == len(list(LIBRARY.rglob("template.yaml")))
    for entry in entries:
        assert entry.title and entry.description and entry.version, entry.name
        assert all(p.description for p in entry.parameters), entry.name


def test_readme_table_is_the_generated_one() -> None:
    text = (REPO / "README.md").read_text()
    match = re.search(r"<!-- library-table:start -->\n(.*?)<!-- library-table:end -->", text, re.DOTALL)
    assert match, "README.md has no generated library table"
    entries, _ = read_catalogue(LIBRARY)
    assert match.group(1) == markdown_table(entries, REPO), "regenerate: gatekeeper-py library list -o markdown"


def test_library_list_command_prints_every_template() -> None:
    run = run_cli("library", "list", "-o", "json")
    assert (run.returncode, run.stderr) == (0, "")
    rows = json.loads(run.stdout)
    names = {row["name"] for row in rows}
    assert {"k8spssprivileged", "k8sallowedregistries", "k8ssecurityprofile"} <= names
    registries = next(row for row in rows if row["name"] == "k8sallowedregistries")
    assert [p["name"] for p in registries["parameters"]] == ["repos", "images"]
    assert registries["engines"] == ["cel", "rego"]
    human = run_cli("library", "list")
    assert human.stdout.splitlines()[0].split() == ["NAME", "TITLE", "ENGINES", "PARAMETERS"]
    assert len(human.stdout.splitlines()) == len(rows) + 1
