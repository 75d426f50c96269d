"""The rewrites that make rego-cpp evaluate as OPA does: each one evaluated, next to the behaviour it avoids."""

from __future__ import annotations

import pytest
from conftest import V1_TEMPLATES

from gatekeeper_py.drivers.rego.checks import reads_parameters
from gatekeeper_py.drivers.rego.driver import translate
from gatekeeper_py.drivers.rego.emit import emit_module
from gatekeeper_py.drivers.rego.engine import CompiledPolicy, EngineError, to_engine_json
from gatekeeper_py.drivers.rego.parser import parse_module
from gatekeeper_py.drivers.rego.rewrite import FORMAT_FUNCTION, STRING_FUNCTION, parameters_read_at
from gatekeeper_py.drivers.rego.syntax import String


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


def test_format_helpers_are_added_only_where_sprintf_is_used() -> None:
    assert STRING_FUNCTION in translate('package m\nr := sprintf("%v", [input.x])\n', "v1", "m.rego")
    assert FORMAT_FUNCTION in translate("package m\nr := sprintf(input.f, [input.x])\n", "v1", "m.rego")
    assert STRING_FUNCTION not in translate("package m\nr := input.x\n", "v1", "m.rego")


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ('sprintf("value \\"%v\\" is not allowed", [input.q])', 'value "say "hi"" is not allowed'),
        (
            'sprintf("%v mounts \\"%v\\"", [sprintf("container \\"%v\\"", ["app"]), "logs"])',
            'container "app" mounts "logs"',
        ),
        ('sprintf("path %v, pattern %v", [input.path, "^\\\\d{4}$"])', "path C:\\temp, pattern ^\\d{4}$"),
        (
            'sprintf("%v%% of %q, %5.2f, %d, %v", [50, input.q, 1.5, 7, ["a"]])',
            '50% of "say \\"hi\\"",  1.50, 7, ["a"]',
        ),
    ],
)
def test_sprintf_with_escapes_and_quoted_arguments_prints_as_opa_does(call: str, expected: str) -> None:
    """A literal format is joined with concat: rego-cpp's sprintf printed the format's escapes literally when an
    argument held a quote or a backslash."""
    assert evaluate(f"package m\nr := {call}\n", {"q": 'say "hi"', "path": "C:\\temp"}) == expected


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


@pytest.mark.parametrize(
    ("body", "data", "expected"),
    [
        # OPA binds every operand of a negated call or comparison before the `not` (not for `==`):
        ('not startswith("abc", input.xs[_])', {"xs": ["a", "z"]}, True),  # some element fails: "z"
        ('not startswith("abc", input.xs[_])', {"xs": ["a", "ab"]}, False),
        ("not input.x > 5", {}, False),  # undefined operand: the body fails
        ("not input.x > 5", {"x": 3}, True),
        ('not input.x != "a"', {}, False),
        ('not "a" in input.xs', {}, False),
        ('not "a" in input.xs', {"xs": ["b"]}, True),
        ("not count(input.x) > 0", {}, False),
        ('not startswith(lower(input.x), "a")', {}, False),
        ('not input.x == "a"', {}, True),  # `==` keeps its operands inside the negation
    ],
)
def test_negated_operands_are_bound_before_the_negation_like_opa(body: str, data: dict, expected: bool) -> None:
    source = f"package m\ndefault r := false\nr if {{\n  {body}\n}}\n"
    assert evaluate(source, data) is expected


def test_comprehension_heads_beyond_a_term_move_into_the_body() -> None:
    source = (
        'package m\nr := {"a": [lower(input.xs[i]) | some i, _ in input.xs], "s": {upper(x) | some x in input.xs}}\n'
    )
    assert evaluate(source, {"xs": ["A", "B"]}) == {"a": ["a", "b"], "s": ["A", "B"]}


def test_fresh_names_never_collide_with_the_modules_own() -> None:
    source = 'package m\nr if {\n  __gk_0 := "A"\n  xs := ["A"]\n  some i\n  lower(xs[i]) == "a"\n  __gk_0 == "A"\n}\n'
    assert evaluate(source, {}) is True


