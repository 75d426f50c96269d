"""The interface every engine implements (modelled on frameworks' Go `Driver`).

A driver compiles templates and evaluates them; it never reads files and never matches: the client
passes it only the constraints that already matched the review.
"""

from __future__ import annotations

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


class Driver(Protocol):
    engine: str
    """The `code[].engine` this driver runs, e.g. "Rego"."""

    def add_template(self, template: ConstraintTemplate) -> None:
        """Compile a template (replacing one of the same kind); raise TemplateError if it cannot."""

    def remove_template(self, kind: str) -> None: ...

    def set_inventory(self, inventory: dict[str, Any]) -> None:
        """The referential data templates read as `data.inventory`."""

    def query(self, matched: Mapping[str, Sequence[Constraint]], review: dict[str, Any]) -> list[Violation]:
        """Evaluate, against the `input.review` document, each template kind of `matched` for each of its
        constraints (all that matched the review among the templates this driver runs)."""
