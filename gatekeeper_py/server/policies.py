"""Where the webhook's policies come from, and when they changed.

From files: the `-f` paths, read as `test` reads them; a change is seen by comparing each manifest file's path,
size and modification time between polls, so an edit, a new file or a removal triggers a reload. From a cluster:
the ConstraintTemplates and constraints, listed again at every poll and compared by resourceVersion.

Reading never takes the server down: files are parsed in a short-lived child process (libyaml's C parser has
been seen to overflow the C stack on a file nested 100,000 levels deep, which no `except` can catch); a file that
makes the loader raise anything (not only its own LoadError) or crash becomes one error line naming the file,
and a document that cannot be handed to a worker process (too deep to pickle) one naming the document. These
methods block (disk, network): the server calls them off its event loop.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ..loader import Document, load_all, manifest_files, object_id

Fingerprint = tuple[tuple[Any, ...], ...]
READ_TIMEOUT = 120.0  # seconds the reader process may take over the policy files
_SPAWN = multiprocessing.get_context("spawn")


def _brief(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sendable(docs: list[Document]) -> tuple[list[Document], list[str]]:
    """The documents a worker process can be given, and an error for each one that cannot (pickling fails,
    e.g. on an object nested some hundreds of levels deep)."""
    kept, errors = [], []
    for doc in docs:
        try:
            pickle.dumps(doc)
        except Exception as exc:
            errors.append(f"{doc.source}: {object_id(doc.obj)}: cannot be handed to the engine workers: {_brief(exc)}")
            continue
        kept.append(doc)
    return kept, errors


def read_files(paths: list[str]) -> tuple[list[Document], list[str]]:
    """The documents under `paths` and one error line per file or document that could not be read, whatever the
    loader raises (in this process: see _read_isolated)."""
    try:
        docs, load_errors = load_all(paths)
        errors = [str(e) for e in load_errors]
    except Exception:  # the loader broke on some file: read them one by one to name it, and keep the rest
        docs, errors = file_by_file(paths, _load_one, Exception)
    docs, unsendable = sendable(docs)
    return docs, errors + unsendable


def _load_one(file: Path) -> tuple[list[Document], list[str]]:
    docs, errors = load_all([file])
    return docs, [str(e) for e in errors]


def file_by_file(
    paths: list[str], read: Callable[[Path], tuple[list[Document], list[str]]], failure: type[Exception]
) -> tuple[list[Document], list[str]]:
    """Each manifest file under `paths` read alone by `read`: one that fails with `failure` is named in an error
    line, and every other file's documents are kept."""
    docs: list[Document] = []
    errors: list[str] = []
    for path in paths:
        try:
            files = manifest_files(path)
        except Exception as exc:
            errors.append(str(exc) if getattr(exc, "source", None) else f"{path}: cannot be read: {_brief(exc)}")
            continue
        for file in files:
            try:
                found, failed = read(file)
            except failure as exc:
                reason = str(exc) if isinstance(exc, _ReaderCrashed) else _brief(exc)
                errors.append(f"{file}: cannot be read: {reason}")
                continue
            docs += found
            errors += failed
    return docs, errors


class _ReaderCrashed(Exception):
    """The reader process died or hung."""


def _reader(conn: Connection, paths: list[str]) -> None:
    conn.send(read_files(paths))


def _read_isolated(
    paths: list[str], timeout: float = READ_TIMEOUT, reader: Callable[[Connection, list[str]], None] = _reader
) -> tuple[list[Document], list[str]]:
    """read_files in a child process, so that a parser crash (a signal, not an exception) costs only the child."""
    receiver, sender = _SPAWN.Pipe(duplex=False)
    process = _SPAWN.Process(target=reader, args=(sender, paths), daemon=True)
    process.start()
    sender.close()
    try:
        if receiver.poll(timeout):
            try:
                return receiver.recv()
            except (EOFError, OSError):
                pass
            process.join(5)
            raise _ReaderCrashed(f"the parser crashed (exit code {process.exitcode})")
        raise _ReaderCrashed(f"reading took longer than {timeout:g}s")
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        receiver.close()


class PolicySource:
    """The `-f` paths of `serve`."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self._seen = self._fingerprint()

    def _fingerprint(self) -> Fingerprint:
        entries = []
        for path in self.paths:
            try:
                files = manifest_files(path)
            except Exception:  # reported by read(), which names the path
                entries.append((str(path), -1, -1))
                continue
            for file in files:
                try:
                    stat = Path(file).stat()
                except OSError:
                    continue
                entries.append((str(file), stat.st_size, stat.st_mtime_ns))
        return tuple(sorted(entries))

    def read(self) -> tuple[list[Document], list[str]]:
        """Every document, and one error line per file or document that could not be read."""
        try:
            return _read_isolated(self.paths)
        except _ReaderCrashed:  # some file kills the parser: read each file alone, to name it and keep the rest
            return file_by_file(self.paths, lambda file: _read_isolated([str(file)]), _ReaderCrashed)

    def changed(self) -> tuple[list[Document], list[str]] | None:
        """The documents and read errors, when the files changed since the last look; else None."""
        now = self._fingerprint()
        if now == self._seen:
            return None
        self._seen = now
        return self.read()


class ClusterPolicySource:
    """The ConstraintTemplates and constraints of a cluster, listed again every reload interval; a change in any
    object's resourceVersion (or a new or deleted object) triggers a reload. A failed listing raises (the
    server keeps its policies and says it is stale); it is tried again at the next poll."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self._seen: Fingerprint | None = None  # None: never read, so the first successful listing is a change

    def _documents(self) -> list[Document]:
        from ..cluster import policy_documents

        return policy_documents(self.cluster)

    @staticmethod
    def _fingerprint(docs: list[Document]) -> Fingerprint:
        def version(obj: Any) -> str:
            meta = obj.get("metadata") if isinstance(obj, dict) else None
            return str(meta.get("resourceVersion", "")) if isinstance(meta, dict) else ""

        return tuple(sorted((d.path, version(d.obj)) for d in docs))

    def read(self) -> tuple[list[Document], list[str]]:
        """The cluster's policies now; raises LoadError (or whatever the client raises) when they cannot be read."""
        docs = self._documents()
        self._seen = self._fingerprint(docs)
        return sendable(docs)

    def changed(self) -> tuple[list[Document], list[str]] | None:
        docs = self._documents()
        now = self._fingerprint(docs)
        if now == self._seen:
            return None
        self._seen = now
        return sendable(docs)


def startup_errors(source: PolicySource | ClusterPolicySource, engine: str) -> list[str]:
    """Everything that would keep a policy out at start-up (`serve --strict` refuses to start on any): read
    errors and the loader's errors, found in this process."""
    from .workers import build_client

    try:
        docs, errors = source.read()
    except Exception as exc:
        return [str(exc) if getattr(exc, "source", None) else f"cannot read the policies: {_brief(exc)}"]
    _, load_errors = build_client(docs, engine)
    return errors + load_errors
