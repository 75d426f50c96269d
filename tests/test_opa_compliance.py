"""bench/opa_compliance.py: a case is judged as OPA's test runner judges it, and a run reports every case."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

_spec = importlib.util.spec_from_file_location("opa_compliance", REPO / "bench" / "opa_compliance.py")
assert _spec is not None and _spec.loader is not None
compliance = importlib.util.module_from_spec(_spec)
sys.modules["opa_compliance"] = compliance  # dataclasses look their module up while the class is made
_spec.loader.exec_module(compliance)


def case(module: str, query: str = "data.t.p = x", **fields: object) -> dict[str, object]:
    return {"note": "t/case", "query": query, "modules": [module], **fields}


def test_a_matching_result_passes_and_a_different_one_names_the_first_difference() -> None:
    module = 'package t\n\np := concat("-", ["a", "b"])\n'
    assert compliance.run_case(case(module, want_result=[{"x": "a-b"}]), "v1") == ("pass", "")
    outcome, detail = compliance.run_case(case(module, want_result=[{"x": "a+b"}]), "v1")
    assert outcome == "fail"
    assert detail == 'want {"x": "a+b"}; got {"x": "a-b"}'


def test_undefined_is_an_empty_result_set() -> None:
    module = 'package t\n\np if startswith("abc", "z")\n'
    assert compliance.run_case(case(module, want_result=[]), "v1") == ("pass", "")
    assert compliance.run_case(case(module, want_result=[{"x": True}]), "v1") == (
        "fail",
        'want {"x": true}; got undefined',
    )


def test_sets_compare_sorted_and_sort_bindings_sorts_arrays() -> None:
    as_set = 'package t\n\np := {"b", "a", "c"}\n'
    assert compliance.run_case(case(as_set, want_result=[{"x": ["a", "b", "c"]}]), "v1")[0] == "pass"
    as_array = 'package t\n\np := ["b", "a"]\n'
    assert compliance.run_case(case(as_array, want_result=[{"x": ["a", "b"]}]), "v1")[0] == "fail"
    assert compliance.run_case(case(as_array, want_result=[{"x": ["a", "b"]}], sort_bindings=True), "v1")[0] == "pass"


def test_integers_and_integral_floats_are_equal() -> None:
    module = "package t\n\np := 6 / 2\n"
    assert compliance.run_case(case(module, want_result=[{"x": 3}]), "v1") == ("pass", "")


def test_v0_modules_go_through_the_front_end() -> None:
    module = 'package t\n\np[x] {\n  x := ["a", "b"][_]\n}\n'
    assert compliance.run_case(case(module, want_result=[{"x": ["a", "b"]}]), "v0") == ("pass", "")


def test_errors_pass_only_when_expected() -> None:
    conflict = "package t\n\np := 1\n\np := 2\n"
    assert compliance.run_case(case(conflict, want_error="conflict"), "v1")[0] == "pass"
    outcome, detail = compliance.run_case(case(conflict, want_result=[{"x": 1}]), "v1")
    assert outcome == "fail"
    assert detail.startswith("error: ")


def test_a_strict_error_may_be_undefined_as_in_gatekeepers_non_strict_mode() -> None:
    module = "package t\n\np := x if {\n\tx := upper(1)\n\tx\n}\n"
    assert compliance.run_case(case(module, want_error="type", strict_error=True), "v1")[0] == "pass"


def test_excluded_builtins_and_with_are_reported_not_run() -> None:
    network = 'package t\n\np := http.send({"method": "GET", "url": "http://x"})\n'
    outcome, detail = compliance.run_case(case(network, want_result=[]), "v1")
    assert (outcome, detail.split(":")[0]) == ("excluded", "builtin http.send")
    with_input = "package t\n\nq := input\n\np := y if {\n\ty := q with input as 1\n}\n"
    outcome, detail = compliance.run_case(case(with_input, want_result=[{"x": 1}]), "v1")
    assert outcome == "fail"
    assert "`with` is not supported" in detail


def test_a_run_writes_the_table_and_the_failing_cases(tmp_path: Path) -> None:
    folder = tmp_path / "cases" / "v1" / "strings"
    folder.mkdir(parents=True)
    cases = [
        case('package t\n\np := upper("a")\n', want_result=[{"x": "A"}]),
        case('package t\n\np := lower("A")\n', want_result=[{"x": "A"}]) | {"note": "strings/wrong"},
    ]
    (folder / "cases.yaml").write_text(yaml.safe_dump({"cases": cases}))
    report = tmp_path / "report.txt"
    assert compliance.main([str(tmp_path / "cases"), "--report", str(report), "--jobs", "1"]) == 0
    text = report.read_text()
    assert "v1      strings                           1      1          0     0     50.0%" in text
    assert 'v1/strings/cases.yaml: strings/wrong: [fail] want {"x": "A"}; got {"x": "a"}' in text


@pytest.mark.parametrize("argv", [["/nonexistent"], []])
def test_a_missing_cases_directory_is_bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert compliance.main(argv) == 2
    assert "not a directory of OPA case files" in capsys.readouterr().err
