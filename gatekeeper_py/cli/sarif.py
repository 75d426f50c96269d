"""SARIF 2.1.0 for `test`: each result points at the file and line of the object it is about, so code-scanning
UIs (GitHub, GitLab, VS Code) show it next to the manifest. One rule per constraint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import __version__
from ..enforcement import DENY, WARN
from ..loader import STDIN, Document, object_id
from ..results import Result

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def _level(result: Result) -> str:
    if DENY in result.actions:
        return "error"
    return "warning" if WARN in result.actions else "note"


def _uri(path: str) -> str:
    """A relative path stays relative (code scanning resolves it against the checkout); others become file URIs."""
    if path in (STDIN, "<stdin>"):
        return "stdin"
    p = Path(path)
    return p.resolve().as_uri() if p.is_absolute() else p.as_posix()


def _rule_id(result: Result) -> str:
    return f"{result.constraint.kind}/{result.constraint.name}"


def render_sarif(results: list[tuple[Document, Result]]) -> dict[str, Any]:
    """The SARIF log of a `test` run."""
    rules: dict[str, dict[str, Any]] = {}
    for _, r in results:
        rules.setdefault(
            _rule_id(r),
            {
                "id": _rule_id(r),
                "name": r.constraint.name,
                "shortDescription": {"text": f"Constraint {r.constraint.name} of kind {r.constraint.kind}"},
                "properties": {"enforcementAction": r.enforcement_action},
            },
        )
    index = {rule_id: i for i, rule_id in enumerate(rules)}
    sarif_results = [
        {
            "ruleId": _rule_id(r),
            "ruleIndex": index[_rule_id(r)],
            "level": _level(r),
            "message": {"text": r.msg},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(doc.path)},
                        "region": {"startLine": doc.line},
                    },
                    "logicalLocations": [{"fullyQualifiedName": object_id(doc.obj), "kind": "resource"}],
                }
            ],
        }
        for doc, r in results
    ]
    driver = {"name": "gatekeeper-py", "version": __version__, "rules": list(rules.values())}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": sarif_results}],
    }
