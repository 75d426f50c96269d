"""Read Kubernetes manifests from files, directories and stdin.

Every document keeps where it came from, so an error can name the file and the document.
YAML is read the way Kubernetes' own tooling reads it into JSON: timestamps stay strings and
mapping keys become strings.
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LoadError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
_JSON_SPACE = re.compile(r"[ \t\r\n]*")
MAX_DEPTH = 200
"""Nesting levels a document may have. Real manifests stay far below (a CRD schema reaches about 30); the
review code walks objects recursively, and Python allows about 1,000 frames."""
MAX_ALIAS_NODES = 100_000
"""Nodes the YAML aliases of one document may add when expanded (each alias adds the size of what it names)."""
_REPLACED_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("timestamp", "int", "float", "value")}


@functools.cache
def _manifest_loader() -> type:
    """SafeLoader whose plain scalars resolve as in Kubernetes' go-yaml: timestamps, `1:20` (base 60) and `=`
    stay strings, and `1e3` is a number. Built on first use: PyYAML is imported only when YAML is read."""
    import yaml

    from .yaml_limits import bounded_loader

    # libyaml's parser when PyYAML has it (about 7 times faster on templates); the composer (bounded: see
    # yaml_limits), constructor and resolvers are Python's either way.
    class _ManifestLoader(bounded_loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader))):  # type: ignore[misc]
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


def too_many_digits(text: str) -> str:
    digits = sum(c.isdigit() for c in text)
    return f"an integer of {digits} digits is too large (at most {sys.get_int_max_str_digits()})"


class _NotJson(ValueError):
    """A value a JSON manifest cannot hold: nested too deeply, or of a YAML-only type (a date, bytes, a set)."""


def _json_value(value: Any, depth: int = 0) -> Any:
    """The value as Kubernetes' YAML-to-JSON step leaves it: mapping keys become strings (YAML allows `80: x`;
    JSON and Kubernetes do not). Refuses nesting deeper than MAX_DEPTH and values JSON has no type for."""
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise _NotJson(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        return {_json_key(k): _json_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v, depth + 1) for v in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise _NotJson(f"a value of type {type(value).__name__} ({str(value)[:40]!r}) has no JSON equivalent")


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key).strip('"')
    raise _NotJson(f"a mapping key of type {type(key).__name__} ({str(key)[:40]!r}) has no JSON equivalent")


@dataclass(frozen=True)
class Document:
    """One parsed manifest and where it came from."""

    obj: Any
    path: str
    index: int = 0
    count: int = 1
    line: int = 1
    """The line of the file where the document starts (1-based)."""
    item: int | None = None
    """The position among the `items` of a List document this object was unwrapped from."""

    @property
    def source(self) -> str:
        """`path`, `path (document N)` inside a multi-document stream, `path (item M)` or
        `path (document N, item M)` for an object from a List."""
        parts = [f"document {self.index + 1}"] if self.count > 1 else []
        parts += [f"item {self.item + 1}"] if self.item is not None else []
        return f"{self.path} ({', '.join(parts)})" if parts else self.path


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
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ""
    kind = kind or "<no kind>"
    name = meta_string(obj, "name") or meta_string(obj, "generateName") or "<no name>"
    namespace = meta_string(obj, "namespace")
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def _json_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _NotJson(too_many_digits(text)) from None


def _json_stream(text: str) -> list[tuple[Any, int]]:
    """Concatenated JSON values and their first lines, as Kubernetes' YAMLOrJSONDecoder reads a stream that
    starts with `{`."""
    decoder, docs, pos = json.JSONDecoder(parse_int=_json_int), [], 0
    while (pos := _JSON_SPACE.match(text, pos).end()) < len(text):
        line = text.count("\n", 0, pos) + 1
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except RecursionError:
            raise _NotJson(f"the document at line {line} is nested more than {MAX_DEPTH} levels deep") from None
        except _NotJson as exc:
            raise _NotJson(f"the document at line {line}: {exc}") from None
        docs.append((doc, line))
    return docs


def _yaml_stream(text: str, path: str) -> list[tuple[Any, int, list[int]]]:
    """YAML documents, their first lines and the first lines of their `items` (for List documents)."""
    import yaml

    from .yaml_limits import LimitError

    docs = []
    try:
        loader = _manifest_loader()(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                docs.append((loader.construct_document(node), node.start_mark.line + 1, _item_lines(node)))
        finally:
            loader.dispose()
    except LimitError as exc:
        raise LoadError(f"refused YAML: {exc}", source=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise LoadError(f"invalid YAML/JSON{where}: {problem}", source=path) from None
    return docs


def _item_lines(node: Any) -> list[int]:
    """The first line of each entry of a top-level `items:` sequence."""
    from yaml.nodes import MappingNode, SequenceNode

    if isinstance(node, MappingNode):
        for key, value in node.value:
            if key.value == "items" and isinstance(value, SequenceNode):
                return [item.start_mark.line + 1 for item in value.value]
    return []


def is_list(obj: Any) -> bool:
    """A `kind: List` (what `kubectl get -o yaml` prints) or a typed list such as `PodList` with `items` (a kind
    that merely ends in List, without `items`, is an object)."""
    if not (isinstance(obj, dict) and isinstance(obj.get("kind"), str) and obj["kind"].endswith("List")):
        return False
    items = obj.get("items")
    return isinstance(items, list) or (items is None and ("items" in obj or obj["kind"] == "List"))


def _list_items(obj: dict[str, Any]) -> list[Any]:
    """The objects of a List. A typed list's items may leave out their kind and apiVersion (the API server's
    `PodList` does): they are the list's, without `List`."""
    items = obj.get("items") or []
    kind = obj["kind"][: -len("List")]
    if not kind:
        return items
    return [
        {"apiVersion": obj.get("apiVersion"), "kind": kind, **item} if isinstance(item, dict) else item
        for item in items
    ]


