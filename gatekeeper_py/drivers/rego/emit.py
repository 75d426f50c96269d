"""Print a Module as Rego v1 text that rego-cpp 1.5.2 reads with the meaning the tree has.

This is the last step of the front-end: parse (v0 or v1) -> rewrite passes (not here: renaming keywords used as
names, binding `[_]` out of call arguments, replacing deprecated builtins, re-homing packages) -> emit. The
emitter changes spelling only, never meaning. What it does for rego-cpp (each measured; see the tests):
- every rule is printed with `if`/`contains`; a v0 rule with several bodies becomes several rules of one head;
- one expression per line; an expression that would start a line with `(` or `-` is separated from the one before
  by `;`: rego-cpp glues a `(` line to the previous one as a call (or crashes), and `-` would continue it;
- strings are re-spelled as the JSON text Python's `json.dumps(..., ensure_ascii=False)` gives: rego-cpp compares
  strings by their escaped spelling, so `"\\u0041"` would not equal an input "A" (the engine sends input the same
  way, see engine.to_engine_json);
- template strings are always printed in the double-quoted form (rego-cpp rejects `\\n` in raw ones);
- numbers are printed as written, except that a leading `.` gets a `0` (rego-cpp rejects `.5`);
- nested infix operators get parentheses wherever the tree needs them, and `k, v in xs` everywhere but at the
  top of an expression.
"""

from __future__ import annotations

import json
import re

from .syntax import (
    Array,
    ArrayComprehension,
    Assignment,
    BinOp,
    Body,
    Boolean,
    Call,
    ElseClause,
    Every,
    Expr,
    Import,
    Membership,
    Module,
    Null,
    Number,
    Object,
    ObjectComprehension,
    Ref,
    Rule,
    RuleKind,
    Set,
    SetComprehension,
    SomeDecl,
    SomeIn,
    String,
    TemplateString,
    Term,
    Var,
)