def test_deeply_nested_sources_are_a_template_error_not_a_crash() -> None:
    deep = "package m\nr := " + "[" * 400 + "1" + "]" * 400 + "\n"
    with pytest.raises(TemplateError, match="nested too deeply"):
        translate(deep, "v1", "m.rego")


def test_keyword_named_lib_rules_are_renamed_where_they_are_called() -> None:
    from conftest import constraint, template

    from gatekeeper_py import Client

    lib = "package lib.util\nin(x, xs) { xs[_] == x }\n"
    rego = (
        "package m\nimport data.lib.util\n"
        'violation[{"msg": "found"}] { util.in("a", input.review.object.spec.xs) }\n'
        'violation[{"msg": "found again"}] { data.lib.util.in("a", input.review.object.spec.xs) }\n'
    )
    client = Client()
    client.add_template(template("K8sKw", rego, libs=[lib], version=""))
    client.add_constraint(constraint("K8sKw", "c"))

    def review(xs: list[str]) -> list[str]:
        return [
            r.msg
            for r in client.review({"apiVersion": "v1", "kind": "X", "metadata": {"name": "x"}, "spec": {"xs": xs}})
        ]

    assert review(["b"]) == []
    assert review(["a"]) == ["found", "found again"]


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


# -- properties -------------------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gatekeeper_py.drivers.rego.syntax import RegoSyntaxError  # noqa: E402
from gatekeeper_py.errors import TemplateError  # noqa: E402
from gatekeeper_py.loader import read_paths  # noqa: E402
from gatekeeper_py.model import parse_template  # noqa: E402

REPO_TEMPLATES = [parse_template(doc.obj, doc.source) for doc in read_paths([V1_TEMPLATES])]
SAMPLE_MODULES = [(t.kind, t.rego.rego, t.rego.version) for t in REPO_TEMPLATES] + [
    ("deprecated", DEPRECATED, "v0"),
    ("negated", NEGATED, "v1"),
]


@pytest.mark.parametrize(("name", "source", "version"), SAMPLE_MODULES, ids=[m[0] for m in SAMPLE_MODULES])
def test_translation_is_idempotent_on_its_own_output(name: str, source: str, version: str) -> None:
    once = translate(source, version, f"{name}.rego")
    assert translate(once, "v1", f"{name}.rego") == once


@pytest.mark.parametrize("tmpl", REPO_TEMPLATES, ids=[t.kind for t in REPO_TEMPLATES])
def test_v1_templates_mean_the_same_translated(tmpl) -> None:  # type: ignore[no-untyped-def]
    """Our v1 templates, as written and as translated, give the same violations on sample reviews."""
    entry = tmpl.rego.rego.split("package ", 1)[1].split("\n", 1)[0].replace(".", "/") + "/violation"
    raw = CompiledPolicy({"t.rego": tmpl.rego.rego}, entry)
    translated = CompiledPolicy({"t.rego": translate(tmpl.rego.rego, "v1", "t.rego")}, entry)
    reviews = [
        {"operation": "DELETE", "object": {"kind": "Node", "metadata": {"name": "n", "labels": {"a": "b"}}},
         "oldObject": {"kind": "Node", "metadata": {"name": "n"}}},
        {"operation": "CONNECT", "subResource": "exec", "name": "p", "namespace": "prod", "userInfo": {"username": "u"},
         "object": {"kind": "PodExecOptions"}},
        {"operation": "CREATE", "object": {"kind": "Pod", "metadata": {"name": "p", "labels": {"team": "Ab"}},
         "spec": {"containers": [{"name": "c", "image": "docker.io/x"}],
                  "initContainers": [{"name": "i", "image": "r/x"}]}}},
    ]  # fmt: skip
    params = {
        "registries": ["r/"],
        "exemptUsers": ["x"],
        "label": "a",
        "labels": [{"key": "team", "allowedRegex": "^[a-z]+$"}],
    }
    for review in reviews:
        document = to_engine_json({"review": review, "parameters": params})
        assert raw.evaluate(document) == translated.evaluate(document)


