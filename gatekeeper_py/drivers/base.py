"""The interface every engine implements (modelled on frameworks' Go `Driver`).

A driver compiles templates and evaluates them; it never reads files and never matches: the client
passes it only the constraints that already matched the review.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..model import Constraint, ConstraintTemplate


def distinct(keys: Sequence[Hashable]) -> tuple[list[int], list[int]]:
    """For items known by `keys`: the position of the first item of each distinct key, and for every item the
    index of its key among those (how a driver evaluates constraints with the same parameters once)."""
    index: dict[Hashable, int] = {}
    firsts: list[int] = []
    for position, key in enumerate(keys):
        if key not in index:
            index[key] = len(firsts)
            firsts.append(position)
    return firsts, [index[key] for key in keys]


@dataclass(frozen=True)
class Violation:
    """One violation a template reported for one constraint."""

    constraint: Constraint
    msg: str
    details: Any = field(default_factory=dict)
    error: bool = False
    """The template could not be evaluated for this constraint: `msg` says why (Gatekeeper reports such errors
    as results too)."""


class Deadline:
    """When a review must be done (`time.monotonic()` seconds), and how long it was given."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()
        self.end = self.start + seconds

    def passed(self) -> bool:
        return time.monotonic() > self.end

    def missed(self, kind: str) -> str:
        """The error text of a template left unevaluated because the deadline passed."""
        elapsed = time.monotonic() - self.start
        return f"template {kind} was not evaluated: the review's deadline of {self.seconds:g}s passed ({elapsed:.2f}s)"


def evaluation_failed(kind: str, exc: BaseException) -> str:
    """The error text of an engine failure that the driver did not report itself."""
    reason = "nested too deeply" if isinstance(exc, RecursionError) else f"{type(exc).__name__}: {exc}"
    return f"template {kind} could not be evaluated: {reason}"


class Driver(Protocol):
    engine: str
    """The `code[].engine` this driver runs, e.g. "Rego"."""

    def add_template(self, template: ConstraintTemplate) -> None:
        """Compile a template (replacing one of the same kind); raise TemplateError if it cannot."""

    def remove_template(self, kind: str) -> None: ...

    def set_inventory(self, inventory: dict[str, Any]) -> None:
        """The referential data templates read as `data.inventory`."""

    def query(
        self, matched: Mapping[str, Sequence[Constraint]], review: dict[str, Any], deadline: Deadline | None = None
    ) -> list[Violation]:
        """Evaluate, against the `input.review` document, each template kind of `matched` for each of its
        constraints (all that matched the review among the templates this driver runs). A kind reached after
        `deadline` passed is not evaluated: each of its constraints gets an error violation instead."""
