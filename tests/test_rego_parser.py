"""The Rego parser: every construct of v0 and v1 into one AST, and syntax errors that point at the problem.

Expected trees are built by hand; positions take no part in equality, so they are checked separately.
"""

from __future__ import annotations

import pytest

from gatekeeper_py.drivers.rego.parser import parse_module
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
    Import,
    Membership,
    Module,
    Null,
    Number,
    Object,
    ObjectComprehension,
    Ref,
    RegoSyntaxError,
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
)

V, S, N = Var, String, Number
TRUE = Boolean(True)


def parse(source: str, version: str = "v0") -> Module:
    return parse_module(source, version=version, filename="t.rego")


def rules(source: str, version: str = "v0") -> tuple[Rule, ...]:
    return parse(f"package t\n{source}\n", version).rules


def body(text: str, version: str = "v0") -> tuple[Expr, ...]:
    """The expressions of `text` used as a rule body in `version`."""
    opener = "p if {" if version == "v1" else "p {"
    (rule,) = rules(f"{opener}\n{text}\n}}", version)
    return rule.bodies[0]


def value(text: str, version: str = "v0"):
    """The single expression of a body (its value: a term, assignment, some or every)."""
    (expr,) = body(text, version)
    assert not expr.negated and not expr.withs
    return expr.value


def ref(head: str, *parts) -> Ref:
    return Ref(V(head), tuple(S(p) if isinstance(p, str) else p for p in parts))


def call(name: str, *args) -> Call:
    return Call(tuple(name.split(".")), args)


def expr(item, negated: bool = False, withs: tuple[With, ...] = ()) -> Expr:
    return Expr(item, negated, withs)


def error(source: str, version: str = "v0") -> RegoSyntaxError:
    with pytest.raises(RegoSyntaxError) as caught:
        parse(source, version)
    return caught.value


# --- modules, packages, imports ---


def test_module_has_package_imports_and_rules_in_order() -> None:
    module = parse("package a.b.c\n\nimport data.lib.x as y\nimport input.review\n\np := 1\nq := 2\n")
    assert module.package == ("a", "b", "c")
    assert module.imports == (Import(("data", "lib", "x"), "y"), Import(("input", "review")))
    assert [r.name for r in module.rules] == ["p", "q"]


def test_package_and_import_paths_accept_bracketed_strings_and_keywords_after_dots() -> None:
    module = parse('package a["b-c"].if\nimport data.x["y z"].in as w\n')
    assert module.package == ("a", "b-c", "if")
    assert module.imports == (Import(("data", "x", "y z", "in"), "w"),)


def test_rules_may_follow_each_other_on_one_line() -> None:
    assert [r.name for r in rules("p := 1 q := 2")] == ["p", "q"]


# --- rule kinds: the same meaning from v0 and v1 syntax ---

SAME_RULE = [
    pytest.param('violation[{"msg": m}] { m := "x" }', 'violation contains {"msg": m} if { m := "x" }', id="set"),
    pytest.param("p[k] = v { k := 1; v := 2 }", "p[k] = v if { k := 1; v := 2 }", id="object"),
    pytest.param("p = 7 { true }", "p = 7 if { true }", id="complete-unify"),
    pytest.param("p := 7 { true }", "p := 7 if { true }", id="complete-assign"),
    pytest.param("p { true }", "p if { true }", id="complete-implicit-true"),
    pytest.param("f(x) = y { y := x }", "f(x) = y if { y := x }", id="function"),
    pytest.param("f(x) { x > 1 }", "f(x) if { x > 1 }", id="function-implicit-true"),
    pytest.param("p := 1 { false } else = 2 { true }", "p := 1 if { false } else = 2 if { true }", id="else"),
    pytest.param("a.b.c := 1 { true }", "a.b.c := 1 if { true }", id="ref-head"),
    pytest.param("p := 3", "p := 3", id="constant"),
]


@pytest.mark.parametrize(("v0", "v1"), SAME_RULE)
def test_v0_and_v1_spellings_of_a_rule_give_the_same_tree(v0: str, v1: str) -> None:
    assert rules(v0, "v0") == rules(v1, "v1")


def test_v0_partial_set_is_a_set_of_its_element() -> None:
    (rule,) = rules('violation[{"msg": msg}] { msg := "x" }')
    assert rule == Rule(
        RuleKind.PARTIAL_SET,
        "violation",
        key=Object(((S("msg"), V("msg")),)),
        bodies=((expr(Assignment(":=", V("msg"), S("x"))),),),
    )


