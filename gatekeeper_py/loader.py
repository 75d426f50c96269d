"""Read Kubernetes manifests from files, directories and stdin.

Every document keeps where it came from, so an error can name the file and the document.
YAML is read the way Kubernetes' own tooling reads it into JSON: timestamps stay strings and
mapping keys become strings.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LoadError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
_JSON_SPACE = re.compile(r"[ \t\r\n]*")
_REPLACED_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("timestamp", "int", "float", "value")}


@functools.cache
def _manifest_loader() -> type:
    """SafeLoader whose plain scalars resolve as in Kubernetes' go-yaml: timestamps, `1:20` (base 60) and `=`
    stay strings, and `1e3` is a number. Built on first use: PyYAML is imported only when YAML is read."""
    import yaml

    # libyaml's parser when PyYAML has it (about 7 times faster on templates); the resolvers are Python's either way.
    class _ManifestLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        pass

    _ManifestLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _ManifestLoader.add_implicit_resolver(
        "tag:yaml.org,2002:int",
        re.compile(r"^[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0[0-7_]+|0|[1-9][0-9_]*)$"),
        list("-+0123456789"),
    )
    _ManifestLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )
    return _ManifestLoader


def _string_keys(value: Any) -> Any:
    """Mapping keys become strings (YAML allows `80: x`; JSON and Kubernetes do not)."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else json.dumps(k).strip('"'): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


@dataclass(frozen=True)
class Document:
    """One parsed manifest and where it came from."""

    obj: Any
    path: str
    index: int = 0
    count: int = 1
    line: int = 1
    """The line of the file where the document starts (1-based)."""

    @property
    def source(self) -> str:
        """`path`, or `path (document N)` inside a multi-document stream."""
        return self.path if self.count == 1 else f"{self.path} (document {self.index + 1})"


def meta_string(obj: Any, key: str) -> str:
    """`metadata.<key>` as Kubernetes' accessors read it: "" unless it is a string."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    value = meta.get(key) if isinstance(meta, dict) else None
    return value if isinstance(value, str) else ""


def meta_labels(obj: Any) -> dict[str, str]:
    """`metadata.labels` as Kubernetes' accessors read it: empty unless it maps strings to strings."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    if isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values()):
        return labels
    return {}


def object_id(obj: Any) -> str:
    """`Kind/namespace/name` of a manifest, as far as it has them ("" for something that is no mapping)."""
    if not isinstance(obj, dict):
        return ""
    kind = obj.get("kind") or "<no kind>"
    name = meta_string(obj, "name") or meta_string(obj, "generateName") or "<no name>"
    namespace = meta_string(obj, "namespace")
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def _json_stream(text: str) -> list[tuple[Any, int]]:
    """Concatenated JSON values and their first lines, as Kubernetes' YAMLOrJSONDecoder reads a stream that
    starts with `{`."""
    decoder, docs, pos = json.JSONDecoder(), [], 0
    while (pos := _JSON_SPACE.match(text, pos).end()) < len(text):
        line = text.count("\n", 0, pos) + 1
        doc, pos = decoder.raw_decode(text, pos)
        docs.append((doc, line))
    return docs


