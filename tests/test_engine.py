"""The regopy wrapper: compile once, evaluate many times, read every value back exactly.

Everything here runs in the pytest process, so only inputs known to be safe for rego-cpp appear (no `with`,
no dynamic `data[k]` refs: those abort or crash the interpreter, see ../shared/docs/regopy-notes.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from gatekeeper_py.drivers.rego.engine import (
    CompiledPolicy,
    EngineError,
    EvalError,
    to_engine_json,
)

HOSTILE = [
    'say "hi"',
    "back\\slash",
    "line1\nline2",
    "tab\there",
    "é☃",
    '{"k": [1, "v"]}',
    '"quoted"',
    "\\n is not a newline",
    "\\u00e9 is not an e-acute",
    "",
    'mixed: "q" \\ \n\t é☃ \r end',
]


def policy(body: str, rule: str = "r") -> CompiledPolicy:
    return CompiledPolicy({"t.rego": f"package t\n\n{body}\n"}, f"t/{rule}")


def run(body: str, value: Any = None) -> Any:
    return policy(body).evaluate(to_engine_json({} if value is None else value))


# --- decoding every kind of value ---


@pytest.mark.parametrize(
    "value",
    [
        "text",
        0,
        -5,
        42,
        2**70,
        -(2**80),
        2.5,
        -0.125,
        True,
        False,
        None,
    ],
    ids=repr,
)
def test_scalars_from_input_decode_to_the_same_python_value(value: Any) -> None:
    result = run("r := input.v", {"v": value})
    assert result == value
    assert type(result) is type(value)


def test_scalars_from_rego_literals_and_arithmetic() -> None:
    body = "r := [123456789012345678901234567890, input.n + 1, 7 / 2, -3, true, false, null, 1.25]"
    assert run(body, {"n": 2**70}) == [123456789012345678901234567890, 2**70 + 1, 3.5, -3, True, False, None, 1.25]


def test_nested_arrays_and_objects_decode_structurally() -> None:
    value = {"a": [1, {"b": [True, None, "x"]}], "c": {}, "d": [], "e": {"f": {"g": 2.5}}}
    assert run("r := input.v", {"v": value}) == value


def test_sets_decode_to_lists_without_duplicates() -> None:
    result = run("r := {x | some x in input.xs}", {"xs": [3, 1, 2, 1, 3]})
    assert isinstance(result, list)
    assert sorted(result) == [1, 2, 3]


def test_sets_nested_in_objects_and_empty_sets_decode_to_lists() -> None:
    result = run('r := {"s": {"b", "a"}, "empty": set(), "n": [{1}]}')
    assert sorted(result["s"]) == ["a", "b"]
    assert result["empty"] == []
    assert result["n"] == [[1]]


def test_partial_set_rule_without_members_is_an_empty_list_not_undefined() -> None:
    assert run("r contains x if { some x in input.xs }", {"xs": []}) == []


def test_object_keys_are_decoded_and_non_string_keys_become_json_text() -> None:
    assert run("r := {k: v | some k, v in input.o}", {"o": {'a"b': 1, "é\n": [2]}}) == {'a"b': 1, "é\n": [2]}
    assert run('r := {1: "one", "k": 2}') == {"1": "one", "k": 2}


def test_data_given_at_build_time_is_readable_and_decoded() -> None:
    data = {"inventory": {"x": 'é"\\\n', "n": [1, 2]}}
    compiled = CompiledPolicy(
        {"t.rego": "package t\nr := [data.inventory.x, data.inventory.n, input.y]\n"}, "t/r", data
    )
    assert compiled.evaluate(to_engine_json({"y": 2})) == ['é"\\\n', [1, 2], 2]


def test_to_engine_json_is_compact_and_keeps_non_ascii() -> None:
    assert to_engine_json({"a": "é☃", "b": [1, 2], "c": None}) == '{"a":"é☃","b":[1,2],"c":null}'


# --- hostile strings ---


@pytest.mark.parametrize("text", HOSTILE, ids=repr)
def test_hostile_strings_echoed_from_input_round_trip_exactly(text: str) -> None:
    value = {"s": text, "nested": {"list": [text], text: "as key"}}
    assert run("r := input.v", {"v": value}) == value


@pytest.mark.parametrize("text", HOSTILE, ids=repr)
def test_hostile_strings_through_sprintf_with_escaped_template_literals(text: str) -> None:
    body = r'r := sprintf("name=\"%v\"\tpath=C:\\tmp\nsnow=☃ caf\u00e9 <%s>", [input.s, input.s])'
    expected = f'name="{text}"\tpath=C:\\tmp\nsnow=☃ café <{text}>'
    assert run(body, {"s": text}) == expected


def test_template_literals_with_escapes_decode_exactly() -> None:
    body = r'r := ["q\"q", "b\\s", "n\nl", "t\tb", "caf\u00e9", `raw \n "kept"`, "", "\"\""]'
    assert run(body) == ['q"q', "b\\s", "n\nl", "t\tb", "café", 'raw \\n "kept"', "", '""']


def test_strings_made_by_builtins_decode_without_their_quotes() -> None:
    # rego-cpp holds these results as quoted JSON strings ("\"a-b\""); the decoder must unwrap them.
    body = (
        'r := [concat("-", ["a", "b"]), upper(input.s), lower("A\\"B"), replace(input.s, "b", "c"), '
        'concat("", []), json.marshal({"k": input.s}), format_int(255, 16), regex.replace("ab", "b", "c"), '
        'object.get(input, "missing", "dflt")]'
    )
    assert run(body, {"s": 'a"b'}) == ["a-b", 'A"B', 'a"b', 'a"c', "", '{"k":"a\\"b"}', "ff", "ac", "dflt"]


def test_sprintf_formats_composites_like_opa() -> None:
    body = 'r := sprintf("%v|%v|%v|%v", [["a", 1], {"a": 1}, {3, 1}, input.o])'
    assert run(body, {"o": {"k": 'a"b\\c\n'}}) == '["a", 1]|{"a": 1}|{1, 3}|{"k": "a\\"b\\\\c\\n"}'


def test_sprintf_of_a_set_built_from_input_is_sorted() -> None:
    assert run('r := sprintf("%v", [{x | some x in input.xs}])', {"xs": ["b", "c", "a"]}) == '{"a", "b", "c"}'


# --- rego-cpp facts the wrapper relies on or suffers from (re-check when regopy changes) ---


@pytest.mark.parametrize(
    ("literal", "text"),
    [
        (r'"a\"b"', 'a"b'),
        (r'"x\\y"', "x\\y"),
        (r'"l1\nl2\tt"', "l1\nl2\tt"),
        ('"é☃"', "é☃"),
        (r'"{\"k\": 1}"', '{"k": 1}'),
    ],
)
def test_rego_cpp_string_literals_with_escapes_equal_the_same_input_string(literal: str, text: str) -> None:
    # Input goes in as JSON text, so it is stored in the same escaped form as the template's literals.
    assert run(f"r := input.s == {literal}", {"s": text}) is True
    assert run(f"r := input.s == {literal}", {"s": text + "x"}) is False


def test_rego_cpp_unicode_escape_literal_does_not_equal_raw_non_ascii_input() -> None:
    # Literals keep their `\u00e9` spelling and input keeps the raw character (to_engine_json uses
    # ensure_ascii=False), so these differ inside rego-cpp although OPA says they are equal.
    assert run('r := input.s == "café"', {"s": "café"}) is True
    assert run(r'r := input.s == "caf\u00e9"', {"s": "café"}) is False


def test_rego_cpp_quotes_builtin_strings_inside_sprintf() -> None:
    # A rego-cpp bug no decoder can undo: OPA gives `missing: a, b`. When this fails, rego-cpp has fixed it.
    assert run('r := sprintf("missing: %v", [concat(", ", ["a", "b"])])') == 'missing: "a, b"'


# --- undefined, compile errors, evaluation errors ---


def test_undefined_rule_is_none() -> None:
    assert run("r if input.flag", {"flag": False}) is None
    assert run("r := input.missing", {"other": 1}) is None


def test_syntax_error_names_module_line_and_column() -> None:
    broken = "package t\n\ns if {\n    x := [1, 2\n}\n"
    with pytest.raises(EngineError) as info:
        CompiledPolicy({"a.rego": "package t\nr := 1\n", "b.rego": broken}, "t/r")
    err = info.value
    assert (err.module, err.line, err.column) == ("b.rego", 4, 10)
    assert "unclosed" in err.message
    assert str(err).startswith("b.rego:4:10: ")


def test_bad_operator_error_points_at_the_operator() -> None:
    with pytest.raises(EngineError) as info:
        policy("r := 1 +")
    assert (info.value.module, info.value.line, info.value.column) == ("t.rego", 3, 8)
    assert "arithmetic" in info.value.message


def test_engine_error_without_location_is_just_the_message() -> None:
    err = EngineError("boom")
    assert str(err) == "boom"
    assert (err.module, err.line, err.column) == (None, None, None)


def test_conflicting_complete_rule_is_an_eval_error_and_the_policy_stays_usable() -> None:
    compiled = policy("r := 1 if input.a\nr := 2 if input.b")
    result = compiled.evaluate(to_engine_json({"a": True, "b": True}))
    assert isinstance(result, EvalError)
    assert "multiple outputs" in result.message
    assert compiled.evaluate(to_engine_json({"a": True, "b": False})) == 1
    assert compiled.evaluate(to_engine_json({"a": False, "b": True})) == 2


def test_conflicting_function_outputs_are_an_eval_error() -> None:
    result = run("f(x) := x + 1\nf(x) := x + 2\nr := f(1)")
    assert isinstance(result, EvalError)
    assert "multiple outputs" in result.message


def test_unknown_function_in_an_executed_branch_is_an_eval_error() -> None:
    # rego-cpp compiles this and reports the error at evaluation, with ok() true on the output.
    compiled = policy("r contains m if {\n    some x in input.xs\n    m := no_such_func(x)\n}")
    result = compiled.evaluate(to_engine_json({"xs": [1]}))
    assert isinstance(result, EvalError)
    assert "no_such_func" in result.message
    assert compiled.evaluate(to_engine_json({"xs": []})) == []
    again = compiled.evaluate(to_engine_json({"xs": [2]}))
    assert isinstance(again, EvalError)
    assert "no_such_func" in again.message


def test_many_evaluations_of_one_policy_are_independent() -> None:
    compiled = policy(
        'r := {"n": input.n, "msg": sprintf("%v:%v", [input.n, input.s]), "extra": object.get(input, "extra", "-")}'
    )
    for n in range(60):
        value: dict[str, Any] = {"n": n, "s": HOSTILE[n % len(HOSTILE)]}
        if n % 3 == 0:
            value["extra"] = f"e{n}"
        expected = {"n": n, "msg": f"{n}:{value['s']}", "extra": value.get("extra", "-")}
        assert compiled.evaluate(to_engine_json(value)) == expected


def test_input_does_not_leak_from_one_evaluation_into_the_next() -> None:
    compiled = policy("r := input.a")
    assert compiled.evaluate(to_engine_json({"a": 1})) == 1
    assert compiled.evaluate(to_engine_json({})) is None
    assert compiled.evaluate(to_engine_json({"a": "x"})) == "x"


def test_sets_decode_in_opa_order() -> None:
    policy = CompiledPolicy({"s.rego": "package s\nr := {x | some x in input.xs}"}, "s/r")
    value = policy.evaluate(to_engine_json({"xs": [3, "b", 1, None, "a", True, [2], {"k": 1}, 2.5, 1]}))
    assert value == [None, True, 1, 2.5, 3, "a", "b", [2], {"k": 1}]


@pytest.mark.parametrize("text", ['{"x": Infinity}', '{"x": NaN}'])
def test_non_finite_numbers_become_an_eval_error(text: str) -> None:
    policy = CompiledPolicy({"n.rego": "package n\nr := input.x"}, "n/r")
    assert isinstance(policy.evaluate(text), EvalError)


def test_unparsable_input_becomes_an_eval_error_with_the_reason() -> None:
    policy = CompiledPolicy({"n.rego": "package n\nr := input.x"}, "n/r")
    result = policy.evaluate('{"x": ')
    assert isinstance(result, EvalError)
    assert result.message == "rego-cpp rejected the input: this is unclosed"


def test_to_engine_json_refuses_non_finite_numbers() -> None:
    with pytest.raises(ValueError):
        to_engine_json({"x": float("inf")})


def test_membership_booleans_decode_as_booleans() -> None:
    policy = CompiledPolicy({"b.rego": "package b\nr := [1 in [1], 2 in [1], true]"}, "b/r")
    assert policy.evaluate(to_engine_json({})) == [True, False, True]


def test_both_engines_in_one_process_whichever_is_made_first() -> None:
    """regopy loaded before cel-expr-python makes cel-cpp abort on a long string literal; the drivers package
    loads them in the safe order, so a Rego client and then a CEL client live in one process."""
    import subprocess
    import sys

    script = (
        "from gatekeeper_py import Client\n"
        "Client(engine='rego')\n"
        "from cel_expr_python import cel\n"
        "print(cel.NewEnv().compile('\"0123456789012345\"').eval().value())\n"
        "Client(engine='cel')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (run.returncode, run.stdout) == (0, "0123456789012345\n"), run.stderr
