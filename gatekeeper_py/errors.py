"""Exceptions raised by the library.

Each carries where the bad input came from (``source``: a file path, ``file#doc``, or ``<stdin>``) and
which object it is (``obj``: ``Kind/name``), so the CLI can print one clear line and exit 2.
"""

from __future__ import annotations


class GatekeeperPyError(Exception):
    """Base class: something in the input is wrong."""

    def __init__(self, reason: str, *, source: str | None = None, obj: str | None = None) -> None:
        self.reason = reason
        self.source = source
        self.obj = obj
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.source, self.obj) if part)
        return f"{where}: {self.reason}" if where else self.reason


class LoadError(GatekeeperPyError):
    """A file or stream could not be read or parsed."""


class TemplateError(GatekeeperPyError):
    """A ConstraintTemplate is invalid or does not compile."""


class ConstraintError(GatekeeperPyError):
    """A constraint is invalid for its template."""


class SchemaError(ConstraintError):
    """A constraint's parameters fail the template's schema (Gatekeeper's ``ErrSchema``)."""


class ExpansionError(GatekeeperPyError):
    """An ExpansionTemplate is invalid, or closes an expansion cycle."""


class ReviewError(GatekeeperPyError):
    """The object or admission request under review cannot be reviewed."""


class MatchError(GatekeeperPyError):
    """A constraint's ``spec.match`` cannot be evaluated against an object (becomes an autoreject)."""