def _yaml_stream(text: str, path: str) -> list[tuple[Any, int]]:
    """YAML documents and their first lines."""
    import yaml

    docs = []
    try:
        loader = _manifest_loader()(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                docs.append((loader.construct_document(node), node.start_mark.line + 1))
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise LoadError(f"invalid YAML/JSON{where}: {problem}", source=path) from None
    return docs


def parse_text(text: str, path: str) -> list[Document]:
    """Parse a YAML or JSON document stream; empty documents (nothing, null or `{}`) are skipped."""
    try:
        raw = _json_stream(text) if text.lstrip().startswith("{") else _yaml_stream(text, path)
    except json.JSONDecodeError as exc:
        where = f" at line {exc.lineno}, column {exc.colno}"
        raise LoadError(f"invalid YAML/JSON{where}: {exc.msg}", source=path) from None
    kept = [(_string_keys(doc), line) for doc, line in raw if doc not in (None, {})]
    return [Document(obj=doc, path=path, index=i, count=len(kept), line=line) for i, (doc, line) in enumerate(kept)]


def read_file(path: Path | str) -> list[Document]:
    """All documents of one file, or of stdin for `-`."""
    name = str(path)
    if name == STDIN:
        return parse_text(sys.stdin.read(), "<stdin>")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise LoadError(f"cannot read file: {reason}", source=name) from None
    return parse_text(text, name)


KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_KUSTOMIZATION_KEYS = {"apiVersion", "kind", "metadata", "resources"}


def _kustomization(directory: Path) -> Path | None:
    return next((directory / n for n in KUSTOMIZATION_NAMES if (directory / n).is_file()), None)


def _kustomization_resources(file: Path) -> list[str]:
    """The `resources:` of a kustomization file. Only plain resource lists are followed: a field that would
    change the manifests (patches, generators, ...) is refused rather than ignored."""
    docs = read_file(file)
    spec = docs[0].obj if len(docs) == 1 else None
    if not isinstance(spec, dict):
        raise LoadError("a kustomization must be one mapping", source=str(file))
    unsupported = sorted(set(spec) - _KUSTOMIZATION_KEYS)
    if unsupported:
        raise LoadError(
            f"unsupported kustomization fields {unsupported}: only resources are followed", source=str(file)
        )
    resources = spec.get("resources") or []
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise LoadError("resources must be a list of relative paths", source=str(file))
    return resources


def _walk(path: Path, following: frozenset[Path] = frozenset()) -> Iterator[Path | LoadError]:
    """Manifest files under `path`, or a LoadError for each part that cannot be read."""
    if path.is_dir():
        kustomization = _kustomization(path)
        if kustomization is None:
            for entry in sorted(path.iterdir()):
                if entry.name.startswith("."):
                    continue  # hidden: editor files, and a mounted ConfigMap's `..data` copies
                if entry.is_dir() or entry.suffix.lower() in MANIFEST_SUFFIXES:
                    yield from _walk(entry, following)
            return
        yield from _follow(kustomization, following)
    elif not path.exists():
        yield LoadError("no such file or directory", source=str(path))
    elif path.suffix.lower() not in MANIFEST_SUFFIXES:
        yield LoadError(f"not a manifest file: expected one of {', '.join(MANIFEST_SUFFIXES)}", source=str(path))
    else:
        yield path


def _follow(kustomization: Path, following: frozenset[Path]) -> Iterator[Path | LoadError]:
    """The files a kustomization's `resources:` name, in its order. `following` holds the kustomizations being
    followed, so a cycle ends instead of recursing forever."""
    key = kustomization.resolve()
    if key in following:
        return
    following |= {key}
    try:
        resources = _kustomization_resources(kustomization)
    except LoadError as exc:
        yield exc
        return
    for resource in resources:
        if "://" in resource or resource.startswith(("github.com/", "git@")):
            yield LoadError(f"remote resource {resource!r} is not supported", source=str(kustomization))
            continue
        target = kustomization.parent / resource
        if not target.exists():
            yield LoadError(f"resource {resource!r}: no such file or directory", source=str(kustomization))
            continue
        yield from _walk(target, following)


def manifest_files(path: Path | str) -> list[Path]:
    """The manifest files of a path: the file itself, or a directory's files (recursive, sorted). A directory
    holding a kustomization file is read through its `resources:` instead, as `kubectl apply -k` would.
    Raises the first LoadError met."""
    files = []
    for item in _walk(Path(path)):
        if isinstance(item, LoadError):
            raise item
        files.append(item)
    return files


def read_paths(paths: Iterable[Path | str]) -> Iterator[Document]:
    """Documents from files, directories (recursive) and `-` (stdin), in the order given; stops at an error."""
    for path in paths:
        if str(path) == STDIN:
            yield from read_file(STDIN)
            continue
        for file in manifest_files(path):
            yield from read_file(file)


def load_all(paths: Iterable[Path | str]) -> tuple[list[Document], list[LoadError]]:
    """Every readable document under `paths`, and one error per path or file that could not be read."""
    docs: list[Document] = []
    errors: list[LoadError] = []
    for path in paths:
        items: Iterable[Path | str | LoadError] = [STDIN] if str(path) == STDIN else _walk(Path(path))
        for item in items:
            if isinstance(item, LoadError):
                errors.append(item)
                continue
            try:
                docs += read_file(item)
            except LoadError as exc:
                errors.append(exc)
    return docs, errors
