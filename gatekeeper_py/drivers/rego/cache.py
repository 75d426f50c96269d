"""Translated and compiled Rego templates kept on disk (../cache.py), so a run over an unchanged catalogue
does not recompile it.

An entry holds the engine text of each module and whether the template reads the inventory (JSON) and, for a
template that does not read it, the rego-cpp bundle (binary; the bundle of a template that reads the inventory
holds the inventory, so it is built again). A bundle is loaded only when its bytes have the checksum recorded
next to them: rego-cpp is never given anything truncated or foreign.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ...model import ConstraintTemplate, RegoSource
from ..cache import cache_key, driver_digest, write_atomically
from .engine import CompiledPolicy, EngineError


@cache
def _digest() -> str:
    return driver_digest(Path(__file__).parent, "regopy")


@dataclass(frozen=True)
class Translation:
    """A template's modules as handed to rego-cpp."""

    modules: dict[str, str]
    reads_inventory: bool
    reads_parameters: bool
    reads_whole_input: bool


@dataclass(frozen=True)
class Entry:
    translation: Translation
    policy: CompiledPolicy | None
    """None for a template that reads the inventory (or whose bundle could not be read)."""


class TemplateCache:
    """Compiled Rego templates in one directory."""

    def __init__(self, directory: Path):
        self.directory = directory / "rego"

    @staticmethod
    def key(template: ConstraintTemplate, rego: RegoSource) -> str:
        return cache_key(_digest(), template.kind, rego.version, rego.rego, list(rego.libs))

    def get(self, key: str, entrypoint: str) -> Entry | None:
        try:
            meta = json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
            translation = Translation(
                dict(meta["modules"]),
                bool(meta["reads_inventory"]),
                bool(meta["reads_parameters"]),
                bool(meta["reads_whole_input"]),
            )
            policy = None
            if meta["bundle_sha256"]:
                path = self.directory / f"{key}.rbb"
                if hashlib.sha256(path.read_bytes()).hexdigest() == meta["bundle_sha256"]:
                    policy = CompiledPolicy.load(path, entrypoint)
        except (OSError, ValueError, KeyError, TypeError, EngineError):
            return None
        return Entry(translation, policy)

    def put(self, key: str, translation: Translation, policy: CompiledPolicy | None) -> None:
        try:
            checksum = None
            if policy is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryDirectory(dir=self.directory) as scratch:
                    written = Path(scratch) / "bundle.rbb"
                    policy.save(written)
                    checksum = hashlib.sha256(written.read_bytes()).hexdigest()
                    written.replace(self.directory / f"{key}.rbb")
            meta = {
                "modules": translation.modules,
                "reads_inventory": translation.reads_inventory,
                "reads_parameters": translation.reads_parameters,
                "reads_whole_input": translation.reads_whole_input,
            }
            write_atomically(self.directory / f"{key}.json", json.dumps(meta | {"bundle_sha256": checksum}).encode())
        except (OSError, EngineError):
            pass
