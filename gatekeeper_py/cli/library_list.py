"""`gatekeeper-py library list`: the catalogue's templates, for people, for scripts, or as the README's table."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from ..catalogue import Entry, markdown_table, read_catalogue
from .output import error_line, to_json


def human_table(entries: list[Entry]) -> str:
    rows = [("NAME", "TITLE", "ENGINES", "PARAMETERS")]
    rows += [(e.name, e.title, ",".join(e.engines), ",".join(p.name for p in e.parameters) or "-") for e in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3] + "\n" for row in rows
    )


def run_library_list(root: Path, output: str) -> int:
    if not root.is_dir():
        error_line(f"{root}: no such directory")
        return 2
    entries, errors = read_catalogue(root)
    for error in errors:
        error_line(str(error))
    if output == "json":
        rows = [{**dataclasses.asdict(e), "directory": e.directory.as_posix()} for e in entries]
        sys.stdout.write(to_json(rows) + "\n")
    elif output == "markdown":
        sys.stdout.write(markdown_table(entries, Path.cwd()))
    else:
        sys.stdout.write(human_table(entries))
    return 2 if errors else 0
