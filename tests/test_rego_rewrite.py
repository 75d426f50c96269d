"""The rewrites that make rego-cpp evaluate as OPA does: each one evaluated, next to the behaviour it avoids."""

from __future__ import annotations

import pytest

from gatekeeper_py.drivers.rego.driver import translate
from gatekeeper_py.drivers.rego.emit import emit_module
from gatekeeper_py.drivers.rego.engine import CompiledPolicy, EngineError, to_engine_json
from gatekeeper_py.drivers.rego.parser import parse_module
from gatekeeper_py.drivers.rego.rewrite import FORMAT_FUNCTION, rewrite_module


def evaluate(source: str, data: dict, rule: str = "r", version: str = "v1") -> object:
    """Translate (parse, rewrite, emit) a module, compile it on rego-cpp and evaluate `rule`."""
    policy = CompiledPolicy({"m.rego": translate(source, version, "m.rego")}, f"m/{rule}")
    return policy.evaluate(to_engine_json(data))


def test_variable_index_in_call_argument_is_bound_first() -> None:
    source = (
        "package m\n"
        "bad contains image if {\n  some image in input.images\n  not allowed(image)\n}\n"
        "allowed(image) if startswith(image, input.repos[_])\n"
        "r := bad\n"
    )
    data = {"images": ["ok.io/a", "evil.io/b", "also.ok/c"], "repos": ["ok.io/", "also.ok/"]}
    assert evaluate(source, data) == ["evil.io/b"]
    # rego-cpp alone cannot build the same module
    with pytest.raises(EngineError):
        CompiledPolicy({"m.rego": emit_module(parse_module(source, version="v1", filename="m.rego"))}, "m/r")


def test_bound_refs_inside_comprehensions_and_nested_calls() -> None:
    source = (
        "package m\n"
        "r := {\n"
        '  "lowered": {c | c := lower(input.caps[_])},\n'
        '  "hosts": [h | h := object.get(input.rules[_], "host", "")],\n'
        '  "nested": [n | n := count(split(input.words[_], "-"))],\n'
        "}\n"
    )
    data = {"caps": ["NET_ADMIN", "SYS_TIME"], "rules": [{"host": "a"}, {}], "words": ["a-b-c", "d"]}
    assert evaluate(source, data) == {"lowered": ["net_admin", "sys_time"], "hosts": ["a", ""], "nested": [3, 1]}


@pytest.mark.parametrize(
    ("binding", "expected"),
    [
        ('s := "lit"', "at lit"),  # a body-bound literal: rego-cpp alone prints it with quotes
        ('s := concat("-", ["a", "b"])', "at a-b"),  # a builtin-made string: likewise
        ("s := input.q", 'at a"b'),
        ("s := 1.5", "at 1.5"),
        ('s := ["x", 2]', 'at ["x", 2]'),
        ('s := {"k": input.q}', 'at {"k": "a\\"b"}'),
    ],
)
def test_sprintf_prints_every_kind_of_string_as_opa_does(binding: str, expected: str) -> None:
    source = f'package m\nr := sprintf("at %v", [s]) if {{\n  {binding}\n}}\n'
    assert evaluate(source, {"q": 'a"b'}) == expected


def test_sprintf_without_helper_shows_the_rego_cpp_bug_we_avoid() -> None:
    source = 'package m\nr := sprintf("at %v", [s]) if {\n  s := "lit"\n}\n'
    raw = CompiledPolicy({"m.rego": emit_module(parse_module(source, version="v1", filename="m.rego"))}, "m/r")
    assert raw.evaluate(to_engine_json({})) == 'at "lit"'


def test_format_helper_is_added_only_where_sprintf_is_used() -> None:
    assert FORMAT_FUNCTION in translate('package m\nr := sprintf("%v", [input.x])\n', "v1", "m.rego")
    assert FORMAT_FUNCTION not in translate("package m\nr := input.x\n", "v1", "m.rego")


NEGATED = (
    "package m\n"
    'accept("RunAsAny", _, _)\n'
    "accept(_, value, ranges) if {\n  some r in ranges\n  value >= r.min\n}\n"
    "r if {\n  not accept(input.rule, input.value, input.params.ranges)\n}\n"
    "default r := false\n"
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"rule": "MustRunAs", "value": 5}, False),  # ranges undefined: OPA fails the body, so no violation
        ({"rule": "MustRunAs", "value": 5, "params": {"ranges": [{"min": 10}]}}, True),
        ({"rule": "MustRunAs", "value": 50, "params": {"ranges": [{"min": 10}]}}, False),
        ({"rule": "RunAsAny", "value": 5, "params": {"ranges": []}}, False),
    ],
)
def test_negated_call_with_undefined_argument_fails_like_opa(data: dict, expected: bool) -> None:
    assert evaluate(NEGATED, data) is expected


def test_negated_call_rewrite_leaves_variable_indexed_refs_alone() -> None:
    module = rewrite_module(
        parse_module("package m\nr if {\n  not f(input.xs[_])\n}\n", version="v1", filename="m"), "v1"
    )
    [rule] = module.rules
    [[expr]] = rule.bodies
    assert expr.negated and "__gk_" not in emit_module(module)


def test_v0_source_goes_through_the_same_rewrites() -> None:
    source = (
        "package m\n"
        'violation[{"msg": msg}] {\n'
        "  image := input.images[_]\n"
        "  startswith(image, input.repos[_])\n"
        '  kind := "image"\n'
        '  msg := sprintf("%v %v is not allowed", [kind, image])\n'
        "}\n"
    )
    assert evaluate(source, {"images": ["a/x", "c/y"], "repos": ["a/"]}, rule="violation", version="v0") == [
        {"msg": "image a/x is not allowed"}
    ]


DEPRECATED = """package m
r := {
  "any": [any([false, true]), any({false}), any([])],
  "all": [all([true, true]), all([true, false]), all([])],
  "re_match": [re_match("^a.c$", "abc"), re_match("^a.c$", "abd")],
  "set_diff": set_diff({1, 2, 3}, {2}),
  "cast": [cast_array({3, 1}), cast_set([1, 1, 2]), cast_string("s"), cast_boolean(true), cast_object({"a": 1})],
}
"""


def test_deprecated_v0_builtins_mean_what_opa_gives_them() -> None:
    assert evaluate(DEPRECATED, {}, version="v0") == {
        "any": [True, False, False],
        "all": [True, False, True],
        "re_match": [True, False],
        "set_diff": [1, 3],
        "cast": [[1, 3], [1, 2], "s", True, {"a": 1}],
    }


def test_deprecated_builtins_are_only_for_v0_templates() -> None:
    from conftest import constraint, template

    from gatekeeper_py import Client, TemplateError

    rego = 'package m\nviolation[{"msg": "m"}] {\n  re_match("^x", input.review.object.metadata.name)\n}\n'
    client = Client()
    client.add_template(template("K8sDeprecated", rego, version=""))
    client.add_constraint(constraint("K8sDeprecated", "c"))
    assert [r.msg for r in client.review({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "xy"}})] == ["m"]
    v1 = 'package m\nviolation contains {"msg": "m"} if {\n  re_match("^x", input.review.object.metadata.name)\n}\n'
    with pytest.raises(TemplateError, match="undefined function re_match"):
        Client().add_template(template("K8sDeprecated", v1))
