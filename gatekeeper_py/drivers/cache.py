"""Where the drivers keep compiled templates between runs, and the helpers they share for it.

The directory is `$GATEKEEPER_PY_CACHE_DIR`, else `$XDG_CACHE_HOME/gatekeeper-py`, else
`~/.cache/gatekeeper-py`; `GATEKEEPER_PY_CACHE_DIR=` (empty) turns caching off. Each entry is keyed by a
SHA-256 of everything its compiled form depends on, including the source of the driver that compiled it and the
engine's version, so a changed driver or engine never serves stale output. A cache that cannot be read or written
is skipped: it only ever costs a recompile.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

CACHE_DIR_ENV = "GATEKEEPER_PY_CACHE_DIR"


def default_cache_dir() -> Path | None:
    """Where compiled templates are kept; None when caching is turned off."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured is not None:
        return Path(configured) if configured else None
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "gatekeeper-py"
    try:
        return Path.home() / ".cache" / "gatekeeper-py"
    except RuntimeError:  # no home directory (some containers): no cache
        return None


def driver_digest(driver_dir: Path, engine_distribution: str) -> str:
    """A digest of a driver's sources (the .py files of `driver_dir`) and of its engine's installed version."""
    try:
        engine_version = version(engine_distribution)
    except PackageNotFoundError:  # importable without package metadata: the driver's sources still count
        engine_version = "unknown"
    digest = hashlib.sha256(engine_version.encode())
    for path in sorted(driver_dir.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(*parts: Any) -> str:
    """The SHA-256 of `parts` (what JSON cannot encode, such as bytes from a YAML `!!binary`, by its repr)."""
    return hashlib.sha256(json.dumps(parts, default=repr).encode()).hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the whole old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, scratch = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
