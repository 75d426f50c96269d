"""Verdicts of our Rego front-end against OPA's own (its Go engine through opa_bindings), one class of defect of
rego-cpp per test: each template is run by our Client (as Rego v0, the way Gatekeeper's library writes them, and
as v1) and by OPA (the v1 form) on the same objects, and the violations must be the same."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import pod
from opa_oracle import opa_evaluate, opa_violations, our_violations

from gatekeeper_py.drivers.rego.driver import translate
from gatekeeper_py.drivers.rego.engine import CompiledPolicy, to_engine_json


def assert_same(v0: str | None, v1: str, objects: list[dict[str, Any]], parameters: dict[str, Any] | None = None):
    """Our verdicts (v0 and v1 forms) equal OPA's (v1 form) on every object, and OPA finds something somewhere
    (so the comparison is not vacuous)."""
    found_any = False
    for obj in objects:
        expected = opa_violations(v1, obj, parameters)
        found_any = found_any or bool(expected)
        assert our_violations(v1, obj, parameters, version="v1") == expected, obj["metadata"]["name"]
        if v0 is not None:
            assert our_violations(v0, obj, parameters, version="v0") == expected, obj["metadata"]["name"]
    assert found_any


def evaluate_both(expression: str, data: dict[str, Any]) -> tuple[Any, Any]:
    """`r := <expression>` (Rego v1) evaluated by us (translated, on rego-cpp) and by OPA."""
    module = f"package m\nr := {expression}\n"
    ours = CompiledPolicy({"m.rego": translate(module, "v1", "m.rego")}, "m/r").evaluate(to_engine_json(data))
    return ours, opa_evaluate({"m.rego": module}, "m.r", data)


def _containers(name: str, *images: str) -> dict[str, Any]:
    return pod(name, containers=[{"name": f"c{i}", "image": image} for i, image in enumerate(images)])


def test_unification_in_a_comprehension_loads_and_judges_as_opa() -> None:
    """Class 1: `x = expr` in a comprehension, `x` new there (rego-cpp: "Unable to unify due to cycle")."""
    v0 = """package allowedrepos
violation[{"msg": msg}] {
  container := input.review.object.spec.containers[_]
  satisfied := [good | repo = input.parameters.repos[_] ; good = startswith(container.image, repo)]
  not any(satisfied)
  msg := sprintf("container <%v> has an invalid image repo <%v>", [container.name, container.image])
}
violation[{"msg": sprintf("%v long names", [n])}] {
  limit := 6
  n := count([name | name = input.review.object.spec.containers[_].name; count(name) < limit; r = name])
  n > 0
}
r = "c1"
"""
    v1 = """package allowedrepos
violation contains {"msg": msg} if {
  container := input.review.object.spec.containers[_]
  satisfied := [good | repo = input.parameters.repos[_] ; good = startswith(container.image, repo)]
  not true in satisfied
  msg := sprintf("container <%v> has an invalid image repo <%v>", [container.name, container.image])
}
# `=` that compares stays a comparison: `limit` is bound outside, `r` is a rule
violation contains {"msg": sprintf("%v long names", [n])} if {
  limit := 6
  n := count([name | name = input.review.object.spec.containers[_].name; count(name) < limit; r = name])
  n > 0
}
r := "c1"
"""
    objects = [_containers("mixed", "ok.io/a", "evil.io/b"), _containers("clean", "ok.io/a"), _containers("none")]
    assert_same(v0, v1, objects, {"repos": ["ok.io/", "fine.io/"]})
    # a sibling: `y = "lit"` with `y` bound compares; rego-cpp ignored it inside a comprehension
    data = {"cs": [{"n": "web", "i": "a.io/x:1"}, {"n": "app", "i": "b.io/y:2"}]}
    for expression in [
        '[y | some c in input.cs; y := c.n; y = "web"]',
        '[y | some y in ["web", "app"]; "app" = y]',
        '[p | some c in input.cs; [p, _] = split(c.i, "/")]',
        "{k: v | some c in input.cs; k = c.n; v = c.i}",
    ]:
        ours, expected = evaluate_both(expression, data)
        assert ours == expected, expression


def test_negated_call_of_an_undefined_rule_is_undefined() -> None:
    """Class 2: `not f(r)`, `r` a rule that is undefined: OPA makes the expression undefined, not true."""
    v0 = """package undefinedrule
violation[{"msg": "team not allowed"}] {
  not allowed(team)
}
violation[{"msg": "tier too low"}] {
  not above(tier, 2)
}
allowed(t) { t == "core" }
above(a, b) { a > b }
team = t { t := input.review.object.metadata.labels.team }
tier = n { n := to_number(input.review.object.metadata.labels.tier) }
"""
    v1 = """package undefinedrule
