"""The Rego v1 emitter: its text, what rego-cpp computes from it, and parse -> emit -> parse round trips.

The evaluation cases compile in this process, so each was first run in a subprocess to make sure rego-cpp
neither aborts nor crashes on it (no `with`, no dynamic `data[k]`: see ../shared/docs/regopy-notes.md).
Expected values are what OPA gives for the v0 source.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatekeeper_py.drivers.rego.emit import emit_module, emit_term
from gatekeeper_py.drivers.rego.engine import CompiledPolicy, EngineError, to_engine_json
from gatekeeper_py.drivers.rego.parser import FUTURE_KEYWORDS, KEYWORDS, parse_module
from gatekeeper_py.drivers.rego.syntax import (
    Array,
    ArrayComprehension,
    Assignment,
    BinOp,
    Boolean,
    Call,
    ElseClause,
    Every,
    Expr,
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
    Var,
    With,
    split_bodies,
)


def emit(source: str, version: str = "v0") -> str:
    return emit_module(parse_module(source, version=version, filename="t.rego"))


def evaluate(source: str, rule: str, value: Any = None, version: str = "v0", libs: dict[str, str] | None = None) -> Any:
    """Emit v1 from `source` (and `libs`), compile with rego-cpp, and evaluate `rule` of package t."""
    modules = {"t.rego": emit(source, version)}
    modules.update({name: emit(text, version) for name, text in (libs or {}).items()})
    policy = CompiledPolicy(modules, f"t/{rule}")
    return policy.evaluate(to_engine_json({} if value is None else value))


# --- the text ---


def test_v0_partial_set_is_printed_with_contains_and_if() -> None:
    text = emit('package t\nviolation[{"msg": msg}] {\n  msg := "x"\n}\n')
    assert text == 'package t\n\nviolation contains {"msg": msg} if {\n    msg := "x"\n}\n'


def test_a_rule_with_several_bodies_becomes_several_rules() -> None:
    text = emit("package t\np { input.a } { input.b }\n")
    assert text == "package t\n\np if {\n    input.a\n}\n\np if {\n    input.b\n}\n"


def test_else_chain_default_and_function_heads() -> None:
    text = emit('package t\ndefault g = "none"\nf(x) = 1 { x } else = 2 { true } else = 3\nh(_)\n')
    assert text == (
        'package t\n\ndefault g = "none"\n\nf(x) = 1 if {\n    x\n} else = 2 if {\n    true\n} else = 3\n\nh(_)\n'
    )


def test_a_line_that_would_start_with_a_parenthesis_ends_the_previous_one_with_a_semicolon() -> None:
    text = emit("package t\np {\n  x := input.n\n  (x - 1) * 2 >= 0\n}\n")
    assert "    x := input.n;\n    (x - 1) * 2 >= 0\n" in text


def test_a_line_that_would_start_with_a_minus_ends_the_previous_one_with_a_semicolon() -> None:
    module = parse_module("package t\np { x := input.n; -1 < x }\n", version="v0", filename="t.rego")
    text = emit_module(module)
    assert "    x := input.n;\n    -1 < x\n" in text
    assert parse_module(text, version="v1", filename="e.rego") == module


@pytest.mark.parametrize(
    ("source", "printed"),
    [
        ('"\\u0041\\/\\u00e9"', '"A/é"'),
        ('`a\\d"`', '"a\\\\d\\""'),
        ('"tab\there"', '"tab\\there"'),
        ('"\\ud83d\\ude00"', '"😀"'),
        ('"\\u001F"', '"\\u001f"'),
    ],
)
def test_strings_are_respelled_as_python_json_text(source: str, printed: str) -> None:
    assert emit(f"package t\np := {source}\n") == f"package t\n\np := {printed}\n"


@pytest.mark.parametrize(("source", "printed"), [(".5", "0.5"), ("-.5", "-0.5"), ("1e3", "1e3"), ("2.50", "2.50")])
def test_numbers_are_printed_as_written_except_a_leading_dot(source: str, printed: str) -> None:
    assert emit(f"package t\np := {source}\n") == f"package t\n\np := {printed}\n"


def test_template_strings_are_printed_double_quoted_with_escaped_braces() -> None:
    text = emit("package t\np := $`a\\n {input.x} \\{`\n", "v1")
    assert text == 'package t\n\np := $"a\\\\n {input.x} \\{"\n'


@pytest.mark.parametrize(
    ("source", "printed"),
    [
        ("input.if", 'input["if"]'),
        ('input["a b"].c', 'input["a b"].c'),
        ("[(1 in xs), 2]", "[1 in xs, 2]"),
        ('[("a", 1 in o)]', '[("a", 1 in o)]'),
        ("[{1} | {2}, 3]", "[({1} | {2}), 3]"),
        ("[(a | b == c)]", "[(a | b == c)]"),
        ("{(a | b) in c}", "{(a | b in c)}"),
        ("{k: (a | b & c)}", "{k: (a | b & c)}"),
        ("[(a | b) & c]", "[(a | b) & c]"),
        ("(1 + 2) * 3 - (4 - 5)", "(1 + 2) * 3 - (4 - 5)"),
        ("(a == b) == (c == d)", "a == b == (c == d)"),
        ("x in (ys in zs)", "x in (ys in zs)"),
        ("[(x + 1) | x := 1]", "[(x + 1) | x := 1]"),
        ("{k: v | v := o[k]; v > 1}", "{k: v | v := o[k]; v > 1}"),
        ("set()", "set()"),
        ("f(x).y", "f(x).y"),
    ],
)
def test_terms_get_the_parentheses_and_spelling_they_need(source: str, printed: str) -> None:
    (rule,) = parse_module(f"package t\np := {source}\n", version="v1", filename="t.rego").rules
    assert rule.value is not None
    assert emit_term(rule.value) == printed


def test_some_every_with_and_negation() -> None:
    source = "package t\np if {\n  some k, v in o\n  every x in xs { x > 0 }\n  not q with input as {}\n}\n"
    assert emit(source, "v1") == (
        "package t\n\np if {\n    some k, v in o\n    every x in xs {\n        x > 0\n    }\n"
        "    not q with input as {}\n}\n"
    )


def test_imports_and_package_paths() -> None:
    source = 'package a.b["c-d"]\nimport data.lib.x as y\nimport future.keywords.in\n'
    assert emit(source) == 'package a.b["c-d"]\n\nimport data.lib.x as y\nimport future.keywords.in\n'


# --- what rego-cpp computes from the text (expected values are OPA's for the v0 source) ---

CONTAINERS = {
    "review": {
        "object": {
            "spec": {
                "containers": [
                    {"name": "a", "image": "ok/a", "privileged": True},
                    {"name": "b", "image": "bad/b"},
                ],
                "initContainers": [{"name": "c", "image": "bad/c", "privileged": True}],
            }
        }
    }
}

VIOLATION = """package t