def test_partial_object_keeps_key_value_and_operator() -> None:
    (rule,) = rules("p[k] := v { k := 1; v := 2 }")
    assert (rule.kind, rule.key, rule.value, rule.assign, rule.path) == (
        RuleKind.PARTIAL_OBJECT,
        V("k"),
        V("v"),
        ":=",
        (),
    )


def test_v1_bracket_head_with_if_is_an_object_of_true_values() -> None:
    (rule,) = rules('p[x] if { x := "a" }', "v1")
    assert (rule.kind, rule.key, rule.value) == (RuleKind.PARTIAL_OBJECT, V("x"), None)


def test_constant_bracket_key_makes_a_ref_head_complete_rule() -> None:
    (rule,) = rules('p["a"] := 1', "v1")
    assert (rule.kind, rule.path, rule.key, rule.value) == (RuleKind.COMPLETE, (S("a"),), None, N("1"))


def test_ref_heads_with_variables_build_objects() -> None:
    (dotted,) = rules("a.b.c := 1", "v1")
    assert (dotted.kind, dotted.name, dotted.path) == (RuleKind.COMPLETE, "a", (S("b"), S("c")))
    (general,) = rules("p[x].y := 1 if { some x in [1] }", "v1")
    assert (general.kind, general.path, general.key) == (RuleKind.PARTIAL_OBJECT, (V("x"),), S("y"))


def test_contains_on_a_ref_head() -> None:
    (rule,) = rules("a.b contains 1", "v1")
    assert (rule.kind, rule.name, rule.path, rule.key, rule.bodies) == (
        RuleKind.PARTIAL_SET,
        "a",
        (S("b"),),
        N("1"),
        (),
    )


def test_v0_rule_with_several_bodies_keeps_them_in_order() -> None:
    (rule,) = rules("p { input.a } { input.b }")
    assert rule.bodies == ((expr(ref("input", "a")),), (expr(ref("input", "b")),))


def test_several_bodies_can_span_lines() -> None:
    (rule,) = rules("p[x] {\n  x := 1\n}\n{\n  x := 2\n}")
    assert [b[0].value.right for b in rule.bodies] == [N("1"), N("2")]


def test_default_rules_and_default_functions() -> None:
    (plain, function) = rules("default allow = false\ndefault f(_) := 0")
    assert plain == Rule(RuleKind.COMPLETE, "allow", value=Boolean(False), assign="=", default=True)
    assert function == Rule(RuleKind.FUNCTION, "f", args=(V("_"),), value=N("0"), assign=":=", default=True)


def test_default_value_may_be_a_comprehension() -> None:
    (rule,) = rules("default p := [x | x := 1]")
    assert isinstance(rule.value, ArrayComprehension)


def test_else_chains_in_v0_syntax() -> None:
    (rule,) = rules('f(x) = "a" { x > 1 } else = "b" { x > 0 } else = "c"')
    assert rule.else_ == (
        ElseClause(S("b"), "=", (expr(BinOp(">", V("x"), N("0"))),)),
        ElseClause(S("c"), "=", ()),
    )


def test_else_chains_in_v1_syntax_with_single_expression_bodies() -> None:
    (rule,) = rules('f(x) := "a" if x > 1 else := "b" if x > 0 else := "c"', "v1")
    assert rule.bodies == ((expr(BinOp(">", V("x"), N("1"))),),)
    assert [(c.value, c.assign, len(c.body)) for c in rule.else_] == [(S("b"), ":=", 1), (S("c"), ":=", 0)]


def test_else_without_value_is_the_implicit_true() -> None:
    (rule,) = rules("p { false } else { true }")
    assert rule.else_ == (ElseClause(None, None, (expr(TRUE),)),)


def test_if_followed_by_a_single_expression() -> None:
    (rule,) = rules("p := 1 if input.x == 2", "v1")
    assert rule.bodies == ((expr(BinOp("==", ref("input", "x"), N("2"))),),)


def test_functions_with_pattern_arguments_and_dotted_names() -> None:
    (rule,) = rules("a.f([x, y], 1) := x + y", "v1")
    assert (rule.kind, rule.name, rule.path) == (RuleKind.FUNCTION, "a", (S("f"),))
    assert rule.args == (Array((V("x"), V("y"))), N("1"))
    assert rule.value == BinOp("+", V("x"), V("y"))


def test_zero_argument_function_and_its_call() -> None:
    (function, caller) = rules("f() = out { out := 1 }\np := f()")
    assert (function.kind, function.args) == (RuleKind.FUNCTION, ())
    assert caller.value == Call(("f",), ())


