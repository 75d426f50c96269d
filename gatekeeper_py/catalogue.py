"""The template catalogue: every `template.yaml` under a folder, described by its own metadata.

A catalogue template carries `metadata.gatekeeper.sh/title`, `metadata.gatekeeper.sh/version` and `description`
annotations, and documents each parameter in its schema; `gatekeeper-py library list` and the README's table
are both made from that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import GatekeeperPyError, TemplateError
from .loader import read_file
from .model import parse_template
from .model.template import REGO_ENGINE

TEMPLATE_FILE = "template.yaml"
TITLE, VERSION, DESCRIPTION = "metadata.gatekeeper.sh/title", "metadata.gatekeeper.sh/version", "description"
ENGINE_NAMES = {REGO_ENGINE: "rego", "K8sNativeValidation": "cel"}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Entry:
    """One catalogue template."""

    name: str
    kind: str
    title: str
    version: str
    description: str
    engines: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    directory: Path


def _parameters(schema: dict | None) -> tuple[Parameter, ...]:
    properties = (schema or {}).get("properties") or {}
    params = []
    for name, spec in properties.items():
        spec = spec if isinstance(spec, dict) else {}
        kind = str(spec.get("type", "any"))
        items = spec.get("items")
        if kind == "array" and isinstance(items, dict) and items.get("type"):
            kind = f"array of {items['type']}"
        params.append(Parameter(name, kind, " ".join(str(spec.get("description", "")).split())))
    return tuple(params)


def read_entry(path: Path) -> Entry:
    """The catalogue entry of one template file; TemplateError if it is no valid, described template."""
    docs = read_file(path)
    if len(docs) != 1:
        raise TemplateError(f"a catalogue template file holds exactly one template, not {len(docs)}", source=str(path))
    template = parse_template(docs[0].obj, str(path))
    annotations = template.raw.get("metadata", {}).get("annotations") or {}
    missing = [key for key in (TITLE, VERSION, DESCRIPTION) if not annotations.get(key)]
    if missing:
        raise TemplateError(f"missing catalogue annotations {missing}", source=str(path), obj=template.name)
    return Entry(
        name=template.name,
        kind=template.kind,
        title=str(annotations[TITLE]),
        version=str(annotations[VERSION]),
        description=" ".join(str(annotations[DESCRIPTION]).split()),
        engines=tuple(ENGINE_NAMES.get(engine, engine) for engine in template.code),
        parameters=_parameters(template.parameters_schema),
        directory=path.parent,
    )


def read_catalogue(root: Path) -> tuple[list[Entry], list[GatekeeperPyError]]:
    """Every `template.yaml` under `root`, sorted by folder, and an error for each one that is not usable."""
    entries: list[Entry] = []
    errors: list[GatekeeperPyError] = []
    for path in sorted(root.rglob(TEMPLATE_FILE)):
        try:
            entries.append(read_entry(path))
        except GatekeeperPyError as exc:
            errors.append(exc)
    return entries, errors


def markdown_table(entries: list[Entry], relative_to: Path) -> str:
    """The README's table: one row per template, linked to its folder."""
    rows = ["| Template | Title | Engines | Parameters |", "|---|---|---|---|"]
    for e in entries:
        link = e.directory.resolve().relative_to(relative_to.resolve()).as_posix()
        params = ", ".join(f"`{p.name}`" for p in e.parameters) or "none"
        rows.append(f"| [`{e.name}`]({link}/) | {e.title} | {', '.join(e.engines)} | {params} |")
    return "\n".join(rows) + "\n"
