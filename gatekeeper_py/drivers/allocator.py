"""One C++ allocator for rego-cpp and the C++ runtime it links, so rego-cpp's queries free what they allocate.

rego-cpp's `librego_shared.so` carries its own `operator new`/`delete` (snmalloc) and calls them through its PLT,
while the C++ runtime it links, `libstdc++.so.6`, has usually been loaded before it (by cel-expr-python, or any
C++ extension), with its own `new`/`delete` bound to malloc. A string that libstdc++'s out-of-line code grows
(the `std::ostringstream` in rego-cpp's `to_key`, which builds the key of every set element and object key a
query touches, and `Output`'s JSON) is then allocated by malloc and freed by snmalloc, which drops memory it does
not own: measured 0.6 KiB per trivial query, 5.7 KiB per query iterating a Pod's containers, 370 KiB per review
of the starter set with `engine="rego"`. Putting libstdc++'s symbols in the process's global scope before
regopy loads binds rego-cpp's `new`/`delete` to libstdc++'s (the global scope is searched before a library's
own), so one allocator serves both and nothing is lost. It also makes the order in which the two engines load
irrelevant to their allocators (cel-cpp already uses libstdc++'s).
"""

from __future__ import annotations

import ctypes
import os
import sys

CXX_RUNTIME = "libstdc++.so.6"


def share_cxx_allocator() -> bool:
    """Make the C++ runtime's symbols global (once per process; cheap after the first call). False where there
    is nothing to do or it cannot be loaded (not Linux, another C++ runtime): rego-cpp then keeps its own."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL(CXX_RUNTIME, mode=os.RTLD_GLOBAL)
    except OSError:
        return False
    return True