violation contains {"msg": "team not allowed"} if {
  not allowed(team)
}
violation contains {"msg": "tier too low"} if {
  not above(tier, 2)
}
allowed(t) if t == "core"
above(a, b) if a > b
team := t if t := input.review.object.metadata.labels.team
tier := n if n := to_number(input.review.object.metadata.labels.tier)
"""
    objects = [
        pod("unlabelled"),
        pod("core", labels={"team": "core", "tier": "3"}),
        pod("web", labels={"team": "web", "tier": "1"}),
    ]
    assert_same(v0, v1, objects)


def test_go_named_groups_in_regular_expressions() -> None:
    """Class 3: `(?P<name>...)` (and `(?<name>...)`) are undefined in rego-cpp; in OPA, ordinary groups."""
    v0 = """package namedgroups
violation[{"msg": msg}] {
  c := input.review.object.spec.containers[_]
  not re_match("^(?P<registry>[a-z0-9.]+)/(?P<path>[a-z0-9/]+):(?<tag>[0-9.]+)$", c.image)
  msg := sprintf("%v: image not pinned", [c.name])
}
violation[{"msg": msg}] {
  c := input.review.object.spec.containers[_]
  parts := regex.find_all_string_submatch_n(input.parameters.pattern, c.image, -1)
  parts[0][1] == "evil.io"
  msg := sprintf("%v: from %v", [c.name, parts[0][1]])
}
"""
    v1 = v0.replace("violation[{", "violation contains {").replace('"msg": msg}] {', '"msg": msg} if {')
    v1 = v1.replace("not re_match(", "not regex.match(")
    objects = [_containers("images", "ok.io/a:1.2", "evil.io/b:3", "nover.io/c", "UPPER/x:1")]
    assert_same(v0, v1, objects, {"pattern": "^(?P<host>[a-z.]+)/"})
    for expression in ['regex.replace("a.b/c", input.p, "$2")', 'regex.split(`(?P<x>/)`, "a/b")']:
        ours, expected = evaluate_both(expression, {"p": "^(?P<host>[a-z.]+)/(?P<path>.*)$"})
        assert ours == expected


def test_replace_with_an_empty_pattern_returns_as_in_go() -> None:
    """Class 6: `replace(s, "", x)` and `strings.replace_n` with an empty key never return in rego-cpp; OPA
    follows Go's strings.Replace and strings.NewReplacer."""
    v0 = """package emptyreplace
violation[{"msg": msg}] {
  mem := input.review.object.spec.containers[_].resources.limits.memory
  suffix := input.parameters.suffixes[_]
  endswith(mem, suffix)
  raw := replace(mem, suffix, "")
  not re_match("^[0-9]+$", raw)
  msg := sprintf("memory limit <%v> without suffix <%v> is <%v>", [mem, suffix, raw])
}
"""
    v1 = v0.replace("violation[{", "violation contains {").replace('"msg": msg}] {', '"msg": msg} if {')
    v1 = v1.replace("not re_match(", "not regex.match(")
    limits = pod("limits", containers=[{"name": "a", "image": "i", "resources": {"limits": {"memory": "x"}}}])
    assert_same(v0, v1, [limits], {"suffixes": ["", "Mi", "x"]})
    data = {"s": "abc", "e": "", "x": "-", "p": {"": "-", "b": "Y", "bc": "Z", ".": "!"}, "q": {"": "+"}}
    for expression in [
        "replace(input.s, input.e, input.x)",
        "replace(input.e, input.e, input.x)",
        'strings.replace_n(input.p, "abc.bcd")',
        "strings.replace_n(input.q, input.s)",
        'strings.replace_n({"": "-"}, "ab")',
    ]:
        ours, expected = evaluate_both(expression, data)
        assert ours == expected, expression


@pytest.mark.parametrize("expression", ['regex.match(`^(?P<h>a)`, "a")', 'replace("ab", "", "-")'])
def test_routed_calls_show_in_the_translation(expression: str) -> None:
    text = translate(f"package m\nr := {expression}\n", "v1", "m.rego")
    assert "(?P<" not in text and ("__gk_replace" in text or "^(a)" in text)


