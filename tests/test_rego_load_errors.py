"""A template rego-cpp cannot build fails to load with one error naming the template, the module, the line and
column, and rego-cpp's own reason (a failed build reports none; the engine asks rego-cpp for it)."""

from __future__ import annotations

import pytest
from conftest import run_cli, template

from gatekeeper_py import Client
from gatekeeper_py.drivers.rego.driver import _in_source
from gatekeeper_py.drivers.rego.engine import CompiledPolicy, EngineError
from gatekeeper_py.errors import TemplateError
from gatekeeper_py.model import RegoSource

CYCLE = 'package t\nviolation contains {"msg": "m"} if {\n  x = y\n  y = x\n}\n'


def test_build_failure_gives_rego_cpps_reason_and_place() -> None:
    with pytest.raises(EngineError) as info:
        CompiledPolicy({"a.rego": "package a\nr := 1\n", "t.rego": CYCLE}, "t/violation")
    err = info.value
    assert "Unable to unify due to cycle" in err.message
    assert (err.module, err.line, err.column) == ("t.rego", 3, 3)


def test_template_load_error_names_template_line_column_and_reason() -> None:
    with pytest.raises(TemplateError) as info:
        Client().add_template(template("K8sCycle", CYCLE))
    text = str(info.value)
    assert "ConstraintTemplate/k8scycle" in text
    assert "K8sCycle.rego:3:3: Unable to unify due to cycle (at `x = y`)" in text
    assert "could not build entrypoint" not in text


def test_error_inside_a_comprehension_is_placed_in_the_template_source() -> None:
    source = 'package t\nviolation contains {"msg": "m"} if {\n  x := {a | a = b; b = a}\n  count(x) > 0\n}\n'
    with pytest.raises(TemplateError) as info:
        Client().add_template(template("K8sCycle", source))
    assert "K8sCycle.rego:3:13: Unable to unify due to cycle (at `a = b; b = a`)" in str(info.value)


def test_text_found_only_in_the_translation_is_placed_there_and_said_so() -> None:
    exc = EngineError("Unable to unify due to cycle (at `__gk_0 = y`)", "K8sX.rego", 7, 5, "__gk_0 = y")
    rego = RegoSource(rego="package x\n", libs=(), version="v1")
    assert _in_source(exc, "K8sX", rego) == (
        "K8sX.rego:7:5: Unable to unify due to cycle (at `__gk_0 = y`)"
        " (line and column of the module as `gatekeeper-py rego translate` prints it)"
    )


def test_cli_reports_the_load_error_and_exits_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template("K8sCycle", CYCLE)))
    done = run_cli("test", "-f", str(path))
    assert done.returncode == 2
    assert "K8sCycle.rego:3:3: Unable to unify due to cycle" in done.stderr
    assert str(path) in done.stderr