def test_a_function_head_alone_is_a_true_function() -> None:
    (rule,) = rules('accept("any", _)')
    assert (rule.kind, rule.args, rule.value, rule.bodies) == (RuleKind.FUNCTION, (S("any"), V("_")), None, ())


def test_v0_bracket_head_alone_is_a_set_element() -> None:
    (rule,) = rules('names["alice"]')
    assert (rule.kind, rule.key, rule.bodies) == (RuleKind.PARTIAL_SET, S("alice"), ())


def test_rule_head_may_have_whitespace_before_its_first_bracket() -> None:
    assert rules("p [x] { x := 1 }")[0].key == V("x")


# --- keywords by version and imports ---


def test_v0_keywords_of_v1_are_ordinary_names() -> None:
    (contains, use) = rules("contains(s, x) { indexof(s, x) >= 0 }\np { if := 1; in := [if]; every := in }")
    assert contains.name == "contains" and contains.kind == RuleKind.FUNCTION
    assert [e.value.left for e in use.bodies[0]] == [V("if"), V("in"), V("every")]


@pytest.mark.parametrize(
    "imports",
    ["import future.keywords", "import future.keywords.in", "import rego.v1", "import future.keywords.every"],
)
def test_future_imports_turn_on_in_for_v0(imports: str) -> None:
    (rule,) = parse(f"package t\n{imports}\np {{ some x in [1] }}\n").rules
    assert rule.bodies[0][0].value == SomeIn(None, V("x"), Array((N("1"),)))


def test_future_keywords_contains_and_if_in_v0() -> None:
    source = "package t\nimport future.keywords.contains\nimport future.keywords.if\np contains x if { x := 1 }\n"
    (rule,) = parse(source).rules
    assert (rule.kind, rule.key) == (RuleKind.PARTIAL_SET, V("x"))


def test_contains_stays_a_callable_builtin_in_v1() -> None:
    assert value('contains("abc", "b")', "v1") == call("contains", S("abc"), S("b"))


def test_keywords_are_allowed_after_a_dot() -> None:
    assert value("input.if.in.not", "v1") == ref("input", "if", "in", "not")


# --- expressions ---


def test_some_declaration_of_several_variables() -> None:
    assert value("some x, y") == SomeDecl((V("x"), V("y")))


@pytest.mark.parametrize("version", ["v0", "v1"])
def test_some_in_with_and_without_key(version: str) -> None:
    prefix = "import future.keywords.in\n" if version == "v0" else ""
    module = parse(
        f"package t\n{prefix}p := 1 {'if ' if version == 'v1' else ''}{{\nsome x in xs\nsome k, v in input.o\n}}\n",
        version,
    )
    first, second = module.rules[0].bodies[0]
    assert first.value == SomeIn(None, V("x"), V("xs"))
    assert second.value == SomeIn(V("k"), V("v"), ref("input", "o"))


def test_every_with_key_and_value() -> None:
    assert value("every k, v in o { v > k }", "v1") == Every(
        V("k"), V("v"), V("o"), (expr(BinOp(">", V("v"), V("k"))),)
    )


def test_membership_and_key_value_membership() -> None:
    assert value("x in xs", "v1") == Membership(None, V("x"), V("xs"))
    assert value('"a", 1 in o', "v1") == Membership(S("a"), N("1"), V("o"))


def test_not_with_membership_and_calls() -> None:
    (a, b) = body('not x in xs\nnot startswith(s, "p")', "v1")
    assert a == expr(Membership(None, V("x"), V("xs")), negated=True)
    assert b == expr(call("startswith", V("s"), S("p")), negated=True)


def test_assignment_and_unification() -> None:
    assert value("x := 1") == Assignment(":=", V("x"), N("1"))
    assert value("[a, b] = [1, 2]") == Assignment("=", Array((V("a"), V("b"))), Array((N("1"), N("2"))))