def test_objects_and_sets_are_iterated_in_sorted_order() -> None:
    """Class 4: OPA iterates object keys and set elements sorted; rego-cpp in the order they were made. Input
    objects are handed over with sorted keys, `concat` of a set sorts it first, and array comprehensions iterate
    sets and objects made in Rego in sorted order."""
    v0 = """package order
violation[{"msg": msg}] {
  labels := input.review.object.metadata.labels
  keys := [k | labels[k]]
  names := {c.name | c := input.review.object.spec.containers[_]}
  msg := sprintf("labels %v, containers %v, first %v", [concat(",", keys), concat(",", names), keys[0]])
}
violation[{"msg": msg}] {
  some k
  v := input.parameters.limits[k]
  msg := sprintf("limit %v", [concat("=", [k, format_int(v, 10)])])
}
"""
    v1 = v0.replace("violation[{", "violation contains {").replace('"msg": msg}] {', '"msg": msg} if {')
    obj = pod("order", labels={"zeta": "1", "alpha": "2", "mid": "3"})
    obj["spec"]["containers"] = [{"name": n, "image": "i"} for n in ("web", "app", "sidecar")]
    assert_same(v0, v1, [obj], {"limits": {"mem": 2, "cpu": 1}})
    ours, expected = evaluate_both('[concat(":", [k, v]) | some k, v in input.o]', {"o": {"b": "1", "a": "2"}})
    assert ours == expected == ["a:2", "b:1"]
    # sets and objects made in Rego, iterated by an array comprehension
    data = {"cs": [{"n": "web", "i": "a.io/x:1"}, {"n": "app", "i": "b.io/y:2"}]}
    for expression in [
        '[k | o := {"b": 1, "a": 2}; o[k]]',
        "[x | some x in {c.n | some c in input.cs}]",
        "[v | o := {c.n: c.i | some c in input.cs}; some v in o]",
        "[[k, v] | o := {c.n: c.i | some c in input.cs}; some k, v in o]",
        "[x | s := {c.n | some c in input.cs}; s[x]]",
        "[n | n := {c.n: c | some c in input.cs}[_].i]",
        "[x | x := input.cs[_].n]",  # an array from input keeps its order
    ]:
        ours, expected = evaluate_both(expression, data)
        assert ours == expected, expression


def test_sprintf_prints_as_go_fmt_does_for_opa() -> None:
    """Class 5: verbs that do not fit, missing and extra arguments, arguments passed as a variable holding
    builtin-made strings, `%d` of a whole quotient, numbers in details. rego-cpp dropped the violation, or
    replaced every result of the template with "Not a term"."""
    v0 = """package formats
violation[{"msg": msg, "details": {"limit": limit, "ratio": 6144 / 1024}}] {
  c := input.review.object.spec.containers[_]
  limit := input.parameters.limits[c.name]
  msg := sprintf("%v: limit %d of %v", [c.name, limit])
}
violation[{"msg": msg}] {
  obj := input.review.object
  msg := sprintf("%v has %d containers%v", [obj.metadata.name, count(obj.spec.containers), "!"])
}
violation[{"msg": msg}] {
  names := [upper(c.name) | c := input.review.object.spec.containers[_]]
  msg := sprintf("names %v and %v, %d Mi", [names[0], concat("+", names), 6144 / 1024])
}
violation[{"msg": msg}] {
  args := [upper("id"), input.review.object.metadata.name]
  msg := sprintf("%s=%s %v", args)
}
"""
    v1 = v0.replace("violation[{", "violation contains {").replace("}] {", "} if {")
    objects = [pod("web", containers=[{"name": n, "image": "i"} for n in ("app", "log")])]
    assert_same(v0, v1, objects, {"limits": {"app": "1", "log": 2}})
    for expression in [
        'sprintf("%d|%s|%e|%t", ["1", 1.5, 1, true])',
        'sprintf("%v %v %v", ["a"])',
        'sprintf("no verbs", [1, "x"])',
        'sprintf("%d: %v", input.b)',
        'sprintf("%-6s|%6v|%.2s|%5.1f", [upper("ab"), "xy", "abcdef", 2.25])',
        '{"half": input.n / 2, "whole": 6144 / 1024}',
    ]:
        ours, expected = evaluate_both(expression, {"b": [7, "x", "extra"], "n": 80})
        assert ours == expected, expression


def test_translating_the_translation_changes_nothing() -> None:
    """Every helper these rewrites add is written in the form the rewrites produce, so translating twice is a
    no-op (what `rego translate` prints can be fed back)."""
    module = """package m
r := [
  sprintf("%d %s %-4s %v %q", [input.n, input.s, input.s, input.s]),
  sprintf("%v %v", input.args),
  sprintf(input.f, input.args),
  replace(input.s, input.e, "-"),
  strings.replace_n(input.p, input.s),
  regex.match(input.re, input.s),
  concat(",", input.set),
  [k | o := {"b": 1, "a": 2}; o[k]],
  [x | some x in {c | some c in input.cs}],
  [y | some c in input.cs; y = c; y = "web"],
]
"""
    once = translate(module, "v1", "m.rego")
    for helper in ("__gk_fmt_verb", "__gk_fmt_at", "__gk_fmt_all", "__gk_replace", "__gk_re(", "__gk_in_order"):
        assert helper in once
    assert translate(once, "v1", "m.rego") == once