violation[{"msg": msg, "details": {"image": c.image}}] {
  c := input_containers[_]
  not startswith(c.image, "ok/")
  msg := sprintf("container <%v> uses a bad image", [c.name])
}

input_containers[c] {
  c := input.review.object.spec.containers[_]
}

input_containers[c] {
  c := input.review.object.spec.initContainers[_]
}
"""

EVALUATIONS = [
    pytest.param(
        VIOLATION,
        "violation",
        CONTAINERS,
        [
            {"details": {"image": "bad/b"}, "msg": "container <b> uses a bad image"},
            {"details": {"image": "bad/c"}, "msg": "container <c> uses a bad image"},
        ],
        "v0",
        id="v0-partial-set-is-a-list-of-objects",
    ),
    pytest.param(
        VIOLATION + "\nnames := [c.name | c := input_containers[_]; c.privileged]\n",
        "names",
        CONTAINERS,
        ["a", "c"],
        "v0",
        id="helper-set-iterated-with-wildcard",
    ),
    pytest.param("package t\np { input.a } { input.b }\n", "p", {"b": True}, True, "v0", id="second-body"),
    pytest.param("package t\np { input.a } { input.b }\n", "p", {}, None, "v0", id="no-body-holds"),
    pytest.param(
        'package t\ngrade(x) = "A" { x >= 90 } else = "B" { x >= 80 } else = "C"\n'
        "r := [grade(95), grade(85), grade(10)]\n",
        "r",
        None,
        ["A", "B", "C"],
        "v0",
        id="else-chain",
    ),
    pytest.param(
        'package t\ndefault allow = false\nallow { input.user == "admin" }\n',
        "allow",
        {"user": "bob"},
        False,
        "v0",
        id="default",
    ),
    pytest.param(
        'package t\ndefault allow = false\nallow { input.user == "admin" }\n',
        "allow",
        {"user": "admin"},
        True,
        "v0",
        id="default-overridden",
    ),
    pytest.param(
        'package t\naccept("any", _)\naccept("nonroot", uid) = uid != 0\nanswer() = 42 { true }\n'
        'r := [accept("any", 5), accept("nonroot", 1), accept("nonroot", 0), answer()]\n',
        "r",
        None,
        [True, True, False, 42],
        "v0",
        id="bare-and-zero-argument-functions",
    ),
    pytest.param(
        'package t\nr := {\n  "arr": [(x * 2) | x := input.xs[_]],\n  "set": {x | x := input.xs[_]},\n'
        '  "obj": {k: count(v) | v := input.o[k]},\n}\n',
        "r",
        {"xs": [1, 2, 2], "o": {"a": [1], "b": [1, 2]}},
        {"arr": [2, 4, 4], "set": [1, 2], "obj": {"a": 1, "b": 2}},
        "v0",
        id="comprehensions",
    ),
    pytest.param(
        "package t\nimport future.keywords.in\nimport future.keywords.every\n"
        "r := [x | some x in input.xs; x > 1]\n"
        "pairs[[k, v]] { some k, v in input.o }\n"
        "positive { every x in input.xs { x > 0 } }\n"
        'out := {"r": r, "pairs": pairs, "positive": positive}\n',
        "out",
        {"xs": [1, 2, 3], "o": {"a": 1}},
        {"r": [2, 3], "pairs": [["a", 1]], "positive": True},
        "v0",
        id="future-keywords-some-in-every",
    ),
    pytest.param(
        'package t\nr := [input.a == "\\u0041", input.b == "a\\/b", input.c == `x\\d`, input.d == "tab\tx",'
        ' "\\u00e9", `q"`]\n',
        "r",
        {"a": "A", "b": "a/b", "c": "x\\d", "d": "tab\tx"},
        [True, True, True, True, "é", 'q"'],
        "v0",
        id="strings-equal-input-strings",
    ),
    pytest.param(
        "package t\nr := [.5 + 1, 1e3, -2, 2.50, 7 / 2]\n", "r", None, [1.5, 1000, -2, 2.5, 3.5], "v0", id="numbers"
    ),
    pytest.param(
        "package t\np {\n  x := input.n\n  (x - 1) * 2 >= 0\n}\n",
        "p",
        {"n": 1},
        True,
        "v0",
        id="line-starting-with-parenthesis",
    ),
    pytest.param(
        "package t\np {\n  x := input.n\n  (x - 1) * 2 >= 0\n}\n",
        "p",
        {"n": 0},
        None,
        "v0",
        id="line-starting-with-parenthesis-fails",
    ),
    pytest.param(
        "package t\np { x := input.n; -1 < x }\n", "p", {"n": 0}, True, "v0", id="expression-starting-with-minus"
    ),
    pytest.param(
        'package t\nlabels[k] = v { v := input.labels[k]; startswith(k, "app") }\n',
        "labels",
        {"labels": {"app": "x", "appname": "y", "team": "z"}},
        {"app": "x", "appname": "y"},
        "v0",
        id="partial-object",
    ),
    pytest.param(
        "package t\nr := [{1, 2} | {3} & {3, 4}, 10 - 2 - 3, 2 * (3 + 4), 7 % 4 * 2, 1 + 2 == 3]\n",
        "r",
        None,
        [[1, 2, 3], 5, 14, 6, True],
        "v0",
        id="operators-and-precedence",
    ),
    pytest.param(
        "package t\np { some i; input.xs[i] == 2; i == 1 }\nneg := [x | x := input.xs[_]; x < -1]\n"
        'out := {"p": p, "neg": neg}\n',
        "out",
        {"xs": [-5, 2]},
        {"p": True, "neg": [-5]},
        "v0",
        id="some-declaration-and-negative-numbers",
    ),
    pytest.param(
        'package t\nmsg := $"{input.n} containers, first {input.names[0]}, {input.missing}"\n',
        "msg",
        {"n": 2, "names": ["a"]},
        "2 containers, first a, <undefined>",
        "v1",
        id="template-string",
    ),
    pytest.param('package t\na.b.c := 1\nd.e["f-g"] := 2\n', "a", None, {"b": {"c": 1}}, "v1", id="ref-head"),
]


@pytest.mark.parametrize(("source", "rule", "value", "expected", "version"), EVALUATIONS)
def test_emitted_v1_evaluates_as_opa_evaluates_the_source(
    source: str, rule: str, value: Any, expected: Any, version: str
) -> None:
    assert evaluate(source, rule, value, version) == expected


def test_emitted_lib_and_its_import_evaluate_together() -> None:
    source = (
        'package t\nimport data.lib.helpers.is_admin\nviolation[{"msg": "not an admin"}] { not is_admin(input.user) }\n'
    )
    libs = {"lib.rego": 'package lib.helpers\nis_admin(u) { u == "admin" }\n'}
    assert evaluate(source, "violation", {"user": "bob"}, libs=libs) == [{"msg": "not an admin"}]
    assert evaluate(source, "violation", {"user": "admin"}, libs=libs) == []


# --- rego-cpp quirks the emitter leaves to the rewrite pass (regression tests: they fail when regopy changes) ---


def test_rego_cpp_rejects_key_value_some_in_inside_an_array_comprehension() -> None:
    source = "package t\nr := [k | some k, v in input.o]\n"
    with pytest.raises(EngineError, match="Invalid collection"):
        CompiledPolicy({"t.rego": emit(source, "v1")}, "t/r")


def test_rego_cpp_cannot_build_wildcards_in_call_arguments() -> None:
    source = 'package t\np { startswith("abc", input.xs[_]) }\n'
    with pytest.raises(EngineError):
        CompiledPolicy({"t.rego": emit(source)}, "t/p")


# --- round trips ---


def test_parse_emit_parse_keeps_a_v0_module() -> None:
    module = parse_module(VIOLATION + "\np { input.a } { input.b }\n", version="v0", filename="t.rego")
    assert parse_module(emit_module(module), version="v1", filename="e.rego") == split_bodies(module)


RESERVED = KEYWORDS | FUTURE_KEYWORDS | {"set", "data", "input"}
names = st.text("abcxyz_", min_size=1, max_size=3).filter(lambda n: n not in RESERVED)
variables = names.map(Var)
numbers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["0.5", "1.25", "-3.75", "1e3", "2.5E-3", "1e+2", "0"]),
).map(Number)
strings = st.text(max_size=8).map(String)
scalars = st.one_of(strings, numbers, st.booleans().map(Boolean), st.just(Null()))
leaves = st.one_of(scalars, variables)
OPERATORS = ["==", "!=", "<", ">", "<=", ">=", "|", "&", "+", "-", "*", "/", "%"]


def _terms(children: st.SearchStrategy) -> st.SearchStrategy:
    bodies = st.lists(children.map(Expr), min_size=1, max_size=2).map(tuple)
    parts = st.lists(st.one_of(strings, variables, numbers), min_size=1, max_size=3).map(tuple)
    template_parts = st.lists(st.tuples(st.text(min_size=1, max_size=4), children), max_size=2)
    return st.one_of(
        st.lists(children, max_size=3).map(lambda items: Array(tuple(items))),
        st.lists(children, max_size=3).map(lambda items: Set(tuple(items))),
        st.lists(st.tuples(children, children), max_size=2).map(lambda items: Object(tuple(items))),
        st.builds(Ref, st.one_of(variables, st.builds(Call, st.just(("f",)), st.just(()))), parts),
        st.builds(
            Call,
            st.sampled_from([("count",), ("object", "get"), ("a", "b", "c")]),
            st.lists(children, max_size=3).map(tuple),
        ),
        st.builds(BinOp, st.sampled_from(OPERATORS), children, children),
        st.builds(Membership, st.none() | children, children, children),
        st.builds(ArrayComprehension, children, bodies),
        st.builds(SetComprehension, children, bodies),
        st.builds(ObjectComprehension, children, children, bodies),
        template_parts.map(lambda pairs: TemplateString(tuple(p for pair in pairs for p in pair))),
    )


terms = st.recursive(leaves, _terms, max_leaves=12)


def _exprs() -> st.SearchStrategy:
    small_body = st.lists(terms.map(Expr), min_size=1, max_size=2).map(tuple)
    values = st.one_of(
        terms,
        st.builds(Assignment, st.sampled_from([":=", "="]), terms, terms),
        st.lists(variables, min_size=1, max_size=3).map(lambda vs: SomeDecl(tuple(vs))),
        st.builds(SomeIn, st.none() | variables, terms, terms),
        st.builds(Every, st.none() | variables, variables, terms, small_body),
    )
    withs = st.lists(st.builds(With, st.builds(Ref, st.just(Var("input")), st.just((String("x"),))), terms), max_size=1)

    def build(value, negated: bool, modifiers: list) -> Expr:
        negated = negated and not isinstance(value, SomeDecl | SomeIn | Every)
        return Expr(value, negated, tuple(modifiers))

    return st.builds(build, values, st.booleans(), withs)


def _rules() -> st.SearchStrategy:
    bodies = st.lists(_exprs(), min_size=1, max_size=3).map(tuple)
    constants = st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=2).map(lambda xs: Array(tuple(xs))), max_leaves=4
    )
    path = st.lists(strings, max_size=2).map(tuple)
    return st.one_of(
        st.builds(lambda v: Rule(RuleKind.COMPLETE, "d", value=v, assign=":=", default=True), constants),
        st.builds(
            lambda p, v, b: Rule(RuleKind.COMPLETE, "r", path=p, value=v, assign="=", bodies=(b,)), path, terms, bodies
        ),
        st.builds(
            lambda p, k, b: Rule(RuleKind.PARTIAL_OBJECT, "q", path=p, key=k, bodies=(b,)), path, variables, bodies
        ),
        st.builds(lambda b: Rule(RuleKind.COMPLETE, "p", bodies=(b,)), bodies),
        st.builds(lambda k, b: Rule(RuleKind.PARTIAL_SET, "s", key=k, bodies=(b,)), terms, bodies),
        st.builds(
            lambda k, v, b: Rule(RuleKind.PARTIAL_OBJECT, "o", key=k, value=v, assign=":=", bodies=(b,)),
            variables,
            terms,
            bodies,
        ),
        st.builds(
            lambda args, v, b, e: Rule(
                RuleKind.FUNCTION,
                "f",
                args=tuple(args),
                value=v,
                assign="=",
                bodies=(b,),
                else_=(ElseClause(e, ":=", ()),),
            ),
            st.lists(variables, min_size=1, max_size=2),
            terms,
            bodies,
            terms,
        ),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_rules(), min_size=1, max_size=3))
def test_round_trip_of_generated_modules(rules: list[Rule]) -> None:
    module = Module(("t",), (), tuple(rules))
    text = emit_module(module)
    parsed = parse_module(text, version="v1", filename="gen.rego")
    assert parsed == module, text
    assert emit_module(parsed) == text


@settings(max_examples=300, deadline=None)
@given(terms)
def test_round_trip_of_generated_terms(term) -> None:
    text = emit_term(term)
    (rule,) = parse_module(f"package t\np := {text}\n", version="v1", filename="gen.rego").rules
    assert rule.value == term, text
    assert emit_term(rule.value) == text