def test_with_modifiers_attach_to_the_expression() -> None:
    (item,) = body('allow with input.user as "bob" with data.roles as {}')
    assert item == expr(
        V("allow"),
        withs=(With(ref("input", "user"), S("bob")), With(ref("data", "roles"), Object(()))),
    )


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("1 + 2 * 3", BinOp("+", N("1"), BinOp("*", N("2"), N("3")))),
        ("10 - 2 - 3", BinOp("-", BinOp("-", N("10"), N("2")), N("3"))),
        ("(1 + 2) * 3", BinOp("*", BinOp("+", N("1"), N("2")), N("3"))),
        ("a | b & c", BinOp("|", V("a"), BinOp("&", V("b"), V("c")))),
        ("a + 1 == b * 2", BinOp("==", BinOp("+", V("a"), N("1")), BinOp("*", V("b"), N("2")))),
        ("a < b == true", BinOp("==", BinOp("<", V("a"), V("b")), TRUE)),
        ("x % 2 != 0", BinOp("!=", BinOp("%", V("x"), N("2")), N("0"))),
        ("s - t | u", BinOp("|", BinOp("-", V("s"), V("t")), V("u"))),
        ("1 in xs == true", Membership(None, N("1"), BinOp("==", V("xs"), TRUE))),
        ("x in xs in ys", Membership(None, Membership(None, V("x"), V("xs")), V("ys"))),
    ],
)
def test_operator_precedence_and_associativity(text: str, tree) -> None:
    assert value(text, "v1") == tree


def test_an_operator_continues_an_expression_across_a_newline() -> None:
    assert value("x := 1\n- 1") == Assignment(":=", V("x"), BinOp("-", N("1"), N("1")))


def test_a_line_starting_with_a_parenthesis_is_a_new_expression() -> None:
    first, second = body("x := a\n(x - 1) >= 0")
    assert first.value == Assignment(":=", V("x"), V("a"))
    assert second.value == BinOp(">=", BinOp("-", V("x"), N("1")), N("0"))


def test_whitespace_ends_a_term_before_brackets_and_parentheses() -> None:
    assert [e.value for e in body("f\n(x)\ny\n[1]")] == [V("f"), V("x"), V("y"), Array((N("1"),))]


def test_semicolons_and_newlines_both_separate_expressions() -> None:
    assert len(body("a; b\nc;d")) == 4


def test_terms_span_lines_inside_brackets() -> None:
    item = value('x := sprintf(\n  "%v",\n  [\n    1,\n  ],\n)')
    assert item.right == call("sprintf", S("%v"), Array((N("1"),)))


def test_comments_are_whitespace_everywhere() -> None:
    module = parse("# head\npackage t # pkg\n\np { # open\n  x := [1, # one\n 2] # close\n} # end\n")
    assert module.rules[0].bodies[0][0].value == Assignment(":=", V("x"), Array((N("1"), N("2"))))


# --- terms ---


def test_strings_keep_their_text_and_rawness() -> None:
    plain, raw = value('["a\\tb\\u00e9\\/", `c\\d`]').items
    assert (plain.value, plain.text, plain.raw) == ("a\tb\u00e9/", "a\\tb\\u00e9\\/", False)
    assert (raw.value, raw.text, raw.raw) == ("c\\d", "c\\d", True)


def test_string_escapes_decode_like_json_including_surrogate_pairs() -> None:
    assert value('"\\ud83d\\ude00 \\ud800 \\" \\\\ \\b\\f\\n\\r"').value == '\U0001f600 \ufffd " \\ \b\f\n\r'


def test_raw_strings_span_lines() -> None:
    assert value("`a\nb`").value == "a\nb"


@pytest.mark.parametrize("text", ["0", "42", "-7", "1.5", "-0.25", "1e3", "2.5E-3", "1e+2", ".5", "-.5"])
def test_numbers_keep_their_exact_text(text: str) -> None:
    assert value(f"x := {text}").right == N(text)


def test_negative_number_after_an_operator() -> None:
    assert value("x - -1") == BinOp("-", V("x"), N("-1"))


def test_true_false_null() -> None:
    assert value("[true, false, null]") == Array((TRUE, Boolean(False), Null()))


def test_references_with_dots_brackets_and_wildcards() -> None:
    assert value('input.a[0]["b c"][x][_].d') == ref("input", "a", N("0"), "b c", V("x"), V("_"), "d")


def test_references_on_calls_and_collections() -> None:
    assert value("f(x).a[0]") == Ref(call("f", V("x")), (S("a"), N("0")))
    assert value("[1, 2][i]") == Ref(Array((N("1"), N("2"))), (V("i"),))


def test_calls_with_dotted_names_and_trailing_comma() -> None:
    assert value('object.get(input, "a", {},)') == call("object.get", V("input"), S("a"), Object(()))


def test_collections_and_the_empty_set() -> None:
    item = value('[{"a": 1}, {1, 2}, set(), {}, []]')
    assert item == Array((Object(((S("a"), N("1")),)), Set((N("1"), N("2"))), Set(()), Object(()), Array(())))


