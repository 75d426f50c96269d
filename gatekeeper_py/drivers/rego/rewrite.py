"""Rewrites of a parsed module so that rego-cpp evaluates it as OPA does (each measured in the tests).

- A reference with a variable index inside a call argument (`startswith(x, repos[_])`, `lower(xs[i])`) does
  not compile in rego-cpp, or silently yields nothing. It is bound to a fresh variable first, in the same body,
  as OPA's own compiler does: `__gk_0 := repos[_]; startswith(x, __gk_0)`. An operator is a call too: an
  operand `spec[field] == true` is bound first as well (rego-cpp evaluates it about 8x slower in place).
- A reference with a variable key used as another reference's key (`listed[names[_]]`) does not compile in
  rego-cpp; it is bound first too: `__gk_0 := names[_]; listed[__gk_0]`.
- rego-cpp keeps a string literal's escapes (`\\"`) as written, but the text of a string made by a builtin
  plain, and its `sprintf` pastes them together: a format with an escape printed it literally when an argument
  held a quote or a backslash. A `sprintf` with a literal format and a literal argument list is therefore
  written as a `concat` of the format's pieces and the arguments as strings (`__gk_str`), which joins both
  forms right; verbs other than `%v`, `%s` and `%q` stay one-verb `sprintf`s of their own.
- rego-cpp's `sprintf` has no `%q`: in a format rewritten to concat, `x` of a `%q` becomes `__gk_quote(x)`, the
  string in double quotes with JSON's escapes (Go's for plain text). (`%q` with flags, `%-8q`, is not covered.)
- rego-cpp's `sort` of a set returns a set; OPA returns a sorted array. `sort` calls go to `__gk_sort`, which
  sorts an array made of the set.
- A comprehension head that is more than a term (`[lower(xs[i]) | ...]`) is moved into the body, as OPA does:
  `[__gk_0 | ...; __gk_0 := lower(xs[i])]`.
- `sprintf` prints some strings with their quotes: one a body bound from a literal (`s := "x"`) and one a
  builtin made (`concat`, `upper`, ...). `trim(s, "")` gives the string in the form it prints right, so each
  argument of a `sprintf` whose arguments are written as an array is passed through `__gk_fmt`, which does
  that for strings and returns anything else unchanged (a helper, see HELPERS).
  A builtin-made string nested inside an array or object argument still prints with its quotes.
- `x := coll[_]` followed by `x` as a reference key (`spec[x]`) makes rego-cpp's compiler crash the process
  (a segfault). The same iteration written `some x in coll` compiles, so every `x := coll[_]` is written so.
- In Rego v0, `contains`, `if`, `in` and `every` are ordinary names (unless imported as keywords, when the
  parser reads them as syntax). Names that are v1 keywords are renamed `__gk_kw_<name>` (variables, rules,
  and calls of functions the module defines), since the module is handed to rego-cpp as v1.
- Rego v0's deprecated builtins (`any`, `all`, `re_match`, `set_diff`, `cast_*`), which OPA still accepts in v0,
  are missing from rego-cpp: their calls are renamed to Rego definitions of the same meaning (HELPERS).
- Inside a comprehension in a function, rego-cpp treats the function's parameters as fresh variables:
  `f(k) := {v | v := obj[k]}` iterates over every `k`. Binding the parameter to a new variable at the start of
  the comprehension's body (`{v | __gk_arg0_k := k; v := obj[__gk_arg0_k]}`) makes it read the argument.
- In a negated call or comparison (`not f(x.y)`, `not x.y > 5`, `not "a" in x.y`; not `==`), OPA's compiler
  binds nested calls, every reference operand and every rule named bare (`not f(r)`) before the negation, so an
  undefined `x.y` makes the whole body fail, and `not f(xs[_])` means "some element fails f". rego-cpp makes
  the `not` true instead, or cannot compile it. The same bindings are made here: `__gk_0 := x.y;
  not f(__gk_0)`. (Gatekeeper's own library relies on this: its psp users suite.)
- `x = expr` inside a comprehension, `x` new there, fails to compile in rego-cpp ("Unable to unify due to
  cycle") when `expr` reads a variable of the enclosing body; it is written `x := expr`, which binds the same.
- Named groups in regexes and empty patterns in `replace` / `strings.replace_n`: see `_routed_call`.
- Speed, not meaning: rego-cpp iterates a path (`input.review.object.spec.containers[_]`, `some c in o.spec.x`)
  several times slower than a variable holding the same collection, so outside negations each iterated path is
  bound to a fresh variable first (`__gk_coll_0 := input.review.object.spec.containers`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

from .syntax import (
    SCALARS,
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
    Membership,
    Module,
    Node,
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
    With,
    children,
    lib_names,
    walk,
)

_SCOPES = (ArrayComprehension, SetComprehension, ObjectComprehension, Every)
FRESH_PREFIX = "__gk_"
FORMAT_FUNCTION = "__gk_fmt"
QUOTE_FUNCTION = "__gk_quote"
# Helper functions a rewritten module may call, by name, with their Rego v1 definitions.
HELPERS = {
    FORMAT_FUNCTION: f"""{FORMAT_FUNCTION}(x) := trim(x, "") if is_string(x)
{FORMAT_FUNCTION}(x) := x if not is_string(x)""",
    "__gk_sort": """__gk_sort(x) := sort([y | some y in x]) if is_set(x)
__gk_sort(x) := sort(x) if not is_set(x)""",
    "__gk_str": """__gk_str(x) := x if is_string(x)
__gk_str(x) := sprintf("%v", [x]) if not is_string(x)""",
    QUOTE_FUNCTION: f"""{QUOTE_FUNCTION}(x) := json.marshal(x) if is_string(x)
{QUOTE_FUNCTION}(x) := x if not is_string(x)""",
    # one `contains` in the usual case (no group syntax at all): this runs on every regex with a computed pattern
    "__gk_re": r"""__gk_re(p) := regex.replace(p, `\(\?P?<[A-Za-z0-9_]+>`, "(") if contains(p, "(?") else := p""",
    "__gk_replace": """__gk_replace(s, old, new) := replace(s, old, new) if old != ""
