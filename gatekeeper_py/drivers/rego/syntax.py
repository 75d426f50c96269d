"""The Rego AST: one shape for Rego v0 and v1 sources.

Every node is a small frozen dataclass. `line`/`col` (1-based) are carried by every node but take no part in
equality or hashing, so two trees compare equal when they mean the same thing wherever they were written.
For the same reason a string compares by its value only: its source spelling (`text`, `raw`) is kept for
messages and tools, not for meaning.

Rules carry a normalised meaning (`RuleKind`) that no longer depends on the syntax version they were written
in: v0's `violation[{"msg": m}] { ... }` and v1's `violation contains {"msg": m} if { ... }` are the same
`Rule`. Infix operators are `BinOp` nodes rather than calls; parentheses leave no trace (the tree shape holds
the grouping).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class RegoSyntaxError(Exception):
    """A Rego source that does not parse; str() is `filename:line:col: message`."""

    def __init__(self, message: str, filename: str, line: int, col: int):
        self.message, self.filename, self.line, self.col = message, filename, line, col
        super().__init__(f"{filename}:{line}:{col}: {message}")


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every node: a source position that equality ignores."""

    line: int = field(default=0, compare=False, repr=False, kw_only=True)
    col: int = field(default=0, compare=False, repr=False, kw_only=True)


# --- terms ---