def test_set_and_object_items_may_be_infix_terms() -> None:
    assert value("{1 + 1, 2}") == Set((BinOp("+", N("1"), N("1")), N("2")))
    assert value("{1 + 1: 2}") == Object(((BinOp("+", N("1"), N("1")), N("2")),))


def test_comprehensions_of_all_three_kinds() -> None:
    array, set_, obj = value("[[x | x := xs[_]], {x | some x in xs}, {k: v | v := o[k]}]", "v1").items
    assert array == ArrayComprehension(V("x"), (expr(Assignment(":=", V("x"), Ref(V("xs"), (V("_"),)))),))
    assert set_ == SetComprehension(V("x"), (expr(SomeIn(None, V("x"), V("xs"))),))
    assert obj == ObjectComprehension(V("k"), V("v"), (expr(Assignment(":=", V("v"), Ref(V("o"), (V("k"),)))),))


def test_comprehension_bodies_span_lines() -> None:
    item = value("[x |\n  x := 1\n  x > 0\n]")
    assert len(item.body) == 2


def test_a_bar_with_a_non_body_after_it_is_a_set_union() -> None:
    assert value("{a | b, c}") == Set((BinOp("|", V("a"), V("b")), V("c")))


def test_template_strings_in_both_forms() -> None:
    item = value('$"x={input.x} \\{lit} {[1, "}"][0]}"', "v1")
    assert item == TemplateString(("x=", ref("input", "x"), " {lit} ", Ref(Array((N("1"), S("}"))), (N("0"),))))
    raw = value("$`a\\n\n{1 + 1}\\{`", "v1")
    assert raw == TemplateString(("a\\n\n", BinOp("+", N("1"), N("1")), "{"))


def test_nested_template_strings() -> None:
    assert value('$"<{$"{x}!"}>"', "v1") == TemplateString(("<", TemplateString((V("x"), "!")), ">"))


# --- positions ---


def test_positions_are_one_based_line_and_column() -> None:
    module = parse("package t\n\nviolation[msg] {\n  x := input.a\n  msg := x\n}\n")
    (rule,) = module.rules
    first, second = rule.bodies[0]
    assert (module.line, module.col, rule.line, rule.col) == (1, 1, 3, 1)
    assert (first.line, first.col, second.line, second.col) == (4, 3, 5, 3)
    assert (first.value.right.line, first.value.right.col) == (4, 8)
    assert (rule.key.line, rule.key.col) == (3, 11)


# --- syntax errors ---