__gk_replace(s, old, new) := new if {
  old == ""
  s == ""
  is_string(new)
}
__gk_replace(s, old, new) := concat("", [new, concat(new, __gk_runes(s)), new]) if {
  old == ""
  is_string(s)
  s != ""
  is_string(new)
}""",
    "__gk_runes": "__gk_runes(s) := [c | some i in numbers.range(0, count(s) - 1); c := substring(s, i, 1)]",
    "__gk_replace_n": r"""__gk_replace_n(p, s) := strings.replace_n(object.remove(p, {""}), s) if {
  keys := object.keys(p)
  not "" in keys
}
__gk_replace_n(p, s) := __gk_replace(s, "", p[""]) if object.keys(p) == {""}
__gk_replace_n(p, s) := concat("", [p[""], concat(p[""], tokens), p[""]]) if {
  is_string(p[""])
  keys := [e | some k in sort(object.keys(p)); k != ""; e := __gk_regex_escape(k)]
  count(keys) > 0
  found := regex.find_n(concat("|", array.concat(keys, [`[\s\S]`])), s, -1)
  tokens := [v | some t in found; v := object.get(p, t, t)]
}""",
    "__gk_regex_escape": r"""__gk_regex_escape(k) := strings.replace_n({
  `\`: `\\`, `.`: `\.`, `+`: `\+`, `*`: `\*`, `?`: `\?`, `(`: `\(`, `)`: `\)`, `|`: `\|`,
  `[`: `\[`, `]`: `\]`, `{`: `\{`, `}`: `\}`, `^`: `\^`, `$`: `\$`,
}, k)""",
    "__gk_ordered": """__gk_ordered(x) := __gk_sort(x) if is_set(x)
__gk_ordered(x) := x if not is_set(x)""",
    "__gk_any": "__gk_any(xs) := true if { some x in xs; x == true } else := false",
    "__gk_all": "__gk_all(xs) := false if { some x in xs; x != true } else := true",
    "__gk_re_match": "__gk_re_match(pattern, value) := regex.match(pattern, value)",
    "__gk_set_diff": "__gk_set_diff(a, b) := a - b",
    "__gk_cast_array": "__gk_cast_array(x) := sort(x) if is_set(x)\n__gk_cast_array(x) := x if is_array(x)",
    "__gk_cast_set": "__gk_cast_set(x) := {y | some y in x} if is_array(x)\n__gk_cast_set(x) := x if is_set(x)",
    "__gk_cast_string": "__gk_cast_string(x) := x if is_string(x)",
    "__gk_cast_boolean": "__gk_cast_boolean(x) := x if is_boolean(x)",
    "__gk_cast_null": "__gk_cast_null(x) := x if is_null(x)",
    "__gk_cast_object": "__gk_cast_object(x) := x if is_object(x)",
}
# Builtins rego-cpp gets wrong, replaced in every module by Rego definitions (HELPERS).
REPLACED_BUILTINS = {"sort": "__gk_sort"}
DEPRECATED_BUILTINS = frozenset(
    name.removeprefix("__gk_")
    for name in HELPERS
    if name not in (FORMAT_FUNCTION, QUOTE_FUNCTION, "__gk_str", *REPLACED_BUILTINS.values())
)


def _with_replaced_builtins(rule: Rule) -> Rule:
    """The rule calling the replacements of REPLACED_BUILTINS (except inside a replacement itself)."""
    return rule if rule.name in REPLACED_BUILTINS.values() else map_bottom_up(rule, _replace_builtins)


def _replace_builtins(node: Node) -> Node:
    if isinstance(node, Call) and len(node.name) == 1 and node.name[0] in REPLACED_BUILTINS:
        return dataclasses.replace(node, name=(REPLACED_BUILTINS[node.name[0]],))
    return node


HOOK_PACKAGE = "gatekeeper_py_hook"
"""The package of the driver's hook module (driver.py)."""
PACKAGE_NAME_PREFIX = "__gk_pkg_"


def _rename_package_named_variables(module: Module) -> Module:
    """Variables named like a part of the module's package, or like the hook's package, -> `__gk_pkg_<name>`:
    rego-cpp reports recursion on them (`package k` with `{k | ...}`), and under the hook's `with` it loops until
    memory runs out. A name that is also a rule or an import of the module is left alone."""
    taken = {rule.name for rule in module.rules} | {imp.alias or imp.path[-1] for imp in module.imports}
    names = ({*module.package, HOOK_PACKAGE} - taken) - {"input", "data"}

    def rename(node: Node) -> Node:
        if isinstance(node, Var) and node.name in names:
            return dataclasses.replace(node, name=PACKAGE_NAME_PREFIX + node.name)
        return node

    return dataclasses.replace(module, rules=map_bottom_up(module.rules, rename))


def parameters_read_at(module: Module, path: tuple[Term, ...]) -> Module:
    """The module reading `input.parameters...` at `input<path>...` (the driver's shared input holds each
    template kind's parameters under its own key)."""

    def redirect(node: Node) -> Node:
        if isinstance(node, Ref) and node.head == Var(name="input") and node.parts[:1] == (String(value="parameters"),):
            return dataclasses.replace(node, parts=(*path, *node.parts[1:]))
        return node

    return dataclasses.replace(module, rules=map_bottom_up(module.rules, redirect))


def rewrite_module(module: Module, version: str) -> Module:
    """The module with every body rewritten (fresh variables are unique within the module)."""
    module = _rename_package_named_variables(module)
    module = _unifications_as_assignments(module)
    routed = tuple(r if r.name in HELPERS else map_bottom_up(r, _routed_call) for r in module.rules)
    module = dataclasses.replace(module, rules=routed)
    module = _Rewriter(_rule_names(module)).module(module)
    module = _iterations_in_order(module)
    module = dataclasses.replace(module, rules=tuple(_with_formatting(r) for r in module.rules))
    module = dataclasses.replace(module, rules=tuple(_with_replaced_builtins(r) for r in module.rules))
    module = dataclasses.replace(module, rules=tuple(_bind_parameters_in_comprehensions(r) for r in module.rules))
    module = _collections_bound_first(module)
    if version == "v1":
        return module
    module = _rename_keyword_names(module)
    return map_bottom_up(module, _deprecated_to_helper)


ORDER_PREFIX = "__gk_key_"
IN_ORDER, KEYS_IN_ORDER = "__gk_in_order", "__gk_keys_in_order"
HELPERS |= {
    IN_ORDER: f"""{IN_ORDER}(x) := __gk_sort(x) if is_set(x)
{IN_ORDER}(x) := [v | some k in __gk_sort(object.keys(x)); v := x[k]] if is_object(x)
{IN_ORDER}(x) := x if is_array(x)""",
    KEYS_IN_ORDER: f"""{KEYS_IN_ORDER}(x) := __gk_sort(x) if is_set(x)
{KEYS_IN_ORDER}(x) := __gk_sort(object.keys(x)) if is_object(x)
{KEYS_IN_ORDER}(x) := numbers.range(0, count(x) - 1) if is_array(x)""",
}


def _iterations_in_order(module: Module) -> Module:
    """In array comprehensions, sets and objects built in Rego iterated in OPA's sorted order.

    An array comprehension lists its values in the order its body iterates; OPA iterates sets and object keys
    sorted, rego-cpp in the order they were made. Input and data come in with sorted keys (engine.py), so only
    collections that may be built in Rego are changed: `some x in c` iterates `__gk_in_order(c)` (a sorted set, an
    object's values by sorted keys, an array as it is), and `c[k]` with `k` new in the comprehension first binds
    `some k in __gk_keys_in_order(c)`. Collections read from `input` or `data.inventory` (directly or through
    variables bound to them) are left as they are."""
    taken = {node.name for node in walk(module) if isinstance(node, Var)}
    names = (name for i in itertools.count() if (name := f"{ORDER_PREFIX}{i}") not in taken)

    def rule(r: Rule) -> Rule:
        if r.name in HELPERS:
            return r
        from_input = _bound_to_input(r)
        counts: dict[str, int] = {}
        for node in walk(r):
            if isinstance(node, Var):
                counts[node.name] = counts.get(node.name, 0) + 1

        def built(term: Any) -> bool:
            """Whether a collection may be a set or an object made in Rego."""
            if isinstance(term, Array | ArrayComprehension | String | TemplateString | Number):
                return False
            if isinstance(term, Call) and term.name in ((IN_ORDER,), (KEYS_IN_ORDER,)):
                return False
            root = term.head if isinstance(term, Ref) else term
            return not (isinstance(root, Var) and root.name in from_input)

        def scope(node: Node) -> Node:
            if not isinstance(node, ArrayComprehension):
                return node
            inside: dict[str, int] = {}
            for found in walk(node):
                if isinstance(found, Var):
                    inside[found.name] = inside.get(found.name, 0) + 1
            local = {name for name, n in inside.items() if n == counts.get(name, 0)} - {"_"}
            seen: set[str] = set()
            body: list[Expr] = []
            for expr in node.body:
                if expr.negated or expr.withs:
                    body.append(expr)
                elif isinstance(expr.value, SomeIn) and expr.value.key is None and built(expr.value.collection):
                    ordered = Call(name=(IN_ORDER,), args=(expr.value.collection,))
                    body.append(dataclasses.replace(expr, value=dataclasses.replace(expr.value, collection=ordered)))
                elif isinstance(expr.value, SomeDecl):
                    body.append(expr)
                    continue  # declared, not bound
                else:
                    value, added = _keys_first(expr.value, built, local - seen, names)
                    body += [*added, dataclasses.replace(expr, value=value)]
                    seen |= {e.value.value.name for e in added}  # type: ignore[union-attr]
                seen |= {v.name for v in walk(expr) if isinstance(v, Var)}
            return dataclasses.replace(node, body=tuple(body))

        return map_bottom_up(r, scope)

    return dataclasses.replace(module, rules=tuple(rule(r) for r in module.rules))


def _keys_first(
    value: Any, built: Callable[[Any], bool], fresh: set[str], names: Iterator[str]
) -> tuple[Any, list[Expr]]:
    """`value` with each `c[k]` that iterates a collection `built` in Rego (`k` among `fresh`, or `_`) reading a key
    bound first, in sorted order, by one of the expressions returned (`some k in __gk_keys_in_order(c)`)."""
    added: list[Expr] = []
    fresh = set(fresh)

    def key_first(term: Node) -> Node:
        if not isinstance(term, Ref) or not built(term.head):
            return term
        for i, part in enumerate(term.parts):
            if not isinstance(part, Var):
                continue
            if part.name != "_" and part.name not in fresh:
                return term  # a bound key: a lookup, not an iteration
            key = Var(name=next(names)) if part.name == "_" else part
            prefix = Ref(head=term.head, parts=term.parts[:i]) if i else term.head
            ordered = Call(name=(KEYS_IN_ORDER,), args=(prefix,))
            added.append(Expr(value=SomeIn(key=None, value=key, collection=ordered)))
            fresh.discard(key.name)
            return dataclasses.replace(term, parts=(*term.parts[:i], key, *term.parts[i + 1 :]))
        return term

    def visit(node: Any) -> Any:
        if isinstance(node, tuple):
            return tuple(visit(item) for item in node)
        if not isinstance(node, Node) or isinstance(node, (*SCALARS, *_SCOPES)):
            return node  # a nested comprehension orders its own iterations
        changes = {name: visit(v) for name, v in children(node) if isinstance(v, Node | tuple)}
        return key_first(dataclasses.replace(node, **changes) if changes else node)

    return visit(value), added


def _bound_to_input(rule: Rule) -> set[str]:
    """Variables of a rule bound to (parts of) `input` or `data.inventory`: `x := input.a`, `some c in input.b`,
    `y := x.c` and so on."""
    names = {"input"}

    def reads_input(term: Any) -> bool:
        if isinstance(term, Var):
            return term.name in names
        if isinstance(term, Ref) and isinstance(term.head, Var):
            if term.head.name == "data":
                return term.parts[:1] == (String(value="inventory"),)
            return term.head.name in names
        return False

    for _ in range(4):  # bindings through a few variables
        before = len(names)
        for node in walk(rule):
            if isinstance(node, Assignment) and isinstance(node.left, Var) and reads_input(node.right):
                names.add(node.left.name)
            elif isinstance(node, SomeIn) and reads_input(node.collection):
                names |= {t.name for t in (node.key, node.value) if isinstance(t, Var)}
        if len(names) == before:
            break
    return names


# The position of the pattern among the arguments of each regex builtin.
REGEX_PATTERN_ARGUMENT = {
    "regex.match": 0,
    "re_match": 0,
    "regex.is_valid": 0,
    "regex.find_n": 0,
    "regex.find_all_string_submatch_n": 0,
    "regex.split": 0,
    "regex.replace": 1,
}
_NAMED_GROUP = re.compile(r"(?<!\\)((?:\\\\)*)\(\?P?<[A-Za-z0-9_]+>")


def _routed_call(node: Node) -> Node:
    """Calls rego-cpp gets wrong, made right.

    - A regex's named groups, `(?P<name>...)` and `(?<name>...)` (Go's RE2 syntax), make rego-cpp's match
      undefined; the same group without its name means the same to every regex builtin (they report groups by
      position): a literal pattern loses the names here, any other goes through `__gk_re`, which removes them.
    - `replace(s, "", x)` and `strings.replace_n` with an empty pattern never return in rego-cpp; OPA follows Go
      (`x` before each character and at the end). A call whose pattern is not a non-empty literal goes to
      `__gk_replace` / `__gk_replace_n`, which do that. (`__gk_replace_n` hands strings.replace_n its patterns
      without "" even where its body has checked there is none: rego-cpp was seen to make that call anyway.)
    - `concat` of a set joins its elements in the order rego-cpp made them; OPA in sorted order. A `concat`
      whose second argument may be a set goes through `__gk_ordered`, which sorts sets (and keeps arrays)."""
    if not isinstance(node, Call):
        return node
    where = REGEX_PATTERN_ARGUMENT.get(".".join(node.name))
    if where is not None and len(node.args) > where:
        pattern = node.args[where]
        if isinstance(pattern, String):
            routed: Term = dataclasses.replace(pattern, value=_NAMED_GROUP.sub(r"\1(", pattern.value))
        elif (isinstance(pattern, Var) and pattern.name.startswith(FRESH_PREFIX)) or (
            isinstance(pattern, Call) and pattern.name == ("__gk_re",)
        ):
            return node  # routed by an earlier translation already (translating twice changes nothing)
        else:
            routed = Call(name=("__gk_re",), args=(pattern,))
        return dataclasses.replace(node, args=(*node.args[:where], routed, *node.args[where + 1 :]))
    if (
        node.name == ("replace",)
        and len(node.args) == 3
        and not (isinstance(node.args[1], String) and node.args[1].value)
    ):
        return dataclasses.replace(node, name=("__gk_replace",))
    if node.name == ("concat",) and len(node.args) == 2 and _may_be_set(node.args[1]):
        return dataclasses.replace(node, args=(node.args[0], Call(name=("__gk_ordered",), args=(node.args[1],))))
    if node.name == ("strings", "replace_n") and len(node.args) == 2:
        patterns = node.args[0]
        literal = isinstance(patterns, Object) and all(isinstance(k, String) and k.value for k, _ in patterns.items)
        if not literal:
            return dataclasses.replace(node, name=("__gk_replace_n",))
    return node


# Calls that return an array (or nothing): `concat` of one needs no sorting.
_ARRAY_BUILTINS = frozenset(
    {"__gk_ordered", "__gk_sort", "sort", "split", "array.concat", "array.slice", "array.reverse", "regex.split"}
    | {"regex.find_n", "numbers.range", "__gk_in_order", "__gk_runes"}
)


def _may_be_set(term: Any) -> bool:
    """Whether a term may be a set at run time (not an array, nor a call of `__gk_ordered` already)."""
    if isinstance(term, Array | ArrayComprehension | String | Object | ObjectComprehension):
        return False
    return not (isinstance(term, Call) and ".".join(term.name) in _ARRAY_BUILTINS)


def _rule_names(module: Module) -> frozenset[str]:
    """Names that, as bare variables in a body, mean a rule or an import of the module rather than a local."""
    return frozenset({rule.name for rule in module.rules} | {imp.alias or imp.path[-1] for imp in module.imports})


def _unifications_as_assignments(module: Module) -> Module:
    """`x = expr` in a comprehension (or `every`) body, where `x` is a variable new there, -> `x := expr`.

    rego-cpp fails to compile the unification when `expr` reads a variable of the enclosing body ("Unable to
    unify due to cycle", `[g | g = c.image]`); for a new variable both forms bind it to the value. A variable is
    new when nothing before it in the comprehension names it, the rest of the rule does not use it and it is
    not a rule or an import of the module (then `=` compares, and against a constant is written `==`)."""
    globals_ = _rule_names(module) | {"input", "data", "_"}

    def rule(r: Rule) -> Rule:
        counts: dict[str, int] = {}
        for node in walk(r):
            if isinstance(node, Var):
                counts[node.name] = counts.get(node.name, 0) + 1

        def scope(node: Node) -> Node:
            if not isinstance(node, _SCOPES):
                return node
            inside: dict[str, int] = {}
            for found in walk(node):
                if isinstance(found, Var):
                    inside[found.name] = inside.get(found.name, 0) + 1
            local = {name for name, n in inside.items() if n == counts.get(name, 0)} - globals_
            seen: set[str] = set()
            body: list[Expr] = []
            for expr in node.body:
                body.append(_as_assignment(expr, local - seen))
                seen |= {v.name for v in walk(expr) if isinstance(v, Var)}
            return dataclasses.replace(node, body=tuple(body))

        return map_bottom_up(r, scope)

    return dataclasses.replace(module, rules=tuple(rule(r) for r in module.rules))


def _as_assignment(expr: Expr, fresh: set[str]) -> Expr:
    """`x = e` (or `e = x`) -> `x := e` when `x` is among `fresh` and `e` is not a bare variable nor uses `x`;
    `x = "lit"` -> `x == "lit"` when `x` is not fresh (so bound: the unification compares). rego-cpp ignores
    that comparison inside a comprehension (`[y | y := c.n; y = "web"]` kept every `y`)."""
    value = expr.value
    if expr.negated or expr.withs or not isinstance(value, Assignment) or value.op != "=":
        return expr
    for left, right in ((value.left, value.right), (value.right, value.left)):
        if not isinstance(left, Var) or left.name == "_":
            continue
        if left.name not in fresh:
            if isinstance(right, SCALARS):
                return dataclasses.replace(expr, value=BinOp(op="==", left=value.left, right=value.right))
            continue
        if isinstance(right, Var) or any(isinstance(v, Var) and v.name == left.name for v in walk(right)):
            continue
        return dataclasses.replace(expr, value=Assignment(op=":=", left=left, right=right))
    return expr


COLLECTION_PREFIX = "__gk_coll_"


def _collections_bound_first(module: Module) -> Module:
    """Every collection iterated through a path bound to a fresh variable first: `x := input.a.b[_].c` ->
    `__gk_coll_0 := input.a.b; x := __gk_coll_0[_].c`, and `some c in input.a.b` likewise. rego-cpp iterates
    a path (a variable followed by keys) several times slower than a variable. Negated expressions are left
    as they are (binding changes what an undefined path means there)."""
    taken = {node.name for node in walk(module) if isinstance(node, Var)}
    names = (name for i in itertools.count() if (name := f"{COLLECTION_PREFIX}{i}") not in taken)

    def bind(term: Ref, hoisted: list[Expr]) -> Var:
        fresh = Var(name=next(names))
        hoisted.append(Expr(value=Assignment(op=":=", left=fresh, right=term)))
        return fresh

    def bound(node: Any, hoisted: list[Expr]) -> Any:
        if isinstance(node, tuple):
            return tuple(bound(item, hoisted) for item in node)
        if not isinstance(node, Node) or isinstance(node, (*SCALARS, *_SCOPES, TemplateString)):
            # Comprehension and `every` bodies are bodies of their own; in a template string an undefined
            # value prints as `<undefined>` rather than failing the body.
            return node
        if isinstance(node, SomeIn) and _is_path(node.collection):
            node = dataclasses.replace(node, collection=bind(node.collection, hoisted))
        elif isinstance(node, Ref) and node.head != Var(name="data"):  # a prefix of `data` may be a package
            keys = next((i for i, part in enumerate(node.parts) if not isinstance(part, SCALARS)), 0)
            if keys:
                prefix = Ref(head=node.head, parts=node.parts[:keys])
                node = Ref(head=bind(prefix, hoisted), parts=node.parts[keys:])
        changes = {name: bound(value, hoisted) for name, value in children(node) if isinstance(value, Node | tuple)}
        return dataclasses.replace(node, **changes) if changes else node

    def body(exprs: Body) -> Body:
        out: list[Expr] = []
        for expr in exprs:
            if expr.negated or expr.withs:
                out.append(expr)
                continue
            hoisted: list[Expr] = []
            value = bound(expr.value, hoisted)
            out += [*hoisted, dataclasses.replace(expr, value=value)]
        return tuple(out)

    def change(node: Node) -> Node:
        if isinstance(node, _SCOPES):
            return dataclasses.replace(node, body=body(node.body))
        if isinstance(node, ElseClause):
            return dataclasses.replace(node, body=body(node.body))
        if isinstance(node, Rule):
            return dataclasses.replace(node, bodies=tuple(body(b) for b in node.bodies))
        return node

    return dataclasses.replace(module, rules=map_bottom_up(module.rules, change))


def _is_path(term: Any) -> bool:
    """A reference with keys, all of them constants, outside `data` (`input.a.b`)."""
    return (
        isinstance(term, Ref)
        and term.head != Var(name="data")
        and bool(term.parts)
        and all(isinstance(part, SCALARS) for part in term.parts)
    )


def with_helpers(module: Module) -> Module:
    """The module with the rules of every HELPER it calls and does not define yet (helpers may call helpers)."""
    while True:
        defined = {rule.name for rule in module.rules}
        called = {".".join(node.name) for node in walk(module) if isinstance(node, Call)}
        used = sorted((called & set(HELPERS)) - defined)
        if not used:
            return module
        module = dataclasses.replace(
            module, rules=module.rules + tuple(r for name in used for r in _helper_rules(name))
        )


@functools.cache
def _helper_rules(name: str) -> tuple[Rule, ...]:
    from .parser import parse_module

    rules = parse_module(f"package helpers\n{HELPERS[name]}\n", version="v1", filename="helpers.rego").rules
    return tuple(_with_replaced_builtins(_bind_parameters_in_comprehensions(rule)) for rule in rules)


def first_with(node: Any) -> With | None:
    """The first `with` modifier anywhere in a module (rego-cpp's compiler aborts the process on them)."""
    return next((found for found in walk(node) if isinstance(found, With)), None)


_FRESH_NAME = re.compile(re.escape(FRESH_PREFIX) + r"\d+")


def map_bottom_up(node: Any, change: Callable[[Node], Node]) -> Any:
    """`node` with `change` applied to every node in it, children before their parents."""
    if isinstance(node, tuple):
        return tuple(map_bottom_up(item, change) for item in node)
    if not isinstance(node, Node) or isinstance(node, SCALARS):
        return node
    changed = {name: map_bottom_up(value, change) for name, value in children(node) if isinstance(value, Node | tuple)}
    return change(dataclasses.replace(node, **changed) if changed else node)


_VERB = re.compile(r"%(%|[-+# 0]*(?:\d+|\*)?(?:\.(?:\d+|\*))?([a-zA-Z]))")


STRING_FUNCTION = "__gk_str"


# Go's fmt: the verbs that print each kind of value OPA hands it (an integral number as int64, any other number
# as float64, anything else as a string); any other verb prints `%!<verb>(<type>=<value>)`.
_INT_VERBS, _FLOAT_VERBS, _STRING_VERBS = "bcdoOqxXUv", "beEfFgGxXv", "sqxXv"
FORMAT_HELPERS = {
    "__gk_fmt_type": """__gk_fmt_type(x) := "int64" if {
  is_number(x)
  x == floor(x)
}
__gk_fmt_type(x) := "float64" if {
  is_number(x)
  x != floor(x)
}
__gk_fmt_type(x) := "string" if not is_number(x)""",
    "__gk_fmt_typed": '__gk_fmt_typed(x) := concat("", [__gk_fmt_type(x), "=", __gk_str(x)])',
    "__gk_fmt_bad": '__gk_fmt_bad(l, x) := concat("", ["%!", l, "(", __gk_fmt_typed(x), ")"])',
    "__gk_fmt_fits": f"""__gk_fmt_fits(l, x) if {{
  is_number(x)
  x == floor(x)
  contains("{_INT_VERBS}", l)
}}
__gk_fmt_fits(l, x) if {{
  is_number(x)
  x != floor(x)
  contains("{_FLOAT_VERBS}", l)
}}
__gk_fmt_fits(l, x) if {{
  not is_number(x)
  contains("{_STRING_VERBS}", l)
}}""",
    "__gk_fmt_verb": """__gk_fmt_verb(spec, l, x) := sprintf(spec, [floor(x)]) if {
  __gk_fmt_fits(l, x)
  is_number(x)
  x == floor(x)
}
__gk_fmt_verb(spec, l, x) := sprintf(spec, [x]) if {
  __gk_fmt_fits(l, x)
  is_number(x)
  x != floor(x)
}
__gk_fmt_verb(spec, l, x) := sprintf(spec, [__gk_fmt(__gk_str(x))]) if {
  __gk_fmt_fits(l, x)
  not is_number(x)
}
__gk_fmt_verb(spec, l, x) := __gk_fmt_bad(l, x) if not __gk_fmt_fits(l, x)""",
    "__gk_fmt_s": """__gk_fmt_s(x) := __gk_str(x) if not is_number(x)
__gk_fmt_s(x) := __gk_fmt_bad("s", x) if is_number(x)""",
    "__gk_fmt_piece": """__gk_fmt_piece(spec, l, x) := __gk_str(x) if spec == "%v"
__gk_fmt_piece(spec, l, x) := __gk_fmt_s(x) if spec == "%s"
__gk_fmt_piece(spec, l, x) := __gk_str(__gk_quote(x)) if spec == "%q"
__gk_fmt_piece(spec, l, x) := __gk_fmt_verb(spec, l, x) if not spec in {"%v", "%s", "%q"}""",
    "__gk_fmt_at": """__gk_fmt_at(a, i, spec, l) := __gk_fmt_piece(spec, l, a[i]) if count(a) > i
__gk_fmt_at(a, i, spec, l) := concat("", ["%!", l, "(MISSING)"]) if count(a) <= i""",
    "__gk_fmt_extra": """__gk_fmt_extra(a, n) := "" if count(a) <= n
__gk_fmt_extra(a, n) := concat("", ["%!(EXTRA ", concat(", ", extra), ")"]) if {
  count(a) > n
  extra := [t | some x in array.slice(a, n, count(a)); t := __gk_fmt_typed(x)]
}""",
    "__gk_fmt_all": "__gk_fmt_all(a) := [y | some x in a; y := __gk_fmt(x)]",
    "__gk_fmt_width": """__gk_fmt_width(spec, l, x, w, left, p) := __gk_pad(__gk_cut(__gk_str(x), p), w, left) if {
  not is_number(x)
}
__gk_fmt_width(spec, l, x, w, left, p) := __gk_pad(__gk_str(x), w, left) if {
  is_number(x)
  l == "v"
  p < 0
}
__gk_fmt_width(spec, l, x, w, left, p) := __gk_fmt_verb(spec, l, x) if {
  is_number(x)
  l == "v"
  p >= 0
}
__gk_fmt_width(spec, l, x, w, left, p) := concat("", ["%!s(", __gk_fmt_type(x), "=", padded, ")"]) if {
  padded := __gk_pad(__gk_str(x), w, left)
  is_number(x)
  l == "s"
}""",
    "__gk_cut": """__gk_cut(s, p) := s if p < 0
__gk_cut(s, p) := substring(s, 0, p) if p >= 0""",
    "__gk_pad": """__gk_pad(s, w, left) := s if count(s) >= w
__gk_pad(s, w, left) := concat("", [s, spaces]) if {
  left
  count(s) < w
  spaces := concat("", [" " | some _ in numbers.range(1, w - count(s))])
}
__gk_pad(s, w, left) := concat("", [spaces, s]) if {
  not left
  count(s) < w
  spaces := concat("", [" " | some _ in numbers.range(1, w - count(s))])
}""",
}
# A `%s` / `%v` with a width or a precision and no other flag than `-`: rego-cpp's sprintf ignores both for
# strings, so strings are cut and padded by `__gk_fmt_width` (numbers go to sprintf, which handles them).
_STRING_WIDTH = re.compile(r"%(-?)(\d*)(?:\.(\d+))?[sv]")
HELPERS |= FORMAT_HELPERS


def _format_piece(spec: str, letter: str, arg: Term) -> Node:
    """What Go's fmt prints for one verb of a literal format and its argument."""
    if spec == "%v":
        return Call(name=(STRING_FUNCTION,), args=(arg,))
    if spec == "%s":
        return Call(name=("__gk_fmt_s",), args=(arg,))
    if spec == "%q":
        return Call(name=(STRING_FUNCTION,), args=(Call(name=(QUOTE_FUNCTION,), args=(arg,)),))
    width = _STRING_WIDTH.fullmatch(spec)
    if width:
        left, size, precision = Boolean(value=bool(width[1])), _number(int(width[2] or 0)), _number(int(width[3] or -1))
        return Call(
            name=("__gk_fmt_width",), args=(String(value=spec), String(value=letter), arg, size, left, precision)
        )
    return Call(name=("__gk_fmt_verb",), args=(String(value=spec), String(value=letter), arg))


def _sprintf_as_concat(node: Node) -> Node:
    """`sprintf("a %v b %d", [x, n])` -> `concat("", ["a ", __gk_str(x), " b ", __gk_fmt_verb("%d", "d", n)])`.

    rego-cpp keeps a literal's escapes (`\\"`) as written but an argument's text plain, so a format with an escape
    and an argument holding a quote or a backslash printed the escape literally. concat joins both forms right.
    Each verb prints as Go's fmt does for OPA, including its texts for a verb that does not fit the argument
    (`%!d(string=x)`), a missing argument (`%!v(MISSING)`) and extra ones (`%!(EXTRA string=x)`), where
    rego-cpp's sprintf failed or returned "Not a term". A literal format is rewritten; the arguments may be a
    literal array or any term (then read by position at run time)."""
    if not (isinstance(node, Call) and node.name == ("sprintf",) and len(node.args) == 2):
        return node
    fmt, args = node.args
    if not isinstance(fmt, String) or "*" in fmt.value or "%[" in fmt.value:
        return node
    if isinstance(args, (*SCALARS, Set, Object, SetComprehension, ObjectComprehension)):
        return node  # not an array: OPA's sprintf is undefined, as rego-cpp's is
    if "%" in _VERB.sub("", fmt.value):
        return node  # a `%` without a verb (`%!(NOVERB)`, `%!!(...)`): left to sprintf
    verbs = [m for m in _VERB.finditer(fmt.value) if m.group(1) != "%"]
    literal_args = args.items if isinstance(args, Array) else None
    parts: list[Node] = []
    pos, index = 0, 0
    for found in _VERB.finditer(fmt.value):
        literal = fmt.value[pos : found.start()]
        pos = found.end()
        if found.group(1) == "%":
            parts.append(String(value=literal + "%"))
            continue
        if literal:
            parts.append(String(value=literal))
        spec, letter = found.group(0), found.group(2)
        if literal_args is None:
            parts.append(
                Call(name=("__gk_fmt_at",), args=(args, _number(index), String(value=spec), String(value=letter)))
            )
        elif index < len(literal_args):
            parts.append(_format_piece(spec, letter, literal_args[index]))
        else:
            parts.append(String(value=f"%!{letter}(MISSING)"))
        index += 1
    if fmt.value[pos:]:
        parts.append(String(value=fmt.value[pos:]))
    if literal_args is None:
        parts.append(Call(name=("__gk_fmt_extra",), args=(args, _number(len(verbs)))))
    elif len(literal_args) > len(verbs):
        extra = [Call(name=("__gk_fmt_typed",), args=(arg,)) for arg in literal_args[len(verbs) :]]
        joined = [piece for i, call in enumerate(extra) for piece in ([String(value=", ")] if i else []) + [call]]
        parts += [String(value="%!(EXTRA "), *joined, String(value=")")]
    return Call(name=("concat",), args=(String(value=""), Array(items=tuple(parts))))


def _number(value: int) -> Number:
    return Number(text=str(value))


def _with_formatting(rule: Rule) -> Rule:
    """The rule's sprintf calls as concat where they can be, the rest with their arguments through `__gk_fmt`
    (except in `__gk_str` itself, whose one sprintf is what it is made of)."""
    if rule.name in HELPERS:
        return rule
    return map_bottom_up(map_bottom_up(rule, _sprintf_as_concat), _format_args)


def _format_args(node: Node) -> Node:
    """`sprintf(f, [a, b])` -> `sprintf(f, [__gk_fmt(a), __gk_fmt(b)])`; `sprintf(f, a)` ->
    `sprintf(f, __gk_fmt_all(a))`."""
    if (
        isinstance(node, Call)
        and node.name == ("sprintf",)
        and len(node.args) == 2
        and isinstance(node.args[1], Var | Ref)
    ):
        return dataclasses.replace(node, args=(node.args[0], Call(name=("__gk_fmt_all",), args=(node.args[1],))))
    if isinstance(node, Call) and node.name == ("sprintf",) and len(node.args) == 2 and isinstance(node.args[1], Array):
        items = tuple(
            item
            if isinstance(item, SCALARS) or (isinstance(item, Call) and item.name == (FORMAT_FUNCTION,))
            else Call(name=(FORMAT_FUNCTION,), args=(item,))
            for item in node.args[1].items
        )
        return dataclasses.replace(node, args=(node.args[0], dataclasses.replace(node.args[1], items=items)))
    return node


COMPREHENSIONS = (ArrayComprehension, SetComprehension, ObjectComprehension)
PARAMETER_PREFIX = "__gk_arg"


def _declared(body: Body) -> set[str]:
    """Names a body declares locally (`some`, `:=`, `some ... in`), which shadow a parameter of the same name."""
    names: set[str] = set()
    for expr in body:
        value = expr.value
        if isinstance(value, SomeDecl):
            names |= {v.name for v in value.vars}
        elif isinstance(value, SomeIn):
            names |= {t.name for t in (value.key, value.value) if isinstance(t, Var)}
        elif isinstance(value, Assignment) and value.op == ":=" and isinstance(value.left, Var):
            names.add(value.left.name)
    return names


def _already_bound(body: Body) -> set[str]:
    """Parameters the leading `__gk_arg<n>_<p> := <p>` bindings of a body already bind."""
    bound = set()
    for expr in body:
        value = expr.value
        if not (isinstance(value, Assignment) and isinstance(value.left, Var) and isinstance(value.right, Var)):
            break
        if not value.left.name.startswith(PARAMETER_PREFIX):
            break
        bound.add(value.right.name)
    return bound


def _bind_parameters_in_comprehensions(rule: Rule) -> Rule:
    """In a function, every comprehension that uses a parameter binds it to a fresh variable first."""
    params = {a.name for a in rule.args if isinstance(a, Var) and a.name != "_"}
    if rule.kind != RuleKind.FUNCTION or not params:
        return rule
    counter = iter(range(1_000_000))

    def bind(node: Node) -> Node:
        if not isinstance(node, COMPREHENSIONS):
            return node
        used = {n.name for n in walk(node) if isinstance(n, Var)} & params - _declared(node.body)
        used -= _already_bound(node.body)  # translating twice changes nothing
        if not used:
            return node
        n = next(counter)
        fresh = {name: f"{PARAMETER_PREFIX}{n}_{name}" for name in sorted(used)}

        def rename(inner: Node) -> Node:
            return (
                dataclasses.replace(inner, name=fresh[inner.name])
                if isinstance(inner, Var) and inner.name in fresh
                else inner
            )

        renamed = map_bottom_up(node, rename)
        bindings = tuple(
            Expr(value=Assignment(op=":=", left=Var(name=new), right=Var(name=old))) for old, new in fresh.items()
        )
        return dataclasses.replace(renamed, body=bindings + renamed.body)

    return map_bottom_up(rule, bind)


V1_KEYWORDS = frozenset({"contains", "if", "in", "every"})
KEYWORD_PREFIX = "__gk_kw_"


def _rename_keyword_names(module: Module) -> Module:
    """v0 names that are v1 keywords -> `__gk_kw_<name>`: variables, rules, and calls of the module's functions."""
    own_functions = {r.name for r in module.rules if r.kind == RuleKind.FUNCTION and r.name in V1_KEYWORDS}
    # Rules of other modules (libs) are renamed there too: rename them where this module names them.
    packages = lib_names(module)

    def rename(node: Node) -> Node:
        if isinstance(node, Var) and node.name in V1_KEYWORDS:
            return dataclasses.replace(node, name=KEYWORD_PREFIX + node.name)
        if isinstance(node, Rule) and node.name in V1_KEYWORDS:
            return dataclasses.replace(node, name=KEYWORD_PREFIX + node.name)
        own_call = isinstance(node, Call) and len(node.name) == 1 and node.name[0] in own_functions
        lib_call = isinstance(node, Call) and len(node.name) > 1 and node.name[0] in packages
        if (own_call or lib_call) and node.name[-1] in V1_KEYWORDS:
            return dataclasses.replace(node, name=(*node.name[:-1], KEYWORD_PREFIX + node.name[-1]))
        if isinstance(node, Ref) and isinstance(node.head, Var) and node.head.name in packages:
            parts = tuple(
                dataclasses.replace(p, value=KEYWORD_PREFIX + p.value)
                if isinstance(p, String) and p.value in V1_KEYWORDS
                else p
                for p in node.parts
            )
            return dataclasses.replace(node, parts=parts)
        return node

    return map_bottom_up(module, rename)


def _deprecated_to_helper(node: Node) -> Node:
    """`any(xs)` -> `__gk_any(xs)`, and so on for every deprecated builtin."""
    if isinstance(node, Call) and len(node.name) == 1 and node.name[0] in DEPRECATED_BUILTINS:
        return dataclasses.replace(node, name=(f"__gk_{node.name[0]}",))
    return node


def _key_value_some_in(expr: Expr) -> list[Expr]:
    """`some k, v in coll` -> `some k; v = coll[k]` (rego-cpp rejects the first form inside comprehensions)."""
    value = expr.value
    if not isinstance(value, SomeIn) or value.key is None or not isinstance(value.key, Var):
        return [expr]
    if not isinstance(value.collection, Var | Ref):
        return [expr]
    collection = value.collection
    element = (
        dataclasses.replace(collection, parts=(*collection.parts, value.key))
        if isinstance(collection, Ref)
        else Ref(head=collection, parts=(value.key,))
    )
    binding = dataclasses.replace(expr, value=Assignment(op="=", left=value.value, right=element))
    if value.key.name == "_":
        return [binding]
    return [Expr(value=SomeDecl(vars=(value.key,))), binding]


def _as_some_in(expr: Expr) -> Expr:
    """`x := coll[_]` -> `some x in coll` (the same iteration; the first form can crash rego-cpp's compiler)."""
    value = expr.value
    if (
        expr.negated
        or expr.withs
        or not isinstance(value, Assignment)
        or value.op != ":="
        or not isinstance(value.left, Var)
        or not isinstance(value.right, Ref)
        or not value.right.parts
        or value.right.parts[-1] != Var(name="_")
    ):
        return expr
    parts = value.right.parts[:-1]
    collection = dataclasses.replace(value.right, parts=parts) if parts else value.right.head
    return dataclasses.replace(expr, value=SomeIn(key=None, value=value.left, collection=collection))


def _is_iterating_ref(term: Any) -> bool:
    """A reference with a variable (or `_`) among its keys."""
    return isinstance(term, Ref) and any(not isinstance(part, SCALARS) for part in term.parts)


_FORMATTING_CALLS = frozenset({(FORMAT_FUNCTION,), ("__gk_fmt_all",)})


class _Rewriter:
    def __init__(self, rule_names: frozenset[str] = frozenset()) -> None:
        self._counter = itertools.count()
        self._rule_names = rule_names

    def module(self, module: Module) -> Module:
        names = {node.name for node in walk(module) if isinstance(node, Var)}
        taken = [int(v[len(FRESH_PREFIX) :]) for v in names if _FRESH_NAME.fullmatch(v)]
        self._counter = itertools.count(max(taken, default=-1) + 1)  # never reuse a name the module has
        return dataclasses.replace(module, rules=tuple(self._rule(rule) for rule in module.rules))

    def _rule(self, rule: Rule) -> Rule:
        """Bodies, and comprehensions in the head (`r := {c | c := lower(xs[_])}`)."""
        bodies = tuple(self.body(body) for body in rule.bodies)
        else_ = tuple(
            dataclasses.replace(clause, value=self._nested_bodies(clause.value), body=self.body(clause.body))
            for clause in rule.else_
        )
        return dataclasses.replace(
            rule,
            key=self._nested_bodies(rule.key),
            value=self._nested_bodies(rule.value),
            bodies=bodies,
            else_=else_,
        )

    def body(self, body: Body) -> Body:
        out: list[Expr] = []
        for expr in body:
            out += [_as_some_in(e) for e in self._expr(expr)]
        return tuple(out)

    def _expr(self, expr: Expr) -> list[Expr]:
        expr = dataclasses.replace(expr, value=self._nested_bodies(expr.value))
        value = expr.value
        if expr.withs:
            return [expr]

        if expr.negated:
            return self._bind_negated_operands(expr)
        hoisted: list[Expr] = []
        value = self._hoist_in_calls(value, hoisted, in_call=False)
        return [*hoisted, dataclasses.replace(expr, value=value)]

    def _fresh_binding(self, term: Any, hoisted: list[Expr]) -> Var:
        fresh = Var(name=f"{FRESH_PREFIX}{next(self._counter)}")
        hoisted.append(Expr(value=Assignment(op=":=", left=fresh, right=term)))
        return fresh

    def _bind_negated_operands(self, expr: Expr) -> list[Expr]:
        """`not f(a.b, g(x))` -> `__gk_0 := a.b; __gk_1 := g(x); not f(__gk_0, __gk_1)`; `==` is left alone."""
        value = expr.value
        if isinstance(value, Call):
            fields = {"args": value.args}
        elif isinstance(value, BinOp) and value.op != "==":
            fields = {"left": value.left, "right": value.right}
        elif isinstance(value, Membership):
            fields = {"key": value.key, "value": value.value, "collection": value.collection}
        else:
            return [expr]
        hoisted: list[Expr] = []

        def bind(operand: Any) -> Any:
            if isinstance(operand, Call) and operand.name in _FORMATTING_CALLS:
                return operand  # put there by an earlier translation around an operand left as it was
            if isinstance(operand, Ref | Call | BinOp | Membership):
                return self._fresh_binding(operand, hoisted)
            if isinstance(operand, Var) and operand.name in self._rule_names:  # `not f(r)`, r a rule: may be undefined
                return self._fresh_binding(operand, hoisted)
            return operand

        changes = {
            name: tuple(bind(arg) for arg in operand) if isinstance(operand, tuple) else bind(operand)
            for name, operand in fields.items()
        }
        negated = dataclasses.replace(expr, value=dataclasses.replace(value, **changes))
        bindings = [e for binding in hoisted for e in self._expr(binding)]  # the bindings get rewritten too
        return [*bindings, negated]

    def _nested_bodies(self, node: Any) -> Any:
        """Rewrite the bodies of comprehensions and `every` found anywhere inside `node`."""
        if isinstance(node, tuple):
            return tuple(self._nested_bodies(item) for item in node)
        if not isinstance(node, Node) or isinstance(node, SCALARS):
            return node
        if isinstance(node, ArrayComprehension | SetComprehension) and isinstance(node.head, Call | BinOp | Ref):
            fresh = Var(name=f"{FRESH_PREFIX}{next(self._counter)}")
            binding = Expr(value=Assignment(op=":=", left=fresh, right=node.head))
            node = dataclasses.replace(node, head=fresh, body=(*node.body, binding))
        if isinstance(node, ArrayComprehension | SetComprehension | ObjectComprehension):
            node = dataclasses.replace(node, body=tuple(e for expr in node.body for e in _key_value_some_in(expr)))
        changes = {}
        for name, value in children(node):
            if name == "body" and isinstance(node, _SCOPES):
                changes[name] = self.body(value)
            elif isinstance(value, Node | tuple):
                changes[name] = self._nested_bodies(value)
        return dataclasses.replace(node, **changes) if changes else node

    def _hoist_in_calls(self, node: Any, hoisted: list[Expr], *, in_call: bool, operators: bool = True) -> Any:
        """Replace variable-indexed refs inside call arguments and operator operands (not inside a template
        string, where an undefined operand prints as `<undefined>`) by fresh variables bound in `hoisted`."""
        if isinstance(node, tuple):
            return tuple(self._hoist_in_calls(item, hoisted, in_call=in_call, operators=operators) for item in node)
        if not isinstance(node, Node) or isinstance(node, (*SCALARS, *_SCOPES)):
            return node  # comprehension and `every` bodies are their own scopes, rewritten on their own
        if in_call and isinstance(node, Ref) and any(not isinstance(part, SCALARS) for part in node.parts):
            return self._fresh_binding(node, hoisted)
        if isinstance(node, Ref) and any(_is_iterating_ref(part) for part in node.parts):
            # `listed[names[_]]`: rego-cpp cannot compile an iterating ref used as a key; OPA binds it first.
            parts = tuple(
                self._fresh_binding(self._hoist_in_calls(part, hoisted, in_call=False, operators=operators), hoisted)
                if _is_iterating_ref(part)
                else part
                for part in node.parts
            )
            node = dataclasses.replace(node, parts=parts)
        operators = operators and not isinstance(node, TemplateString)
        inside = in_call or isinstance(node, Call) or (operators and isinstance(node, BinOp))  # an operator: a call
        changes = {}
        for name, value in children(node):
            if isinstance(value, Node | tuple):
                changes[name] = self._hoist_in_calls(
                    value, hoisted, in_call=inside and name != "name", operators=operators
                )
        return dataclasses.replace(node, **changes) if changes else node
