"""Compiled templates (Rego and CEL) cached on disk: a warm start neither translates nor builds, and a damaged
or missing cache only costs a recompile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import constraint, pod, run_cli, template

from gatekeeper_py import Client
from gatekeeper_py.drivers.cache import CACHE_DIR_ENV, default_cache_dir
from gatekeeper_py.drivers.cel import CelDriver
from gatekeeper_py.drivers.rego import driver as rego_driver
from gatekeeper_py.drivers.rego.engine import CompiledPolicy

LABELS = (
    "package cachedlabels\n"
    "missing contains l if { some l in input.parameters.labels; not input.review.object.metadata.labels[l] }\n"
    'violation contains {"msg": concat(", ", s)} if { s := sort(missing); count(missing) > 0 }\n'
)
SCHEMA = {"type": "object", "properties": {"labels": {"type": "array", "items": {"type": "string"}}}}
INVENTORY = (
    "package cachedinventory\n"
    'violation contains {"msg": "taken"} if {\n'
    '  some ns; data.inventory.namespace[ns]["v1"]["Pod"][input.review.object.metadata.name]\n'
    "}\n"
)


def rego_client(cache_dir: Path) -> Client:
    return Client(drivers=[rego_driver.RegoDriver(cache_dir=cache_dir)])


def review_labels(client: Client) -> list[str]:
    client.add_template(template("K8sCachedLabels", LABELS, schema=SCHEMA))
    client.add_constraint(constraint("K8sCachedLabels", "c", parameters={"labels": ["b", "a"]}))
    return [r.msg for r in client.review(pod("p"))]


def refuse_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("compiled although the cache holds the template")

    monkeypatch.setattr(rego_driver, "translate_template", refuse)
    monkeypatch.setattr(CompiledPolicy, "__init__", refuse)


def test_a_warm_start_neither_translates_nor_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert review_labels(rego_client(tmp_path)) == ["a, b"]
    assert sorted(p.suffix for p in (tmp_path / "rego").iterdir()) == [".json", ".rbb"]
    refuse_compiling(monkeypatch)
    assert review_labels(rego_client(tmp_path)) == ["a, b"]


def test_a_damaged_bundle_is_rebuilt_not_loaded(tmp_path: Path) -> None:
    review_labels(rego_client(tmp_path))
    [bundle] = (tmp_path / "rego").glob("*.rbb")
    bundle.write_bytes(bundle.read_bytes()[:100])
    assert review_labels(rego_client(tmp_path)) == ["a, b"]
    assert len(bundle.read_bytes()) > 100  # written again


def test_a_changed_template_is_compiled_again(tmp_path: Path) -> None:
    review_labels(rego_client(tmp_path))
    client = rego_client(tmp_path)
    client.add_template(template("K8sCachedLabels", LABELS.replace('concat(", "', 'concat("+"'), schema=SCHEMA))
    client.add_constraint(constraint("K8sCachedLabels", "c", parameters={"labels": ["b", "a"]}))
    assert [r.msg for r in client.review(pod("p"))] == ["a+b"]
    assert len(list((tmp_path / "rego").glob("*.json"))) == 2


def test_templates_reading_the_inventory_keep_only_their_translation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def taken(client: Client) -> list[str]:
        client.add_template(template("K8sCachedInventory", INVENTORY))
        client.add_constraint(constraint("K8sCachedInventory", "c"))
        before = [r.msg for r in client.review(pod("p", "b"))]
        client.add_data(pod("p", "a"))
        return before + [r.msg for r in client.review(pod("p", "b"))]

    assert taken(rego_client(tmp_path)) == ["taken"]
    assert [p.suffix for p in (tmp_path / "rego").iterdir()] == [".json"]
    monkeypatch.setattr(rego_driver, "translate_template", None)  # the translation comes from the cache
    assert taken(rego_client(tmp_path)) == ["taken"]


def test_an_unusable_cache_directory_only_costs_a_recompile(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert review_labels(rego_client(blocker / "cache")) == ["a, b"]


def test_the_cache_directory_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.setenv(CACHE_DIR_ENV, "")
    assert default_cache_dir() is None
    monkeypatch.delenv(CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "gatekeeper-py"


CEL_SOURCE = {
    "variables": [
        {"name": "missing", "expression": "variables.params.labels.filter(l, !(l in object.metadata.labels))"}
    ],
    "validations": [
        {"expression": "size(variables.missing) == 0", "messageExpression": "variables.missing.join(', ')"}
    ],
}


class CompilingRefused:
    """A CEL environment that reads serialized expressions but refuses to compile."""

    def __init__(self, environment: Any):
        self._environment = environment

    def compile(self, *_: Any) -> None:
        raise AssertionError("compiled although the cache holds the expression")

    def deserialize(self, serialized: bytes) -> Any:
        return self._environment.deserialize(serialized)


def test_a_warm_cel_start_compiles_nothing(tmp_path: Path) -> None:
    def review(driver: CelDriver) -> list[str]:
        client = Client(drivers=[driver])
        tmpl = template("K8sCachedCel", "unused", schema=SCHEMA)
        tmpl["spec"]["targets"][0]["code"] = [{"engine": "K8sNativeValidation", "source": CEL_SOURCE}]
        client.add_template(tmpl)
        client.add_constraint(constraint("K8sCachedCel", "c", parameters={"labels": ["b", "a"]}))
        return [r.msg for r in client.review(pod("p", labels={"a": "1"}))]

    assert review(CelDriver(cache_dir=tmp_path)) == ["b"]
    assert [p.suffix for p in (tmp_path / "cel").iterdir()] == [".json"]
    warm = CelDriver(cache_dir=tmp_path)
    warm._environments = {name: CompilingRefused(env) for name, env in warm._environments.items()}
    assert review(warm) == ["b"]


def test_without_a_home_directory_there_is_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert default_cache_dir() is None


@pytest.mark.parametrize("engine", ["auto", "rego"])
def test_a_second_cli_run_over_an_unchanged_catalogue_compiles_nothing(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries are written only after compiling, so an unchanged cache shows that nothing was compiled."""
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    argv = ("test", "-f", "templates", "-f", "constraints", "-f", "examples/cluster", "--engine", engine)
    first = run_cli(*argv)
    written = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*") if path.is_file()}
    second = run_cli(*argv)
    assert (second.returncode, second.stdout) == (first.returncode, first.stdout) == (0, first.stdout)
    assert "payments/worker" in second.stdout
    assert len(written) >= 10
    assert {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*") if path.is_file()} == written


def test_template_sources_json_cannot_encode_still_load(tmp_path: Path) -> None:
    source = {**CEL_SOURCE, "note": b"hello"}  # an unknown field holding bytes, as YAML's !!binary gives
    tmpl = template("K8sCachedOdd", "unused", schema=SCHEMA)
    tmpl["spec"]["targets"][0]["code"] = [{"engine": "K8sNativeValidation", "source": source}]
    client = Client(drivers=[CelDriver(cache_dir=tmp_path)])
    client.add_template(tmpl)
    client.add_constraint(constraint("K8sCachedOdd", "c", parameters={"labels": ["a"]}))
    assert [r.msg for r in client.review(pod("p", labels={"x": "1"}))] == ["a"]