ERRORS = [
    ("package t\n\np {\n  x := 1\n", "v0", 5, 1, "expected '}' to close the rule body opened at 3:3"),
    ("package t\np { x := [1, 2 }", "v0", 2, 16, "expected ',' or ']' in the array opened at 2:10"),
    ("package t\np { x := 1 y := 2 }", "v0", 2, 12, "expected a newline or ';' before 'y'"),
    (
        "package t\np { some x in [1] }",
        "v0",
        2,
        12,
        "expected a newline or ';' before 'in' ('in' is a keyword only in Rego v1 or after "
        "`import future.keywords.in`)",
    ),
    (
        "package t\np { x := -y }",
        "v0",
        2,
        11,
        "'-' must be followed by a number here; write `0 - x` to negate an expression",
    ),
    ('package t\np { x := "abc }', "v0", 2, 10, "unterminated string: expected a closing '\"' on the same line"),
    ('package t\np { x := "a\\qb" }', "v0", 2, 12, "invalid escape sequence '\\q' in string"),
    ("package t\np { x := 01 }", "v0", 2, 10, "numbers cannot have leading zeros: 01"),
    (
        "package t\np { x != !y }",
        "v0",
        2,
        10,
        "unexpected '!': write 'not' to negate an expression, or '!=' for 'not equal'",
    ),
    ("package t\np[x] { x := 1 }", "v1", 2, 1, "Rego v1 needs 'contains' for a partial set: write `p contains ...`"),
    ("package t\np { true }", "v1", 2, 3, "Rego v1 needs 'if' before a rule body"),
    ("package t\ndefault p", "v0", 2, 10, "a default rule needs a value, e.g. `default p := false`"),
    ("package t\ndefault p := x", "v0", 2, 9, "a default value must be a constant (no variables, references or calls)"),
    ("p := 1", "v0", 1, 1, "a module must start with 'package <name>', found 'p'"),
    ("", "v0", 1, 1, "empty module: expected 'package <name>'"),
    ("package t\nimport foo.bar", "v0", 2, 8, "an import path must start with data, input, future or rego, not 'foo'"),
    (
        "package t\nimport future.keywords.foo",
        "v0",
        2,
        8,
        "unknown future keyword: expected one of contains, every, if, in",
    ),
    (
        "package t\np contains x if { x := 1 } else := 2",
        "v1",
        2,
        28,
        "'else' can only follow a rule with a single value or a function",
    ),
    ("package t\np { }", "v0", 2, 5, "empty rule body: write at least one expression"),
    ("package t\np := 1 q", "v0", 2, 9, "expected ':=', '=', 'if' or '{' after the rule head 'q', found end of file"),
    (
        "package t\nf(x) := 1 { true } { false } else := 3",
        "v0",
        2,
        30,
        "'else' cannot follow a rule with several bodies",
    ),
    (
        'package t\np := $"a{}"',
        "v1",
        2,
        10,
        "empty '{}' in a template string: write an expression, or '\\{' for a brace",
    ),
    ("package t\np if { every x in xs }", "v1", 2, 22, "expected '{' to start the body of 'every', found '}'"),
    ("package t\np if { not some x }", "v1", 2, 12, "'not' cannot be applied to 'some'"),
    ("package t\np if { x := {1: 2, 3} }", "v1", 2, 21, "expected ':' after an object key, found '}'"),
    ("package t\np if { x := (1 + 2 }", "v1", 2, 20, "expected ')' to close the parenthesis opened at 2:13, found '}'"),
    ("package t\np if { x := `abc }", "v1", 2, 13, "unterminated raw string: expected a closing '`'"),
    ("package t\np if { x := 1.e3 }", "v1", 2, 14, "expected digits after the decimal point"),
    ("package t\np if { x := 1x }", "v1", 2, 13, "invalid number '1x'"),
    ("package t\np if { f(x) with y }", "v1", 2, 20, "expected 'as' after the 'with' target, found '}'"),
    ('package t\np if { "a".b }', "v1", 2, 11, "'.' cannot follow a string"),
    ("package t\np if { x := [1,\n 2,\n", "v1", 4, 1, "expected ']' to close the array opened at 2:13"),
    ("package t\np if { x.y(1)(2) }", "v1", 2, 14, "only a name like f or x.y.f can be called"),
    ("package t\np if { a[0](1) }", "v1", 2, 12, "only a name like f or x.y.f can be called"),
    ("package t\np := 1\npackage u", "v0", 3, 1, "a module has only one 'package' declaration"),
    ("package t\nimport future.keywords.in as x", "v0", 2, 8, "`future.keywords` imports cannot have an alias"),
    ("package t\np if { x := $ }", "v1", 2, 13, "'$' must start a template string: $\"...\" or $`...`"),
    ('package t\np := $"abc', "v1", 2, 6, "unterminated template string: expected a closing '\"' on the same line"),
    ('package t\np := $"a\\q"', "v1", 2, 9, "invalid escape sequence '\\q' in template string"),
    ('package t\np := "a\\{"', "v1", 2, 8, "invalid escape sequence '\\{' in string"),
    (
        "package t\np {\n  x := 1\nq { true }",
        "v0",
        4,
        1,
        "expected '}' to close the rule body opened at 2:3 before this rule",
    ),
    (
        "package t\np if {\n  x := 1\nq if { true }",
        "v1",
        4,
        1,
        "expected '}' to close the rule body opened at 2:6 before this rule",
    ),
    # As in OPA, a comprehension head is a single term: `[x * 2 | ...]` needs parentheses.
    ("package t\np := [x * 2 | x := 1]", "v0", 2, 17, "expected ',' or ']' in the array opened at 2:6"),
]


@pytest.mark.parametrize(("source", "version", "line", "col", "message"), ERRORS)
def test_syntax_errors_point_at_the_offending_token(
    source: str, version: str, line: int, col: int, message: str
) -> None:
    err = error(source, version)
    assert (err.line, err.col, err.message) == (line, col, message)
    assert str(err) == f"t.rego:{line}:{col}: {message}"
    assert err.filename == "t.rego"


def test_unknown_version_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown Rego version"):
        parse_module("package t", version="v2", filename="t.rego")


def test_v1_keywords_cannot_be_rule_names_in_v1() -> None:
    err = error("package t\nif := 1", "v1")
    assert (err.line, err.col) == (2, 1)
    assert err.message == "expected a rule or an import, found 'if'"
