"""`gatekeeper-py rego translate`: the Rego v1 text that rego-cpp is given for a template or a .rego file."""

from __future__ import annotations

from pathlib import Path

from ..drivers.rego.driver import translate
from ..errors import GatekeeperPyError, LoadError
from ..loader import read_file
from ..model import is_template, parse_template


def translated_modules(path: str, rego_version: str) -> list[tuple[str, str]]:
    """(module name, translated text) for each module of a template file, or for one .rego file."""
    if path.endswith(".rego"):
        try:
            source = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise LoadError(f"cannot read file: {exc.strerror}", source=path) from None
        return [(path, translate(source, rego_version, Path(path).name))]
    templates = [doc for doc in read_file(path) if is_template(doc.obj)]
    if not templates:
        raise LoadError("no ConstraintTemplate in the file", source=path)
    modules: list[tuple[str, str]] = []
    for doc in templates:
        template = parse_template(doc.obj, doc.source)
        rego = template.rego
        if rego is None:
            raise LoadError(f"ConstraintTemplate/{template.name} has no Rego source", source=doc.source)
        sources = [(f"{template.kind}.rego", rego.rego)] + [
            (f"{template.kind}.lib{i}.rego", lib) for i, lib in enumerate(rego.libs)
        ]
        try:
            modules += [(name, translate(text, rego.version, name)) for name, text in sources]
        except GatekeeperPyError as exc:
            raise type(exc)(exc.reason, source=doc.source, obj=f"ConstraintTemplate/{template.name}") from None
    return modules


def render_modules(modules: list[tuple[str, str]]) -> str:
    return "".join(f"# --- {name} ---\n{text.rstrip()}\n\n" for name, text in modules)
