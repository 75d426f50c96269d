"""Memory stays flat over many reviews (bench/soak.py measures it over 100,000).

RSS is noisy on a shared machine, so the native side is measured with glibc's count of bytes handed out and not
yet freed (mallinfo2), which does not move unless something allocates and keeps it, and the Python side with
the interpreter's count of live blocks; both are exact within one process.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gatekeeper_py import Client
from gatekeeper_py.drivers.rego.engine import CompiledPolicy, Runner
from gatekeeper_py.loader import load_all

REPO = Path(__file__).resolve().parent.parent


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd")] + [
        (name, ctypes.c_size_t) for name in ("usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]


def _heap_in_use() -> int:
    """Bytes glibc's malloc has handed out and not had back."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except AttributeError:
        pytest.skip("needs glibc 2.33 or newer (mallinfo2)")
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return info.uordblks + info.hblkhd


def _pod(containers: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "api-0", "namespace": "payments", "labels": {"app": "api", "team": "payments"}},
        "spec": {
            "containers": [
                {"name": f"container-number-{i}", "image": f"docker.io/library/busybox:1.{i}"}
                for i in range(containers)
            ]
        },
    }


def test_the_cxx_runtime_is_shared_before_the_engines_load() -> None:
    """Loading gatekeeper_py's drivers made libstdc++'s symbols global (see drivers/allocator.py): the global
    scope, which rego-cpp's calls of operator new go to first, finds libstdc++'s."""
    runtime = ctypes.CDLL("libstdc++.so.6")
    assert (
        ctypes.cast(runtime._Znwm, ctypes.c_void_p).value == ctypes.cast(ctypes.CDLL(None)._Znwm, ctypes.c_void_p).value
    ), "operator new as the global scope resolves it is not libstdc++'s"


def test_rego_queries_free_what_they_allocate() -> None:
    """rego-cpp builds a key string for every set element and object key a query touches; before the allocators
    were shared, each was allocated by malloc and dropped by snmalloc (some 5.7 KiB a query here)."""
    policy = CompiledPolicy(
        {"names.rego": "package names\nimport rego.v1\nnames contains c.name if some c in input.spec.containers\n"},
        "names/names",
    )
    runner = Runner()
    assert runner.set_input(json.dumps(_pod(containers=8))) is None
    expected = sorted(f"container-number-{i}" for i in range(8))
    for _ in range(50):  # warm-up
        assert runner.query(policy) == expected
    before = _heap_in_use()
    queries = 2000
    for _ in range(queries):
        runner.query(policy)
    per_query = (_heap_in_use() - before) / queries
    assert per_query < 64, f"the C heap grew by {per_query:.0f} bytes per query"


def test_rego_reviews_keep_the_heap_flat() -> None:
    """The starter set with engine="rego", a Pod and a Deployment (expanded into its Pod): it grew by some
    370 KiB a review before."""
    client = Client(engine="rego")
    docs, errors = load_all([REPO / "templates", REPO / "constraints"])
    assert not errors and not client.add_policies(docs)
    pod = _pod()
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "payments"},
        "spec": {"template": {"metadata": {"labels": {"app": "api"}}, "spec": _pod()["spec"]}},
    }
    warnings = len(client.review(pod).results)
    assert warnings > 0  # the reviews find something, so messages are built too
    for _ in range(10):
        client.review(pod)
        client.review(deployment)
    before = _heap_in_use()
    reviews = 40
    for _ in range(reviews // 2):
        assert len(client.review(pod).results) == warnings
        client.review(deployment)
    per_review = (_heap_in_use() - before) / reviews
    assert per_review < 2048, f"the C heap grew by {per_review:.0f} bytes per review"


def test_the_engines_load_in_either_order_once_the_runtime_is_shared() -> None:
    """The same mismatch made cel-cpp abort when regopy loaded first; with the runtime shared, either order
    works (drivers/__init__.py still loads CEL first, for a process where the runtime cannot be shared)."""
    allocator = REPO / "gatekeeper_py/drivers/allocator.py"  # alone: the drivers package would load CEL first
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('allocator', {str(allocator)!r})\n"
        "allocator = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(allocator)\n"
        "assert allocator.share_cxx_allocator()\n"
        "import regopy\n"
        "assert 'cel_expr_python' not in sys.modules\n"
        "print(regopy.Interpreter().query('x := \"a string well over sixteen characters\"'))\n"
        "from cel_expr_python import cel\n"
        "env = cel.NewEnv()\n"
        'print(env.compile(\'"a string literal longer than sixteen characters" + "!"\').eval().value())\n'
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "a string literal longer than sixteen characters!" in done.stdout
