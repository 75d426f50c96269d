"""Where the webhook's policies come from, and when they changed.

From files: the `-f` paths, read as `test` reads them; a change is seen by comparing each manifest file's path,
size and modification time between polls, so an edit, a new file or a removal triggers a reload.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import LoadError
from ..loader import Document, load_all, manifest_files


class PolicySource:
    """The `-f` paths of `serve`."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self._seen = self._fingerprint()

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        entries = []
        for path in self.paths:
            try:
                files = manifest_files(path)
            except LoadError:
                continue
            for file in files:
                try:
                    stat = Path(file).stat()
                except OSError:
                    continue
                entries.append((str(file), stat.st_size, stat.st_mtime_ns))
        return tuple(sorted(entries))

    def read(self) -> tuple[list[Document], list[str]]:
        """Every document, and one error line per file that could not be read."""
        docs, errors = load_all(self.paths)
        return docs, [str(e) for e in errors]

    def changed(self) -> list[Document] | None:
        """The documents, when the files changed since the last look and all of them read; else None."""
        now = self._fingerprint()
        if now == self._seen:
            return None
        self._seen = now
        docs, errors = self.read()
        if errors:
            for error in errors:
                logging.getLogger("gatekeeper_py.server").error("policy reload rejected: %s", error)
            return None
        return docs


class ClusterPolicySource:
    """The ConstraintTemplates and constraints of a cluster, listed again every reload interval; a change in any
    object's resourceVersion (or a new or deleted object) triggers a reload."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self._seen: tuple[tuple[str, str], ...] = ()

    def _documents(self) -> list[Document]:
        from ..cluster import policy_documents

        return policy_documents(self.cluster)

    @staticmethod
    def _fingerprint(docs: list[Document]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((d.path, str((d.obj.get("metadata") or {}).get("resourceVersion", ""))) for d in docs))

    def read(self) -> tuple[list[Document], list[str]]:
        try:
            docs = self._documents()
        except LoadError as exc:
            return [], [str(exc)]
        self._seen = self._fingerprint(docs)
        return docs, []

    def changed(self) -> list[Document] | None:
        try:
            docs = self._documents()
        except LoadError as exc:
            logging.getLogger("gatekeeper_py.server").error("cannot read the cluster's policies: %s", exc)
            return None
        now = self._fingerprint(docs)
        if now == self._seen:
            return None
        self._seen = now
        return docs
