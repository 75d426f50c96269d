"""Enforcement actions and enforcement points (Gatekeeper pkg/util/enforcement_action.go)."""

from __future__ import annotations

from typing import Any

DENY, DRYRUN, WARN, SCOPED = "deny", "dryrun", "warn", "scoped"
ACTIONS = (DENY, DRYRUN, WARN, SCOPED)
SCOPED_ACTIONS = (DENY, DRYRUN, WARN)

WEBHOOK = "validation.gatekeeper.sh"
AUDIT = "audit.gatekeeper.sh"
GATOR = "gator.gatekeeper.sh"
VAP = "vap.k8s.io"
ALL_POINTS = "*"
ENFORCEMENT_POINTS = (WEBHOOK, AUDIT, GATOR, VAP)


def _go_list(items: Any) -> str:
    return "[" + " ".join(str(i) for i in items) + "]"


def enforcement_action_problems(action: str, scoped: Any) -> list[str]:
    """Gatekeeper's validation of spec.enforcementAction and spec.scopedEnforcementActions."""
    if action in (DENY, DRYRUN, WARN):
        return []
    if action != SCOPED:
        return [f'unrecognized enforcementAction: "{action}" is not within the supported list {_go_list(ACTIONS)}']
    if scoped is None:
        return ["missing required field: spec.scopedEnforcementActions must be defined"]
    shape = (
        "spec.scopedEnforcementAction must be in the format of []{action: string, enforcementPoints: []{name: string}}"
    )
    if not isinstance(scoped, list) or not all(_is_scoped_entry(e) for e in scoped):
        return [shape]
    bad_points: list[str] = []
    bad_actions: list[str] = []
    for entry in scoped:
        if entry.get("action") not in SCOPED_ACTIONS:
            bad_actions.append(str(entry.get("action", "")))
        points = entry.get("enforcementPoints") or []
        if not points:
            bad_points.append("")
        bad_points += [p.get("name", "") for p in points if p.get("name") not in (*ENFORCEMENT_POINTS, ALL_POINTS)]
    problems = []
    if bad_points:
        problems.append(
            f"unrecognized enforcement points: constraint will not be enforced for enforcement points "
            f"{_go_list(bad_points)}, supported enforcement points are {_go_list(ENFORCEMENT_POINTS)}"
        )
    if bad_actions:
        problems.append(
            f"unrecognized enforcementAction: {_go_list(bad_actions)} is not within the supported list "
            f"{_go_list(SCOPED_ACTIONS)}"
        )
    return problems


def _is_scoped_entry(entry: Any) -> bool:
    points = entry.get("enforcementPoints", []) if isinstance(entry, dict) else None
    return isinstance(points, list) and all(isinstance(p, dict) for p in points)


def scoped_actions_for(scoped: list[dict[str, Any]], point: str) -> list[str]:
    """The actions a scoped constraint takes at one enforcement point, de-duplicated, in spec order."""
    actions: list[str] = []
    for entry in scoped:
        names = [p.get("name") for p in entry.get("enforcementPoints") or []]
        if (point in names or ALL_POINTS in names) and entry.get("action") not in actions:
            actions.append(entry["action"])
    return actions
