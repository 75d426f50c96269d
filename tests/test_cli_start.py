"""Start-up stays light: heavy dependencies are imported where they are first used, not on import.

Checked in a fresh interpreter, since this test session has long imported everything. The CLI's --help and
--version import only `gatekeeper_py.cli.app`; `test`, `verify` and `audit` write to a pipe without rich.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import gatekeeper_py

NOT_ON_IMPORT = {
    "gatekeeper_py": ["gatekeeper_py.client", "cel_expr_python", "yaml"],
    "gatekeeper_py.cli.app": ["gatekeeper_py.client", "cel_expr_python", "yaml"],
    "gatekeeper_py.cli.gator_test": ["rich", "yaml"],
    "gatekeeper_py.cli.gator_verify": ["rich"],
    "gatekeeper_py.cli.audit_cmd": ["rich", "yaml"],
}


@pytest.mark.parametrize("module", sorted(NOT_ON_IMPORT))
def test_import_leaves_heavy_modules_unloaded(module: str) -> None:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(run.stdout))
    assert [name for name in NOT_ON_IMPORT[module] if name in loaded] == []


def test_public_names_load_on_first_access() -> None:
    from gatekeeper_py.client import Client
    from gatekeeper_py.review import build_review

    assert gatekeeper_py.Client is Client
    assert gatekeeper_py.build_review is build_review
    assert all(hasattr(gatekeeper_py, name) for name in gatekeeper_py.__all__)
    assert set(gatekeeper_py.__all__) <= set(dir(gatekeeper_py))
    assert not hasattr(gatekeeper_py, "no_such_name")
