"""The engines: Rego (rego-cpp through regopy) and CEL (cel-cpp through cel-expr-python)."""

from .allocator import share_cxx_allocator

# Before either engine loads: one operator new/delete for rego-cpp and the C++ runtime, or every rego-cpp query
# leaks the strings the runtime grows for it, and cel-cpp can abort (see allocator.py).
share_cxx_allocator()

# cel-expr-python is loaded before regopy. Loaded the other way round where no allocator could be shared above,
# cel-cpp aborts the process ("double free or corruption") on its first string literal of 16 characters or more.
# Every import of either engine goes through this package, so this line orders them.
import cel_expr_python.cel  # noqa: E402, F401
