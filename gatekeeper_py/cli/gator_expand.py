"""`gatekeeper-py expand`: print what the ExpansionTemplates among the inputs generate, as `gator expand` does."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import GatekeeperPyError
from ..expansion import Expander, is_expansion_template, parse_expansion_template
from ..loader import load_all, meta_string
from .output import error_line

MUTATOR_KINDS = frozenset({"Assign", "AssignMetadata", "ModifySet", "AssignImage"})
MUTATIONS_GROUP = "mutations.gatekeeper.sh"


@dataclass
class ExpandRun:
    resultants: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.errors.append(message)
        error_line(message)


def is_mutator(obj: Any) -> bool:
    api_version = obj.get("apiVersion") if isinstance(obj, dict) else None
    return (
        isinstance(api_version, str)
        and api_version.startswith(MUTATIONS_GROUP + "/")
        and obj.get("kind") in MUTATOR_KINDS
    )


def warn_mutators(objects: list[Any]) -> None:
    """gator applies Assign/AssignMetadata/ModifySet/AssignImage to resultants; we do not, so say so once."""
    names = sorted(f"{o['kind']}/{meta_string(o, 'name')}" for o in objects if is_mutator(o))
    if names:
        error_line(f"mutators are not applied (not supported yet): {', '.join(names)}", prefix="warning")


def run_expand(paths: list[str]) -> ExpandRun:
    """Every resultant the inputs' ExpansionTemplates make from the inputs' objects, sorted as gator sorts them."""
    run = ExpandRun()
    docs, load_errors = load_all(paths)
    for error in load_errors:
        run.fail(str(error))
    if not docs and not load_errors:
        run.fail("no input data identified")
    expander = Expander()
    for doc in docs:
        if is_expansion_template(doc.obj):
            try:
                expander.add(parse_expansion_template(doc.obj, doc.source))
            except GatekeeperPyError as exc:
                run.fail(str(exc))
    warn_mutators([d.obj for d in docs])
    for doc in docs:
        if not isinstance(doc.obj, dict) or not doc.obj.get("kind"):
            run.fail(f"{doc.source}: not a Kubernetes object (no kind)")
            continue
        try:
            run.resultants += [r.obj for r in expander.expand(doc.obj)]
        except GatekeeperPyError as exc:
            run.fail(f"{doc.source}: {exc}")
    # gator sorts by name + apiVersion + kind, descending.
    run.resultants.sort(
        key=lambda o: meta_string(o, "name") + str(o.get("apiVersion", "")) + str(o["kind"]), reverse=True
    )
    return run


def _go_json(obj: Any) -> str:
    """Go's json.MarshalIndent: sorted keys, four spaces, HTML characters escaped."""
    text = json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False)
    for char, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text + "\n"


def _go_yaml(obj: Any) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=True, allow_unicode=True, default_flow_style=False)


def render_expanded(resultants: list[dict[str, Any]], fmt: str) -> str:
    """The resultants joined by `---` lines, in YAML or JSON, as gator prints them."""
    convert = _go_json if fmt == "json" else _go_yaml
    return "---\n".join(convert(r) for r in resultants) + "\n"
