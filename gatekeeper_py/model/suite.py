"""gator Suites (`test.gatekeeper.sh`, kind Suite): tests of a template and constraint against objects.

Suites are YAML 1.2 as gator reads them: bare `yes`/`no` are strings, only true/false are booleans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import LoadError
from ..yaml_limits import bounded_loader

SUITE_GROUP = "test.gatekeeper.sh"


class _SuiteLoader(bounded_loader(yaml.SafeLoader)):  # type: ignore[misc]
    """Booleans are only true/false (YAML 1.2), so `violations: yes` stays the string "yes". Nesting and alias
    expansion are bounded as for manifests."""


_SuiteLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SuiteLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class Assertion:
    violations: Any = "yes"
    """A count, or "yes" (at least one) / "no" (none); anything else fails the case that holds it."""
    message: str | None = None
    """A regular expression searched in each result's message."""


@dataclass(frozen=True)
class Case:
    name: str
    object: str
    assertions: tuple[Assertion, ...]
    inventory: tuple[str, ...] = ()
    skip: bool = False


@dataclass(frozen=True)
class Test:
    name: str
    template: str
    constraint: str
    cases: tuple[Case, ...] = ()
    invalid: bool = False
    skip: bool = False
    expansion: str = ""


@dataclass(frozen=True)
class Suite:
    path: Path
    tests: tuple[Test, ...] = ()
    skip: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def directory(self) -> Path:
        return self.path.parent


def is_suite(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("kind") == "Suite"
        and str(obj.get("apiVersion", "")).split("/")[0] == SUITE_GROUP
    )


def _assertion(raw: Any, where: str, source: str) -> Assertion:
    if not isinstance(raw, dict):
        raise LoadError(f"{where} must be a mapping", source=source)
    violations = raw.get("violations", "yes")  # checked when the case runs, so only that case fails
    message = raw.get("message")
    if message is not None and not isinstance(message, str):
        raise LoadError(f"{where}.message must be a string", source=source)
    return Assertion(violations=violations, message=message)


def _case(raw: Any, where: str, source: str) -> Case:
    if not isinstance(raw, dict):
        raise LoadError(f"{where} must be a mapping", source=source)
    assertions = raw.get("assertions") or []
    inventory = raw.get("inventory") or []
    if not isinstance(assertions, list) or not isinstance(inventory, list):
        raise LoadError(f"{where}: assertions and inventory must be lists", source=source)
    return Case(
        name=str(raw.get("name", "")),
        object=str(raw.get("object") or ""),
        assertions=tuple(_assertion(a, f"{where}.assertions[{i}]", source) for i, a in enumerate(assertions)),
        inventory=tuple(str(p) for p in inventory),
        skip=bool(raw.get("skip", False)),
    )


def _test(raw: Any, where: str, source: str) -> Test:
    if not isinstance(raw, dict):
        raise LoadError(f"{where} must be a mapping", source=source)
    cases = raw.get("cases") or []
    if not isinstance(cases, list):
        raise LoadError(f"{where}.cases must be a list", source=source)
    return Test(
        name=str(raw.get("name", "")),
        template=str(raw.get("template") or ""),
        constraint=str(raw.get("constraint") or ""),
        cases=tuple(_case(c, f"{where}.cases[{i}]", source) for i, c in enumerate(cases)),
        invalid=bool(raw.get("invalid", False)),
        skip=bool(raw.get("skip", False)),
        expansion=str(raw.get("expansion") or ""),
    )


def read_suite(path: Path) -> Suite | None:
    """The Suite in a file, or None when its first document is not a Suite (gator ignores such files)."""
    try:
        text = path.read_text(encoding="utf-8")
        docs = [doc for doc in yaml.load_all(text, Loader=_SuiteLoader) if doc is not None]
    except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: not UTF-8, an integer of 5,000 digits
        raise LoadError(f"cannot read suite: {exc}", source=str(path)) from None
    if not docs or not is_suite(docs[0]):
        return None
    raw = docs[0]
    tests = raw.get("tests") or []
    if not isinstance(tests, list):
        raise LoadError("tests must be a list", source=str(path))
    return Suite(
        path=path,
        tests=tuple(_test(t, f"tests[{i}]", str(path)) for i, t in enumerate(tests)),
        skip=bool(raw.get("skip", False)),
        raw=raw,
    )


def suite_files(target: str) -> list[Path]:
    """gator's path rules: `dir/...` recurses, a bare directory reads only its own YAML files."""
    recursive = target.endswith("/...") or target == "..."
    base = Path(target[: -len("...")] or ".") if recursive else Path(target)
    if not base.exists():
        raise LoadError("no such file or directory", source=target)
    if base.is_file():
        if base.suffix not in (".yaml", ".yml"):
            raise LoadError("a suite file must end in .yaml or .yml", source=target)
        return [base]
    files = base.rglob("*") if recursive else base.iterdir()
    return sorted((f for f in files if f.is_file() and f.suffix in (".yaml", ".yml")), key=lambda f: str(f.resolve()))