@dataclass(frozen=True, slots=True)
class String(Node):
    """A string literal. `text` is the source between the delimiters; `raw` is true for backtick strings."""

    value: str
    text: str = field(default="", compare=False, repr=False)
    raw: bool = field(default=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Number(Node):
    """A number literal, kept as written (`1`, `-2.5`, `1e3`, `.5`): Rego numbers are arbitrary precision."""

    text: str


@dataclass(frozen=True, slots=True)
class Boolean(Node):
    value: bool


@dataclass(frozen=True, slots=True)
class Null(Node):
    pass


@dataclass(frozen=True, slots=True)
class Var(Node):
    """A variable or a name (`x`, `_`, `input`, `data`, a rule or function name)."""

    name: str


@dataclass(frozen=True, slots=True)
class Ref(Node):
    """`head.a[b]["c"]`: a dotted part is a `String`; a bracket part is any term."""

    head: Term
    parts: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A function call; `name` is the dotted name (`("object", "get")`, `("data", "lib", "f")`)."""

    name: tuple[str, ...]
    args: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class BinOp(Node):
    """An infix operator: comparison (`== != < > <= >=`), arithmetic (`+ - * / %`) or set (`| &`)."""

    op: str
    left: Term
    right: Term


@dataclass(frozen=True, slots=True)
class Membership(Node):
    """`value in collection`, or `key, value in collection` when `key` is set."""

    key: Term | None
    value: Term
    collection: Term


@dataclass(frozen=True, slots=True)
class Array(Node):
    items: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class Set(Node):
    """A set literal; the empty set is written `set()`."""

    items: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class Object(Node):
    items: tuple[tuple[Term, Term], ...]


@dataclass(frozen=True, slots=True)
class ArrayComprehension(Node):
    head: Term
    body: Body


@dataclass(frozen=True, slots=True)
class SetComprehension(Node):
    head: Term
    body: Body


@dataclass(frozen=True, slots=True)
class ObjectComprehension(Node):
    key: Term
    value: Term
    body: Body


@dataclass(frozen=True, slots=True)
class TemplateString(Node):
    """`$"text {expr} text"` (OPA >= 1.12): literal parts are decoded `str`, expression parts are terms."""

    parts: tuple[str | Term, ...]
    raw: bool = field(default=False, compare=False, repr=False)


Term = (
    String
    | Number
    | Boolean
    | Null
    | Var
    | Ref
    | Call
    | BinOp
    | Membership
    | Array
    | Set
    | Object
    | ArrayComprehension
    | SetComprehension
    | ObjectComprehension
    | TemplateString
)
SCALARS = (String, Number, Boolean, Null)


# --- expressions (the literals of a body) ---


@dataclass(frozen=True, slots=True)
class Assignment(Node):
    """`left := right` (declares local variables) or `left = right` (unification)."""

    op: str
    left: Term
    right: Term


@dataclass(frozen=True, slots=True)
class SomeDecl(Node):
    """`some x, y`: declares local variables."""

    vars: tuple[Var, ...]


@dataclass(frozen=True, slots=True)
class SomeIn(Node):
    """`some value in collection` or `some key, value in collection`."""

    key: Term | None
    value: Term
    collection: Term


@dataclass(frozen=True, slots=True)
class Every(Node):
    """`every value in collection { body }` or `every key, value in collection { body }`."""

    key: Var | None
    value: Var
    collection: Term
    body: Body


@dataclass(frozen=True, slots=True)
class With(Node):
    """`with target as value`: `target` is a `Var` or a `Ref` (`input.x`, `data.y`, a function name)."""

    target: Term
    value: Term


@dataclass(frozen=True, slots=True)
class Expr(Node):
    """One literal of a body: a term, an assignment, `some`, or `every`; maybe negated, maybe with `with`s."""

    value: Term | Assignment | SomeDecl | SomeIn | Every
    negated: bool = False
    withs: tuple[With, ...] = ()


Body = tuple[Expr, ...]


# --- rules and modules ---


class RuleKind(StrEnum):
    """What a rule defines, independent of the syntax it was written in."""

    COMPLETE = "complete"  # p := v / p.q.r := v / p["k"] := v: one value
    PARTIAL_SET = "partial_set"  # p contains x / v0 p[x]: a set built from every body
    PARTIAL_OBJECT = "partial_object"  # p[k] := v with a non-constant key: an object built from every body
    FUNCTION = "function"  # f(x) := v


@dataclass(frozen=True, slots=True)
class ElseClause(Node):
    """`else [:= value] [if] { body }`; `value` None is the implicit `true`, `body` () is unconditional."""

    value: Term | None
    assign: str | None
    body: Body


@dataclass(frozen=True, slots=True)
class Rule(Node):
    """A rule. `path` is the head after the name (`a.b.c := 1` has name `a`, path `("b", "c")` as Strings).

    - partial sets: `key` is the element, `path` the set's own path;
    - partial objects: `key` is the (non-constant) object key, `path` the object's path;
    - `value` None means the implicit `true`; `assign` is the operator written (`:=` or `=`) when there is one;
    - `bodies` () means unconditional; v0 `p { a } { b }` has two bodies (it is two rules of one head);
    - `else_` is the ordered `else` chain of complete rules and functions.
    """

    kind: RuleKind
    name: str
    path: tuple[Term, ...] = ()
    args: tuple[Term, ...] = ()
    key: Term | None = None
    value: Term | None = None
    assign: str | None = None
    default: bool = False
    bodies: tuple[Body, ...] = ()
    else_: tuple[ElseClause, ...] = ()


@dataclass(frozen=True, slots=True)
class Import(Node):
    """`import data.lib.x as y`: `path` starts with its root (`data`, `input`, `future` or `rego`)."""

    path: tuple[str, ...]
    alias: str | None = None


@dataclass(frozen=True, slots=True)
class Module(Node):
    """A parsed module; `package` is the path after `package` (`("lib", "helpers")`)."""

    package: tuple[str, ...]
    imports: tuple[Import, ...]
    rules: tuple[Rule, ...]


def is_ground(term: Term, *, comprehensions: bool = False) -> bool:
    """True when the term is a constant: no variables, references, calls or operators anywhere in it.

    `comprehensions=True` counts comprehensions as constants (OPA's rule for the value of a default rule).
    """
    if isinstance(term, SCALARS) or (comprehensions and isinstance(term, _COMPREHENSIONS)):
        return True
    if isinstance(term, Array | Set):
        return all(is_ground(item, comprehensions=comprehensions) for item in term.items)
    if isinstance(term, Object):
        return all(
            is_ground(k, comprehensions=comprehensions) and is_ground(v, comprehensions=comprehensions)
            for k, v in term.items
        )
    if isinstance(term, TemplateString):
        return all(isinstance(part, str) or is_ground(part, comprehensions=comprehensions) for part in term.parts)
    return False


_COMPREHENSIONS = (ArrayComprehension, SetComprehension, ObjectComprehension)


def split_bodies(module: Module) -> Module:
    """The same module with every several-bodied rule split into one rule per body (as the emitter prints it)."""
    rules: list[Rule] = []
    for rule in module.rules:
        if len(rule.bodies) < 2:
            rules.append(rule)
            continue
        last = len(rule.bodies) - 1
        for i, body in enumerate(rule.bodies):
            rules.append(replace(rule, bodies=(body,), else_=rule.else_ if i == last else ()))
    return replace(module, rules=tuple(rules))


def children(node: Node) -> list[tuple[str, Any]]:
    """A node's meaningful fields (position fields left out), as (name, value)."""
    return [(f.name, getattr(node, f.name)) for f in dataclasses.fields(node) if f.compare]


def walk(node: Any) -> Iterator[Node]:
    """Every node in `node` (a node or a tuple of them), parents first."""
    if isinstance(node, tuple):
        for item in node:
            yield from walk(item)
    elif isinstance(node, Node):
        yield node
        for _, value in children(node):
            yield from walk(value)


def lib_names(module: Module) -> set[str]:
    """The names a module reaches other modules by: `data` and the last word (or alias) of its data imports."""
    return {"data"} | {imp.alias or imp.path[-1] for imp in module.imports if imp.path[0] == "data"}
