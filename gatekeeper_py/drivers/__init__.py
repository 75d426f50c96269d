"""The engines: Rego (rego-cpp through regopy) and CEL (cel-cpp through cel-expr-python)."""

# cel-expr-python must be loaded before regopy. Loaded the other way round, cel-cpp aborts the process ("double
# free or corruption") on its first string literal of 16 characters or more: both native libraries bring their
# own allocator. Every import of either engine goes through this package, so this line orders them.
import cel_expr_python.cel  # noqa: F401
