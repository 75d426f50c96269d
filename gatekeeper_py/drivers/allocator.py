"""One C++ allocator for rego-cpp and the C++ runtime it links, so rego-cpp's queries free what they allocate.

rego-cpp's `librego_shared.so` carries its own `operator new`/`delete` (snmalloc) and calls them through its PLT,
while the C++ runtime it links, `libstdc++.so.6`, binds its own to malloc when something else loaded it first
(cel-expr-python, or any C++ extension). A string that libstdc++'s out-of-line code grows (the
`std::ostringstream` in rego-cpp's `to_key`, which builds the key of every set element and object key a query
touches, and `Output`'s JSON) is then allocated by malloc and freed by snmalloc, which drops memory it does not
own: measured 0.6 KiB per trivial query, 5.7 KiB per query iterating a Pod's containers, 370 KiB per review of
the starter set with `engine="rego"`. The same mismatch the other way round made cel-cpp abort when regopy was
loaded first.

So, before either engine loads, one allocator is put in the process's global scope, which every library's calls
of `operator new`/`delete` search first:
- rego-cpp's own (snmalloc), when no C++ runtime is loaded yet (the usual case): rego-cpp, libstdc++ and cel-cpp
  then all use snmalloc, which makes rego-cpp's queries 10-25% faster than on malloc (measured in CPU time);
- else libstdc++'s (malloc): rego-cpp then uses malloc like everything loaded before it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path

CXX_RUNTIME = "libstdc++.so.6"
REGO_LIBRARY = "librego_shared.so"


def _loaded(library: str) -> bool:
    try:
        ctypes.CDLL(library, mode=os.RTLD_NOLOAD)
    except OSError:
        return False
    return True


def _rego_library() -> str | None:
    """The path regopy loads rego-cpp from (without importing regopy, which would load it privately)."""
    spec = importlib.util.find_spec("regopy")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / REGO_LIBRARY
    return str(path) if path.is_file() else None


_chosen: str | None = None


def share_cxx_allocator() -> str | None:
    """Put one C++ allocator in the global scope (see above) and say whose: "rego-cpp" or "libstdc++"; None where
    there is nothing to do (not Linux) or neither loads. Call it before either engine loads; later calls answer
    the same. (A process that imported regopy before gatekeeper_py gets libstdc++'s put in the global scope,
    which changes nothing for rego-cpp, already bound.)"""
    global _chosen
    if _chosen is None and sys.platform.startswith("linux"):
        rego = _rego_library()
        if rego is not None and not _loaded(CXX_RUNTIME) and _promote(rego):
            _chosen = "rego-cpp"  # rego-cpp loaded here brings libstdc++, bound to rego-cpp's allocator
        elif _promote(CXX_RUNTIME):
            _chosen = "libstdc++"
    return _chosen


def _promote(library: str) -> bool:
    try:
        ctypes.CDLL(library, mode=os.RTLD_GLOBAL)
    except OSError:
        return False
    return True