INDENT = "    "
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Words printed as `["word"]` rather than `.word` in references: every Rego keyword, in any version.
_RESERVED = frozenset(
    {"as", "contains", "default", "else", "every", "false", "if", "import", "in", "not", "null", "package", "some"}
    | {"true", "with"}
)
# Binding strength of infix operators (membership loosest); atoms bind tightest.
_PRECEDENCE = {
    **dict.fromkeys(("==", "!=", "<", ">", "<=", ">="), 2),
    "|": 3,
    "&": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
_MEMBERSHIP, _ATOM = 1, 7


def emit_module(module: Module) -> str:
    """Rego v1 text for a module (ends with a newline)."""
    out = [f"package {_path(module.package)}"]
    if module.imports:
        out.append("")
        out.extend(_import(imp) for imp in module.imports)
    for rule in module.rules:
        out.append("")
        out.append(emit_rule(rule))
    return "\n".join(out) + "\n"


def _path(words: tuple[str, ...]) -> str:
    """A package, import or call path: keywords after a dot are fine here (`future.keywords.in`)."""
    return words[0] + "".join(f".{word}" if _IDENTIFIER.match(word) else f"[{emit_string(word)}]" for word in words[1:])


def _import(imp: Import) -> str:
    text = f"import {_path(imp.path)}"
    return f"{text} as {imp.alias}" if imp.alias else text


def _ref_word(word: str) -> str:
    if _IDENTIFIER.match(word) and word not in _RESERVED:
        return f".{word}"
    return f"[{emit_string(word)}]"


def emit_string(value: str) -> str:
    """A string literal spelled the way rego-cpp stores input strings (see the module docstring)."""
    return json.dumps(value, ensure_ascii=False)


# --- rules ---


def emit_rule(rule: Rule) -> str:
    """One rule as v1 text; a rule with several bodies gives one rule per body, separated by blank lines."""
    head = _head(rule)
    if rule.default:
        return f"default {head}"
    if not rule.bodies:
        if rule.else_:  # an else chain needs a body before it
            return head + _if_body((), 0) + _else_chain(rule.else_)
        bare = rule.value is not None or rule.kind in (RuleKind.PARTIAL_SET, RuleKind.FUNCTION)
        return head if bare else head + " if { true }"
    rules = [head + _if_body(body, 0) for body in rule.bodies]
    rules[-1] += _else_chain(rule.else_)
    return "\n\n".join(rules)


def _head(rule: Rule) -> str:
    text = rule.name + "".join(_ref_part(part) for part in rule.path)
    if rule.kind == RuleKind.PARTIAL_SET:
        return f"{text} contains {_term(rule.key, _MEMBERSHIP)}" if rule.key is not None else text
    if rule.kind == RuleKind.PARTIAL_OBJECT and rule.key is not None:
        text += _ref_part(rule.key)
    elif rule.kind == RuleKind.FUNCTION:
        text += f"({_items(rule.args)})"
    if rule.value is not None:
        text += f" {rule.assign or ':='} {_term(rule.value, _MEMBERSHIP)}"
    return text


def _if_body(body: Body, depth: int) -> str:
    if not body:
        return " if { true }"
    return " if " + _block(body, depth)


def _else_chain(clauses: tuple[ElseClause, ...]) -> str:
    text = ""
    for clause in clauses:
        text += " else"
        if clause.value is not None:
            text += f" {clause.assign or ':='} {_term(clause.value, _MEMBERSHIP)}"
        elif not clause.body:
            text += " := true"
        if clause.body:
            text += _if_body(clause.body, 0)
    return text


def _block(body: Body, depth: int) -> str:
    """`{`, one expression per line, `}`; `;` ends a line when the next one starts with `(` or `-`.

    An infix `-` continues an expression across a newline (`x` then `-1` on the next line is `x - 1`, in OPA and
    rego-cpp alike), and rego-cpp reads `x` then `(y)` on the next line as the call `x(y)`.
    """
    inner = INDENT * (depth + 1)
    lines = [emit_expr(expr, depth + 1) for expr in body]
    for i in range(len(lines) - 1):
        if lines[i + 1].startswith(("(", "-")):
            lines[i] += ";"
    return "{\n" + "".join(f"{inner}{line}\n" for line in lines) + INDENT * depth + "}"


# --- expressions ---


def emit_expr(expr: Expr, depth: int = 0) -> str:
    """One body expression (`depth` is the indentation of the line it starts, for nested `every` bodies)."""
    value = expr.value
    if isinstance(value, Assignment):
        text = f"{_term(value.left, _MEMBERSHIP)} {value.op} {_term(value.right, _MEMBERSHIP)}"
    elif isinstance(value, SomeDecl):
        text = "some " + ", ".join(var.name for var in value.vars)
    elif isinstance(value, SomeIn):
        text = "some " + _in_clause(value.key, value.value, value.collection)
    elif isinstance(value, Every):
        text = "every " + _in_clause(value.key, value.value, value.collection) + " " + _block(value.body, depth)
    else:
        text = _term(value, _MEMBERSHIP, top=True)
    if expr.negated:
        text = "not " + text
    for modifier in expr.withs:
        text += f" with {_term(modifier.target, _ATOM)} as {_term(modifier.value, _MEMBERSHIP)}"
    return text


def _in_clause(key: Term | None, value: Term, collection: Term) -> str:
    head = _term(value, _MEMBERSHIP + 1)
    if key is not None:
        head = f"{_term(key, _MEMBERSHIP + 1)}, {head}"
    return f"{head} in {_term(collection, _MEMBERSHIP + 1)}"


def _inline_body(body: Body) -> str:
    """A comprehension body on one line: `;` separators leave no newline for rego-cpp to misread."""
    return "; ".join(emit_expr(expr) for expr in body)


# --- terms ---


def emit_term(term: Term) -> str:
    """A term as it would appear on its own (an expression statement or an assignment side)."""
    return _term(term, _MEMBERSHIP, top=True)


def _precedence(term: Term) -> int:
    if isinstance(term, BinOp):
        return _PRECEDENCE[term.op]
    if isinstance(term, Membership):
        return _MEMBERSHIP
    return _ATOM


def _term(term: Term, min_precedence: int, top: bool = False) -> str:
    """`term`, in parentheses when it binds looser than `min_precedence` demands.

    A `k, v in xs` membership is bare only at the top of an expression, where no comma can mean anything else.
    """
    if isinstance(term, Membership) and term.key is not None and not top:
        return f"({_membership(term)})"
    text = _bare(term)
    return f"({text})" if _precedence(term) < min_precedence else text


def _membership(term: Membership) -> str:
    return _in_clause(term.key, term.value, term.collection)


def _bare(term: Term) -> str:
    if isinstance(term, Var):
        return term.name
    if isinstance(term, String):
        return emit_string(term.value)
    if isinstance(term, Number):
        return _number(term.text)
    if isinstance(term, Boolean):
        return "true" if term.value else "false"
    if isinstance(term, Null):
        return "null"
    if isinstance(term, Ref):
        return _term(term.head, _ATOM) + "".join(_ref_part(part) for part in term.parts)
    if isinstance(term, Call):
        return _path(term.name) + f"({_items(term.args)})"
    if isinstance(term, BinOp):
        level = _PRECEDENCE[term.op]
        return f"{_term(term.left, level)} {term.op} {_term(term.right, level + 1)}"
    if isinstance(term, Membership):
        return _membership(term)
    if isinstance(term, Array):
        return f"[{_items(term.items)}]"
    if isinstance(term, Set):
        return f"{{{_items(term.items)}}}" if term.items else "set()"
    if isinstance(term, Object):
        return "{" + ", ".join(f"{_item(key)}: {_item(value)}" for key, value in term.items) + "}"
    if isinstance(term, ArrayComprehension):
        return f"[{_term(term.head, _ATOM)} | {_inline_body(term.body)}]"
    if isinstance(term, SetComprehension):
        return f"{{{_term(term.head, _ATOM)} | {_inline_body(term.body)}}}"
    if isinstance(term, ObjectComprehension):
        return f"{{{_term(term.key, _ATOM)}: {_term(term.value, _ATOM)} | {_inline_body(term.body)}}}"
    if isinstance(term, TemplateString):
        return _template(term)
    raise TypeError(f"not a Rego term: {term!r}")


def _number(text: str) -> str:
    if text.startswith("."):
        return "0" + text
    if text.startswith("-."):
        return "-0" + text[1:]
    return text


def _item(term: Term) -> str:
    """A collection item, object key or value, or argument: wrapped when it would print as `operand | ...`,
    which after `[`, `{` or `key:` reads as a comprehension (`[a | b == c]`)."""
    if _leads_with_bar(term):
        return f"({_bare(term)})"
    return _term(term, _MEMBERSHIP)


def _leads_with_bar(term: Term) -> bool:
    """Whether the printed term starts with an operand followed by `|` (down its unparenthesised left edge)."""
    while True:
        if isinstance(term, BinOp):
            if term.op == "|":
                return True
            if _precedence(term.left) < _PRECEDENCE[term.op]:
                return False
            term = term.left
        elif isinstance(term, Membership) and term.key is None:
            if _precedence(term.value) <= _MEMBERSHIP:
                return False
            term = term.value
        else:
            return False


def _items(terms: tuple[Term, ...]) -> str:
    return ", ".join(_item(term) for term in terms)


def _ref_part(part: Term) -> str:
    if isinstance(part, String):
        return _ref_word(part.value)
    return f"[{_term(part, _MEMBERSHIP)}]"


def _template(term: TemplateString) -> str:
    out = []
    for part in term.parts:
        if isinstance(part, str):
            out.append(emit_string(part)[1:-1].replace("{", "\\{"))
        else:
            text = _term(part, _MEMBERSHIP, top=True)
            out.append(f"{{ {text} }}" if text.startswith("{") or text.endswith("}") else f"{{{text}}}")
    return '$"' + "".join(out) + '"'
