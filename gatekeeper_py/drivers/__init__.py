"""The engines: Rego (rego-cpp through regopy) and CEL (cel-cpp through cel-expr-python)."""

from .allocator import share_cxx_allocator

# Before either engine loads: rego-cpp's operator new/delete must resolve to the C++ runtime's, or every query
# leaks the strings libstdc++ grows for it (see allocator.py).
share_cxx_allocator()

# cel-expr-python is loaded before regopy. Loaded the other way round without the shared runtime above (where it
# cannot be shared), cel-cpp aborts the process ("double free or corruption") on its first string literal of 16
# characters or more. Every import of either engine goes through this package, so this line orders them.
import cel_expr_python.cel  # noqa: E402, F401