def parse_text(text: str, path: str, unwrap_lists: bool = False) -> list[Document]:
    """Parse a YAML or JSON document stream; empty documents (nothing, null or `{}`) are skipped. With
    `unwrap_lists`, a List document stands for its items, each a Document of its own."""
    try:
        raw = (
            [(doc, line, []) for doc, line in _json_stream(text)]
            if text.lstrip().startswith("{")
            else _yaml_stream(text, path)
        )
        kept = [(_json_value(doc), line, items) for doc, line, items in raw if doc not in (None, {})]
    except json.JSONDecodeError as exc:
        where = f" at line {exc.lineno}, column {exc.colno}"
        raise LoadError(f"invalid YAML/JSON{where}: {exc.msg}", source=path) from None
    except _NotJson as exc:
        raise LoadError(f"refused: {exc}", source=path) from None
    docs = []
    for i, (obj, line, item_lines) in enumerate(kept):
        if not (unwrap_lists and is_list(obj)):
            docs.append(Document(obj=obj, path=path, index=i, count=len(kept), line=line))
            continue
        for j, item in enumerate(_list_items(obj)):
            item_line = item_lines[j] if j < len(item_lines) else line
            docs.append(Document(obj=item, path=path, index=i, count=len(kept), line=item_line, item=j))
    return docs


def stdin_is_piped() -> bool:
    """True when standard input is a pipe, a file or a socket, which gator reads along with its -f paths; False
    for a terminal, /dev/null or a closed stdin."""
    try:
        return not stat.S_ISCHR(os.fstat(0).st_mode)
    except OSError:
        return False


def _read_stdin() -> str:
    if sys.stdin is None:  # started with stdin closed
        return ""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        return sys.stdin.read()
    try:
        return stream.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(f"cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})", source="<stdin>") from None
    except OSError as exc:
        raise LoadError(f"cannot read: {exc.strerror or exc}", source="<stdin>") from None


def read_file(path: Path | str, unwrap_lists: bool = False) -> list[Document]:
    """All documents of one file, or of stdin for `-` (see parse_text for `unwrap_lists`)."""
    name = str(path)
    if name == STDIN:
        return parse_text(_read_stdin(), "<stdin>", unwrap_lists)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise LoadError(f"cannot read file: {reason}", source=name) from None
    return parse_text(text, name, unwrap_lists)


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
    """Documents from files, directories (recursive) and `-` (stdin), in the order given, Lists unwrapped;
    stops at an error."""
    for path in paths:
        if str(path) == STDIN:
            yield from read_file(STDIN, unwrap_lists=True)
            continue
        for file in manifest_files(path):
            yield from read_file(file, unwrap_lists=True)


def load_all(paths: Iterable[Path | str]) -> tuple[list[Document], list[LoadError]]:
    """Every readable document under `paths` (Lists unwrapped into their items), and one error per path or file
    that could not be read, or directory that holds no manifest file."""
    docs: list[Document] = []
    errors: list[LoadError] = []
    for path in paths:
        items: Iterable[Path | str | LoadError] = [STDIN] if str(path) == STDIN else _walk(Path(path))
        found = False
        for item in items:
            if isinstance(item, LoadError):
                errors.append(item)
                found = True
                continue
            found = True
            try:
                docs += read_file(item, unwrap_lists=True)
            except LoadError as exc:
                errors.append(exc)
        if not found:
            errors.append(LoadError(f"no manifest files ({', '.join(MANIFEST_SUFFIXES)}) found", source=str(path)))
    return docs, errors