_NAMES = st.sampled_from(["x", "y", "msg", "input.a", "input.b[_]", "data.lib.z", "c.name"])
_TERMS = st.recursive(
    st.one_of(_NAMES, st.sampled_from(['"s"', "1", "2.5", "true", "null", "[]", "{}", "set()"])),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["==", "!=", "<", "+", "-", "|", "&"]), inner).map(" ".join),
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.tuples(st.sampled_from(["count", "startswith", "any", "sprintf", "lower"]), st.lists(inner, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
        inner.map(lambda t: f"[v | v := {t}]"),
    ),
    max_leaves=6,
)
_EXPRS = st.one_of(
    _TERMS,
    st.tuples(st.sampled_from(["x", "y", "msg"]), st.sampled_from([":=", "="]), _TERMS).map(" ".join),
    _TERMS.map(lambda t: f"not {t}"),
    st.sampled_from(["some i", "x := input.a[i]", "# comment", ";", "}", "{", "(", "]", "@", '"unclosed']),
)
_HEADS = st.sampled_from(['violation[{"msg": msg}]', "p[x]", "p = 1", "f(a) = b", "default q = true", "q", "p[k] = v"])
_RULES = st.tuples(_HEADS, st.lists(_EXPRS, min_size=0, max_size=4)).map(
    lambda r: f"{r[0]} {{\n  " + "\n  ".join(r[1]) + "\n}" if r[1] else r[0]
)
_MODULES = st.lists(_RULES, min_size=1, max_size=3).map(lambda rules: "package gen\n\n" + "\n\n".join(rules) + "\n")


@settings(max_examples=300, deadline=None)
@given(_MODULES)
def test_random_v0_programs_translate_or_fail_clearly(source: str) -> None:
    try:
        text = translate(source, "v0", "gen.rego")
    except TemplateError as exc:
        assert "gen.rego:" in str(exc)  # a syntax error names the module, line and column
        return
    except RegoSyntaxError:  # pragma: no cover - translate wraps these
        pytest.fail("RegoSyntaxError escaped translate()")
    assert text.startswith("package gen\n")
    assert translate(text, "v1", "gen.rego") == text


CRASHER = (
    "package m\n"
    'lists := {"containers", "initContainers"}\n'
    "violation contains c.name if {\n"
    "  list := lists[_]\n"
    "  c := input.spec[list][_]\n"
    "}\n"
)


