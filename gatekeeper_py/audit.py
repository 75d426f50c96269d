"""Audit reports: what Gatekeeper's audit writes into each constraint's status.

Per constraint: `totalViolations` (every result, whatever its action) and at most `limit` violations, the ones
smallest by (group, version, kind, namespace, name, message, action), listed largest first, each message cut to
256 bytes (Gatekeeper's audit manager and its LimitQueue).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .loader import meta_string
from .model import Constraint
from .results import Result
from .review import group_version_kind

DEFAULT_VIOLATIONS_LIMIT = 20
MESSAGE_BYTES = 256


def truncate_message(msg: str, size: int = MESSAGE_BYTES) -> str:
    """Gatekeeper's truncateString: over `size` bytes, the first `size - 3` bytes and "..."."""
    raw = msg.encode("utf-8")
    if len(raw) <= size:
        return msg
    return raw[: size - 3].decode("utf-8", errors="replace") + "..."


@dataclass(frozen=True, order=True)
class AuditViolation:
    """One entry of `status.violations`."""

    group: str
    version: str
    kind: str
    namespace: str
    name: str
    message: str
    enforcement_action: str
    enforcement_actions: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": self.group, "version": self.version, "kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        out |= {"message": self.message, "enforcementAction": self.enforcement_action}
        if self.enforcement_actions:
            out["enforcementActions"] = list(self.enforcement_actions)
        return out


def violation_of(result: Result, obj: dict[str, Any]) -> AuditViolation:
    gvk = group_version_kind(obj)
    return AuditViolation(
        group=gvk["group"],
        version=gvk["version"],
        kind=gvk["kind"],
        namespace=meta_string(obj, "namespace"),
        name=meta_string(obj, "name"),
        message=truncate_message(result.msg),
        enforcement_action=result.enforcement_action,
        enforcement_actions=result.scoped_actions,
    )


@dataclass
class ConstraintAudit:
    """The audit of one constraint."""

    constraint: Constraint
    total: int = 0
    violations: list[AuditViolation] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.constraint.kind,
            "name": self.constraint.name,
            "enforcementAction": self.constraint.enforcement_action,
            "totalViolations": self.total,
            "violations": [v.to_dict() for v in self.violations],
        }


def summarize(
    constraints: Iterable[Constraint],
    results: Iterable[tuple[dict[str, Any], Result]],
    limit: int = DEFAULT_VIOLATIONS_LIMIT,
) -> list[ConstraintAudit]:
    """One ConstraintAudit per constraint (sorted by kind and name), from (violating object, result) pairs."""
    audits = {(c.kind, c.name): ConstraintAudit(c) for c in constraints}
    found: dict[tuple[str, str], list[AuditViolation]] = {key: [] for key in audits}
    for obj, result in results:
        key = (result.constraint.kind, result.constraint.name)
        if key not in audits:
            audits[key] = ConstraintAudit(result.constraint)
            found[key] = []
        audits[key].total += 1
        found[key].append(violation_of(result, obj))
    for key, audit in audits.items():
        audit.violations = sorted(heapq.nsmallest(limit, found[key]), reverse=True) if limit > 0 else []
    return [audits[key] for key in sorted(audits)]
