"""Review results: what each constraint found, with enforcement actions, ordered as Gatekeeper orders them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .enforcement import DENY, SCOPED, WARN
from .model import Constraint
from .model.template import TARGET_NAME


@dataclass(frozen=True)
class Result:
    """One violation (or autoreject) of one constraint."""

    msg: str
    constraint: Constraint
    enforcement_action: str
    scoped_actions: tuple[str, ...] = ()
    details: Any = field(default_factory=dict)
    violating_object: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    target: str = TARGET_NAME
    error: bool = False
    """The template could not be evaluated (`msg` says why): Gatekeeper reports it as a result all the same."""

    @property
    def actions(self) -> tuple[str, ...]:
        """What this result does at the enforcement point it came from."""
        return self.scoped_actions if self.enforcement_action == SCOPED else (self.enforcement_action,)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of frameworks' `types.Result` as gator prints it."""
        out: dict[str, Any] = {"target": self.target, "msg": self.msg}
        if self.details is not None:  # None for autoreject results, which carry no metadata
            out["metadata"] = {"details": copy.deepcopy(self.details)}
        out["constraint"] = copy.deepcopy(self.constraint.obj)
        out["enforcementAction"] = self.enforcement_action
        if self.scoped_actions:
            out["scopedActions"] = list(self.scoped_actions)
        return out


def sort_results(results: list[Result]) -> list[Result]:
    """Ordered by (action, msg), ties by constraint kind and name.

    Gatekeeper sorts by (action, msg) with an unstable sort; the tie-break makes our order reproducible.
    """
    return sorted(results, key=lambda r: (r.enforcement_action, r.msg, r.constraint.kind, r.constraint.name))


@dataclass(frozen=True)
class Responses:
    """The outcome of one review."""

    results: list[Result]

    def _messages(self, action: str) -> list[str]:
        return [f"[{r.constraint.name}] {r.msg}" for r in self.results if action in r.actions]

    @property
    def allowed(self) -> bool:
        """False when any result denies."""
        return not any(DENY in r.actions for r in self.results)

    @property
    def deny_messages(self) -> list[str]:
        """`[constraint-name] msg` for every deny, as the webhook reports them."""
        return self._messages(DENY)

    @property
    def warnings(self) -> list[str]:
        """`[constraint-name] msg` for every warn."""
        return self._messages(WARN)

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)