def test_iteration_key_used_as_ref_key_is_rewritten_and_evaluates() -> None:
    data = {"spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "b"}]}}
    assert evaluate(CRASHER, data, rule="violation") == ["a", "b"]
    assert "some list in lists" in translate(CRASHER, "v1", "m.rego")


def test_rego_cpp_still_crashes_on_the_untranslated_form() -> None:
    """Pins the rego-cpp bug the rewrite avoids: if a regopy upgrade fixes it, this test says so."""
    import subprocess
    import sys

    script = (
        "from gatekeeper_py.drivers.rego.engine import CompiledPolicy\n"
        f"CompiledPolicy({{'m.rego': {CRASHER!r}}}, 'm/violation')\n"
        "print('built')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "built" not in run.stdout


def test_v0_names_that_are_v1_keywords_are_renamed() -> None:
    source = (
        "package m\n"
        "contains = {1, 2}\n"
        "every(x) = y { y := x + 1 }\n"
        'violation[{"msg": msg}] {\n'
        "  in := input.values[_]\n"
        "  contains[in]\n"
        '  msg := sprintf("%v %v %v", [in, every(in), contains("abc", "b")])\n'
        "}\n"
    )
    assert evaluate(source, {"values": [1, 3]}, rule="violation", version="v0") == [{"msg": "1 2 true"}]
    assert "__gk_kw_contains[__gk_kw_in]" in translate(source, "v0", "m.rego")


FUNCTION_COMPREHENSIONS = """package m
obj := {"a": 1, "b": 2}
f1(k) := {v | v := obj[k]}
f2(k) := {v | some v in obj; v == obj[k]}
f4(k) := {kk: v | v := obj[k]; kk := k}
f8(k) := r if { r := {v | v := obj[k]} }
f9(k) := [w | some w in [[x | x := obj[k]]]]
f10(k) := {v | some k in ["b"]; v := obj[k]}
r := [f1("a"), f2("a"), f4("a"), f8("a"), f9("a"), f10("a")]
"""


def test_function_parameters_inside_comprehensions_read_the_argument() -> None:
    # rego-cpp alone iterates over every key here; OPA reads the argument. A local `some k` still shadows it.
    assert evaluate(FUNCTION_COMPREHENSIONS, {}) == [[1], [1], {"a": 1}, [1], [[1]], [2]]
    raw = CompiledPolicy({"m.rego": FUNCTION_COMPREHENSIONS}, "m/r").evaluate("{}")
    assert raw[0] == [1, 2]  # the rego-cpp bug the rewrite avoids; if this starts failing, drop the rewrite


def test_parameter_binding_names_are_unique_per_comprehension() -> None:
    text = translate("package x\nf(k) := [w | some w in [[x | x := k]]]\n", "v1", "x.rego")
    assert "__gk_arg1_k := k" in text and "__gk_arg0_k := __gk_arg1_k" in text


def test_iterating_reference_used_as_a_key_is_bound_first() -> None:
    source = """package m
listed := {"a"}
names := {"a", "b"}
nested := {"x": {"a": 1}}
r := {"keys": [n | listed[names[n]]], "nested": {k | some k in ["x"]; nested[k][names[_]]}, "any": any_listed}
any_listed if { listed[names[_]] }
"""
    assert evaluate(source, {}) == {"keys": ["a"], "nested": ["x"], "any": True}
    assert "__gk_0 := names[n]; listed[__gk_0]" in translate(source, "v1", "m.rego")


def test_sprintf_q_verb_quotes_strings_as_go_does() -> None:
    source = """package m
r := [
  sprintf("name %q then %v", [input.name, "second"]),
  sprintf("%v%% of %q, width %5.2f", [50, "disk", 1.5]),
  sprintf("count %q", [3]),
]
"""
    assert evaluate(source, {"name": "demo"}) == ['name "demo" then second', '50% of "disk", width  1.50', "count 3"]


def test_sort_of_a_set_is_a_sorted_array() -> None:
    source = 'package m\nr := [sort({"b", "a"}), sort([3, 1]), sort({"b", "a"})[0], type_name(sort({1}))]\n'
    assert evaluate(source, {}) == [["a", "b"], [1, 3], "a", "array"]


@pytest.mark.parametrize(
    ("body", "reads"),
    [
        ("input.review.object.x == 1", False),
        ("r := input.review; r.object.x == 1", False),
        ("input.parameters.x == 1", True),
        ("p := input.parameters; p.x == 1", True),
        ('object.get(input, ["parameters", "x"], 0) == 1', True),
        ('input["parameters"].x == 1', True),
        ("some k; input[k]", True),
    ],
)
def test_reads_parameters_is_any_use_of_input_beyond_input_review(body: str, reads: bool) -> None:
    module = parse_module(f"package m\nviolation contains 1 if {{ {body} }}\n", version="v1", filename="m.rego")
    assert reads_parameters(module) is reads


def test_parameters_are_read_where_the_shared_input_holds_them() -> None:
    source = (
        "package m\n"
        'r := [input.parameters.n, count(input.parameters), input.review.name, "input.parameters"] if {\n'
        "  input.parameters.n > 0\n"
        "}\n"
    )
    module = parse_module(source, version="v1", filename="m.rego")
    shared = parameters_read_at(module, (String(value="shared"), String(value="K8sX")))
    policy = CompiledPolicy({"m.rego": emit_module(shared)}, "m/r")
    document = {"review": {"name": "p"}, "parameters": {"n": 9}, "shared": {"K8sX": {"n": 2, "m": 0}}}
    assert policy.evaluate(to_engine_json(document)) == [2, 2, "p", "input.parameters"]


ITERATIONS = (
    "package m\n"
    "names contains n if { n := input.pod.spec.containers[_].name }\n"
    "images contains i if { some c in input.pod.spec.containers; i := c.image }\n"
    "ports contains p if { some i; p := input.pod.spec.containers[i].ports[_].port; i > 0 }\n"
    "missing contains n if { n := input.pod.spec.missing[_] }\n"
    "chars contains n if { n := input.pod.kind[_] }\n"
    'none_bad if { not input.pod.spec.containers[_].name == "bad" }\n'
    "per_name(k) := {i | i := input.pod.spec.containers[_]; i.name == k}\n"
    'first := x if { x := input.pod.spec.nope[_] } else := y if { y := input.pod.spec.containers[_].name; y == "b" }\n'
    'switches := {"hostPID": "pid", "hostIPC": "ipc"}\n'
    "on contains f if { some f; switches[f]; input.pod.spec[f] == true }\n"
    'r := [names, images, ports, missing, chars, none_bad, per_name("b"), first, on]\n'
)


def test_collections_are_bound_before_they_are_iterated_and_mean_the_same() -> None:
    """rego-cpp iterates a path (`input.a.b[_]`) several times slower than a variable, and compares a key it
    looks up (`spec[f] == true`) several times slower than a variable, so the translation binds both first;
    what each rule means stays as written."""
    translated = translate(ITERATIONS, "v1", "m.rego")
    assert ":= input.pod.spec.containers\n" in translated
    assert "input.pod.spec.containers[" not in translated.split("none_bad", 1)[0]
    assert 'not input.pod.spec.containers[_].name == "bad"' in translated  # a negation is left as written
    assert "[f]\n    __gk_0 == true\n" in translated
    containers = [{"name": "a", "image": "x"}, {"name": "b", "ports": [{"port": 80}]}]
    pod = {"kind": "Pod", "spec": {"hostPID": True, "hostIPC": False, "containers": containers}}
    raw = CompiledPolicy({"m.rego": ITERATIONS}, "m/r")
    rewritten = CompiledPolicy({"m.rego": translated}, "m/r")
    for document in ({"pod": pod}, {"pod": {"kind": "Pod", "spec": {}}}, {}):
        expected = raw.evaluate(to_engine_json(document))
        assert rewritten.evaluate(to_engine_json(document)) == expected
    assert expected is None  # no pod: `r` is undefined both ways
    assert raw.evaluate(to_engine_json({"pod": pod})) == [
        ["a", "b"], ["x"], [80], [], [], True, [{"name": "b", "ports": [{"port": 80}]}], "b", ["hostPID"]
    ]  # fmt: skip


def test_nothing_is_bound_out_of_a_template_string_or_from_a_package_of_data() -> None:
    """In a template string an undefined value prints `<undefined>`; `data.lib[k]` evaluates only rule `k`, so
    `data.lib` is not bound whole (a broken rule elsewhere in the package must not matter)."""
    main = (
        "package m\n"
        'shown := x if { k := "owner"; x := $"owner={input.labels[k]}, next={input.n[k] + 1}" }\n'
        'picked := v if { k := "good"; v := data.lib[k] }\n'
        "r := [shown, picked]\n"
    )
    lib = "package lib\ngood := 1\nbad := 1 if { input.n }\nbad := 2 if { input.n }\n"
    modules = {"m.rego": translate(main, "v1", "m.rego"), "lib.rego": translate(lib, "v1", "lib.rego")}
    policy = CompiledPolicy(modules, "m/r")
    assert policy.evaluate(to_engine_json({"labels": {}, "n": {}})) == [
        "owner=<undefined>, next=<undefined>",
        1,
    ]
