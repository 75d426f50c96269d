"""The CEL engine (`K8sNativeValidation`): Gatekeeper's variables, ValidatingAdmissionPolicy semantics for match
conditions, validations, messages and errors under both failure policies, the Kubernetes library functions, and
the engine choice."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import admission_review, cel_template, constraint, namespace, pod, record_calls, template

from gatekeeper_py import Client, TemplateError
from gatekeeper_py.drivers.cel import CelDriver
from gatekeeper_py.drivers.cel.rewrite import (
    CACHED_MATCHES,
    bind_variables,
    declared_variables_present,
    matches_through_cache,
    presence_as_cel_go,
    reads_variables_whole,
)
from gatekeeper_py.enforcement import GATOR
from gatekeeper_py.review import review_object


def messages(tmpl: dict[str, Any], obj: Any, parameters: dict | None = None, **review_options: Any) -> list[str]:
    client = Client(enforcement_point=GATOR)
    client.add_template(tmpl)
    kind = tmpl["spec"]["crd"]["spec"]["names"]["kind"]
    client.add_constraint(constraint(kind, "c", parameters=parameters))
    return sorted(r.msg for r in client.review(obj, **review_options))


LABELS_SCHEMA = {"type": "object", "properties": {"labels": {"type": "array", "items": {"type": "string"}}}}
REQUIRED_LABELS = cel_template(
    "K8sCelLabels",
    schema=LABELS_SCHEMA,
    variables=[
        {
            "name": "labels",
            "expression": "has(variables.anyObject.metadata.labels) ? variables.anyObject.metadata.labels : {}",
        },
        {"name": "missing", "expression": "variables.params.labels.filter(l, !(l in variables.labels))"},
    ],
    validations=[
        {
            "expression": "size(variables.missing) == 0",
            "messageExpression": '"missing labels: " + variables.missing.join(", ")',
        }
    ],
)  # fmt: skip


# --- variables ---


def test_params_and_any_object_and_template_variables() -> None:
    assert messages(REQUIRED_LABELS, pod("p", labels={"a": "1"}), {"labels": ["a", "b", "c"]}) == [
        "missing labels: b, c"
    ]
    assert messages(REQUIRED_LABELS, pod("p", labels={"a": "1"}), {"labels": ["a"]}) == []


def test_any_object_is_the_old_object_on_delete() -> None:
    deleted = admission_review("DELETE", None, pod("p"))
    assert messages(REQUIRED_LABELS, deleted, {"labels": ["x"]}) == ["missing labels: x"]


def test_object_old_object_request_and_namespace_object_are_visible() -> None:
    tmpl = cel_template(
        "K8sCelInputs",
        validations=[
            {"expression": "object == null", "message": "object is set"},
            {"expression": "oldObject == null", "message": "oldObject is set"},
            {"expression": 'request.operation != "UPDATE"', "message": "an update by user"},
            {"expression": "namespaceObject == null || !has(namespaceObject.metadata.labels)", "message": "ns"},
        ],
    )
    update = admission_review("UPDATE", pod("p", "shop"), pod("p", "shop"))
    client = Client()
    client.add_template(tmpl)
    client.add_constraint(constraint("K8sCelInputs", "c"))
    found = sorted(r.msg for r in client.review(update, namespace=namespace("shop", {"team": "a"})))
    assert found == ["an update by user", "ns", "object is set", "oldObject is set"]


def test_params_is_only_visible_to_variables() -> None:
    tmpl = cel_template("K8sCelRaw", validations=[{"expression": "params.spec.parameters == null"}])
    with pytest.raises(
        TemplateError, match=r"validations\[0\]\.expression: line 1, column 12: undeclared reference to 'params"
    ):
        Client().add_template(tmpl)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ({"variables": [{"name": "params", "expression": "1"}]}, '"params" is a reserved keyword'),
        ({"variables": [{"name": "anyObject", "expression": "1"}]}, '"anyObject" is a reserved keyword'),
        (
            {"variables": [{"name": "gatekeeper_internal_x", "expression": "1"}]},
            'cannot have "gatekeeper_internal_" as a prefix',
        ),
        (
            {"matchCondition": [{"name": "gatekeeper_internal_m", "expression": "true"}]},
            "invalid match condition: gatekeeper_internal_m is not a valid match condition; cannot have",
        ),
        ({"failurePolicy": "Sometimes"}, "invalid failure policy: unrecognized failure policy: Sometimes"),
        ({"validations": [{"message": "no expression"}]}, r"validations\[0\]\.expression is required"),
        (
            {"validations": [{"expression": "object.spec.containers.all(c, c.name =="}]},
            r"validations\[0\]\.expression: line 1, column 40: Syntax error: mismatched input '<EOF>'",
        ),
    ],
)
def test_bad_sources_name_the_field(source: dict[str, Any], reason: str) -> None:
    source.setdefault("validations", [{"expression": "true"}])
    with pytest.raises(TemplateError, match=reason) as caught:
        Client().add_template(cel_template("K8sCelBad", **source))
    assert caught.value.obj == "ConstraintTemplate/k8scelbad"
    assert str(caught.value).startswith("ConstraintTemplate/k8scelbad: K8sNativeValidation source: ")


# --- match conditions, validations, messages ---


def test_a_false_match_condition_means_no_result() -> None:
    tmpl = cel_template(
        "K8sCelMatch",
        matchCondition=[{"name": "only-web", "expression": 'object.metadata.name.startsWith("web")'}],
        validations=[{"expression": "false", "message": "judged"}],
    )
    assert messages(tmpl, pod("web-1")) == ["judged"]
    assert messages(tmpl, pod("db-1")) == []


@pytest.mark.parametrize(("policy", "expected"), [("Fail", 1), ("Ignore", 0)])
def test_match_condition_errors_follow_the_failure_policy(policy: str, expected: int) -> None:
    tmpl = cel_template(
        "K8sCelMatchErr",
        failurePolicy=policy,
        matchCondition=[{"name": "broken", "expression": "object.spec.missing == 1"}],
        validations=[{"expression": "false", "message": "judged"}],
    )
    found = messages(tmpl, pod("p"))
    assert len(found) == expected
    if expected:
        assert found == ["expression 'object.spec.missing == 1' resulted in error: no such key: missing"]


def test_several_match_condition_errors_are_aggregated_and_a_false_one_wins() -> None:
    broken = [{"name": f"b{i}", "expression": f"object.spec.missing{i} == 1"} for i in (1, 2)]
    tmpl = cel_template("K8sCelAgg", matchCondition=broken, validations=[{"expression": "false", "message": "m"}])
    [found] = messages(tmpl, pod("p"))
    assert found.startswith("[expression 'object.spec.missing1 == 1' resulted in error: no such key: missing1, ")
    with_false = cel_template(
        "K8sCelAgg2",
        matchCondition=[*broken, {"name": "no", "expression": "false"}],
        validations=[{"expression": "false"}],
    )
    assert messages(with_false, pod("p")) == []


def test_each_failed_validation_is_one_result_with_its_message() -> None:
    tmpl = cel_template(
        "K8sCelMessages",
        validations=[
            {"expression": "true", "message": "never"},
            {"expression": "false", "messageExpression": '"from expression " + object.metadata.name', "message": "m"},
            {"expression": "false", "message": "  trimmed message  "},
            {"expression": " 1 > 2 "},
            {"expression": "false", "messageExpression": '""', "message": "empty message expression falls back"},
            {"expression": "false", "messageExpression": '"two\\nlines"', "message": "multi-line falls back"},
            {"expression": "false", "messageExpression": "object.nope", "message": "erroring falls back"},
            {"expression": '"not a bool"', "message": "a non-true value fails"},
        ],
    )
    assert messages(tmpl, pod("p")) == [
        "a non-true value fails",
        "empty message expression falls back",
        "erroring falls back",
        "failed expression: 1 > 2",
        "from expression p",
        "multi-line falls back",
        "trimmed message",
    ]


X_ERROR = "expression 'object.spec.x > 1' resulted in error: no such key: x"


@pytest.mark.parametrize(("policy", "expected"), [("Fail", [X_ERROR, "second"]), ("Ignore", ["second"])])
def test_validation_errors_follow_the_failure_policy(policy: str, expected: list[str]) -> None:
    tmpl = cel_template(
        "K8sCelErr",
        failurePolicy=policy,
        validations=[
            {"expression": "object.spec.x > 1", "message": "first"},
            {"expression": "false", "message": "second"},
        ],
    )
    assert messages(tmpl, pod("p")) == expected


def test_a_failing_variable_fails_the_expressions_that_read_it() -> None:
    tmpl = cel_template(
        "K8sCelVarErr",
        variables=[{"name": "bad", "expression": "object.spec.nothing"}],
        validations=[
            {"expression": "variables.bad == 1", "message": "uses it"},
            {"expression": "false", "message": "does not"},
        ],
    )
    found = messages(tmpl, pod("p"))
    assert found[0] == "does not"
    assert (
        found[1].startswith("expression 'variables.bad == 1' resulted in error: ")
        and "no such key: nothing" in found[1]
    )


def test_cel_results_carry_no_details() -> None:
    client = Client()
    client.add_template(REQUIRED_LABELS)
    client.add_constraint(constraint("K8sCelLabels", "c", parameters={"labels": ["x"]}))
    [result] = client.review(review_object(pod("p"))).results
    assert result.details is None and "metadata" not in result.to_dict()


# --- engines ---

BOTH = cel_template(
    "K8sBoth",
    rego='package both\nviolation contains {"msg": "from rego"} if { true }',
    validations=[{"expression": "false", "message": "from cel"}],
)


@pytest.mark.parametrize(
    ("engine", "expected"), [("auto", ["from cel"]), ("cel", ["from cel"]), ("rego", ["from rego"])]
)
def test_auto_prefers_cel_as_gatekeeper_does(engine: str, expected: list[str]) -> None:
    client = Client(engine=engine)
    client.add_template(BOTH)
    client.add_constraint(constraint("K8sBoth", "c"))
    assert [r.msg for r in client.review(pod("p"))] == expected


# --- the Kubernetes library and has() ---


LIBRARY_EXPRESSIONS = [
    "[1, 2, 3].isSorted() && ![3, 1].isSorted()",
    "[1, 2, 3].sum() == 6 && [2, 9, 1].min() == 1 && [2.5, 1.0].max() == 2.5",
    '["a", "b", "a"].indexOf("a") == 0 && ["a", "b", "a"].lastIndexOf("a") == 2 && [1].indexOf(5) == -1',
    '"a1b22".find("[0-9]+") == "1" && "a1b22".findAll("[0-9]+") == ["1", "22"]',
    '"a1b22c333".findAll("[0-9]+", 2) == ["1", "22"] && "abc".find("[0-9]") == ""',
    'quantity("1Gi").isGreaterThan(quantity("512Mi")) && quantity("500m").isLessThan(quantity("1"))',
    'quantity("2k").asInteger() == 2000 && !quantity("1.5").isInteger()',
    'quantity("1e3").compareTo(quantity("1k")) == 0 && sign(quantity("100Mi").sub(1)) == 1',
    'isQuantity("10Mi") && !isQuantity("10 Mi")',
    'quantity("1Gi").add(quantity("1Gi")).asInteger() == 2147483648',
    '"ABC".lowerAscii() == "abc" && "abc".upperAscii() == "ABC" && "a,b".split(",") == ["a", "b"]',
    '["a", "b"].join("-") == "a-b" && " x ".trim() == "x" && "hello".substring(1, 3) == "el"',
    '"hello".indexOf("l") == 2 && "hello".lastIndexOf("l") == 3 && "aXa".replace("a", "b") == "bXb"',
    '"%s has %d".format(["pod", 2]) == "pod has 2"',
    "has(object.metadata.labels) && !has(object.metadata.annotations)",
    'url("https://example.com:8443/a%20b?x=1&x=2").getHostname() == "example.com"',
    'url("https://[::1]:80/").getPort() == "80" && url("https://e.com/a%20b").getEscapedPath() == "/a%20b"',
    'url("https://e.com/?x=1&x=2").getQuery()["x"] == ["1", "2"] && url("http://e.com").getScheme() == "http"',
    'isURL("/a/path") && !isURL("not a url") && !isURL("relative/path")',
    'ip("10.0.0.1").family() == 4 && ip("::1").isLoopback() && !isIP("1.2.3") && !isIP("::ffff:1.2.3.4")',
    'cidr("10.0.0.0/8").containsIP("10.1.2.3") && !cidr("10.0.0.0/8").containsIP(ip("11.0.0.1"))',
    'cidr("10.0.0.0/8").containsCIDR("10.1.0.0/16") && cidr("10.1.2.3/8").masked().prefixLength() == 8',
    'isCIDR("fd00::/8") && !isCIDR("10.0.0.0") && ip("8.8.8.8").isGlobalUnicast() && ip("0.0.0.0").isUnspecified()',
    'ip("169.254.1.1").isLinkLocalUnicast() && ip("224.0.0.1").isLinkLocalMulticast()',
    "!(has(object.spec.securityContext) && has(object.spec.securityContext.runAsUser))",
    # Regular expressions are RE2's, as in Kubernetes: `$` is the end of the text, `\d` is ASCII only, POSIX
    # classes and Unicode classes exist (Python's `re` reads each of these differently).
    '!"abc\\n".matches("^abc$") && "abc".matches("^[a-z][a-z0-9-]{1,30}$") && matches("x1", "[0-9]")',
    '!"\u0661\u0662".matches("^\\\\d+$") && "ab".matches("^[[:alpha:]]+$") && "h\u00e9".matches("^\\\\pL+$")',
    '"a1b2".find("[[:digit:]]") == "1" && "ab\\n".findAll("b$") == []',
]


@pytest.mark.parametrize("expression", LIBRARY_EXPRESSIONS)
def test_kubernetes_library_functions(expression: str) -> None:
    tmpl = cel_template("K8sCelLib", validations=[{"expression": expression, "message": "false"}])
    assert messages(tmpl, pod("p", labels={"a": "b"})) == []
    negated = cel_template("K8sCelLib", validations=[{"expression": f"!({expression})", "message": "false"}])
    assert messages(negated, pod("p", labels={"a": "b"})) == ["false"]


def test_matches_is_called_through_the_cache_outside_string_literals() -> None:
    spelt = matches_through_cache('s.matches("a") && matches(s, p) && "x.matches(y)" != t.matches_all')
    assert spelt == (f's.{CACHED_MATCHES}("a") && {CACHED_MATCHES}(s, p) && "x.matches(y)" != t.matches_all')


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
def test_a_bad_pattern_is_an_evaluation_error_every_time(policy: str) -> None:
    tmpl = cel_template(
        "K8sCelBadRegex",
        schema={"type": "object", "properties": {"pattern": {"type": "string"}}},
        failurePolicy=policy,
        validations=[{"expression": "object.metadata.name.matches(variables.params.pattern)", "message": "no"}],
    )
    expected = [
        "expression 'object.metadata.name.matches(variables.params.pattern)' resulted in error:"
        " error parsing regexp: missing closing ): `(`"
    ]
    for _ in range(2):  # a bad pattern is not kept, and fails again
        assert messages(tmpl, pod("p"), {"pattern": "("}) == (expected if policy == "Fail" else [])
    assert messages(tmpl, pod("p"), {"pattern": "^q"}) == ["no"]


def test_has_reads_like_cel_go() -> None:
    spelt = presence_as_cel_go('has(a.b.c) || "has(a.b.c)" == x.has(y.z.w) || has(o.f)')
    assert spelt == '(type(a.b) == map && has(a.b.c)) || "has(a.b.c)" == x.has(y.z.w) || (type(o) == map && has(o.f))'
    # On null (no parameters: variables.params is null) a presence test is false...
    tmpl = cel_template(
        "K8sCelHas",
        variables=[{"name": "exempt", "expression": "has(variables.params.exempt) ? variables.params.exempt : []"}],
        validations=[{"expression": "size(variables.exempt) == 0", "message": "has exemptions"}],
    )
    assert messages(tmpl, pod("p")) == []
    # ... and a missing link before the last one is an error, as in cel-go.
    missing = cel_template("K8sCelHasMissing", validations=[{"expression": "!has(object.spec.nothing.here)"}])
    assert messages(missing, pod("p")) == [
        "expression '!has(object.spec.nothing.here)' resulted in error: no such key: nothing"
    ]


def test_variables_are_lazy_a_failing_one_matters_only_where_read() -> None:
    tmpl = cel_template(
        "K8sCelLazy",
        variables=[
            {"name": "broken", "expression": "object.spec.nothing"},
            {"name": "safe", "expression": "has(object.spec.nothing) ? variables.broken : 0"},
        ],
        validations=[
            {"expression": "variables.safe == 0", "message": "never"},
            {"expression": "true || variables.broken == 1", "message": "short-circuited"},
            {"expression": "variables.broken == 1", "message": "reads it"},
        ],
    )
    [found] = messages(tmpl, pod("p"))
    assert found == (
        "expression 'variables.broken == 1' resulted in error: "
        "expression 'object.spec.nothing' resulted in error: no such key: nothing"
    )


def test_compile_errors_point_into_the_expression_as_written() -> None:
    # has() chains are spelt out before compiling; the reported column is still the one the author wrote.
    tmpl = cel_template("K8sCelPos", validations=[{"expression": "has(object.a.b) && object.spec.x =="}])
    with pytest.raises(TemplateError, match=r"validations\[0\]\.expression: line 1, column 36: Syntax error"):
        Client().add_template(tmpl)


def test_engine_flag_on_the_command_line(tmp_path: Any) -> None:
    import yaml
    from conftest import run_cli

    rego_only = template("K8sRegoOnly", 'package r\nviolation contains {"msg": "m"} if { true }')
    path = tmp_path / "in.yaml"
    pods_only = {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}
    path.write_text(yaml.safe_dump_all([BOTH, rego_only, constraint("K8sBoth", "c", match=pods_only), pod("p")]))
    auto = run_cli("test", "-f", str(path))
    assert (auto.returncode, auto.stdout.splitlines()[0]) == (1, '[deny] v1/Pod default/p: ["c"] Message: "from cel"')
    cel_only = run_cli("test", "-f", str(path), "--engine", "cel")
    assert cel_only.returncode == 2
    assert "ConstraintTemplate/k8sregoonly: no language driver is installed" in cel_only.stderr
    assert run_cli("test", "-f", str(path), "--engine", "rego").stdout.splitlines()[0].endswith('"from rego"')


def test_many_null_values_do_not_exhaust_the_interpreter() -> None:
    """cel-expr-python's plain_value() loses a reference to None per null read back; the driver never uses it.
    (With plain_value, some 100,000 nulls abort the interpreter: "none_dealloc".)"""
    import subprocess
    import sys

    script = (
        "from gatekeeper_py.drivers.cel.driver import _Compiled, _environment\n"
        "env = _environment()\n"
        "expr = '[null, {\\'a\\': null}, object]'\n"
        "c = _Compiled(expr, env.compile(expr))\n"
        "for _ in range(150000):\n"
        "    assert c.evaluate({'object': None}) == [None, {'a': None}, None]\n"
        "print('done')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert (run.returncode, run.stdout) == (0, "done\n"), run.stderr[-500:]


# --- evaluation in one call, variables bound inside ---
def test_a_constraint_without_errors_is_evaluated_in_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Conditions, validations and messageExpressions with their variables read bound, never one by one."""

    def one_by_one(*_: Any) -> list[str]:
        raise AssertionError("evaluated variable by variable")

    monkeypatch.setattr(CelDriver, "_messages", one_by_one)
    tmpl = cel_template(
        "K8sCelOneCall",
        schema=LABELS_SCHEMA,
        matchCondition=[{"name": "pods", "expression": "has(variables.missing) && object.kind == 'Pod'"}],
        variables=REQUIRED_LABELS["spec"]["targets"][0]["code"][0]["source"]["variables"]
        + [{"name": "words", "expression": "{'a': 'x', 'b': ['y']}"}],
        validations=REQUIRED_LABELS["spec"]["targets"][0]["code"][0]["source"]["validations"]
        + [{"expression": "variables.words.a == 'x' && size(variables.words.b) == 1", "message": "typed as dyn"}],
    )
    labelled = pod("p", labels={"team": "a"})
    assert messages(tmpl, labelled, parameters={"labels": ["team", "tier", "app"]}) == ["missing labels: tier, app"]
    assert messages(tmpl, labelled, parameters={"labels": ["team"]}) == []


def test_evaluation_errors_and_deep_templates_fall_back_to_variables_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = record_calls(
        monkeypatch, CelDriver, "_messages", lambda _, program, inputs: program.source.validations[0].expression
    )
    # An error in one call: evaluated again lazily, which words it as Kubernetes does.
    tmpl = cel_template(
        "K8sCelFallback",
        variables=[{"name": "bad", "expression": "object.spec.nothing"}],
        validations=[{"expression": "variables.bad == 1", "message": "uses it"}],
    )
    [found] = messages(tmpl, pod("p"))
    assert found.startswith("expression 'variables.bad == 1' resulted in error: ") and calls == ["variables.bad == 1"]
    # Forty chained variables are too deep for cel-cpp's parser once bound: the template runs lazily, rightly.
    chain = [{"name": "v0", "expression": "size(object.metadata.name)"}]
    chain += [{"name": f"v{i}", "expression": f"variables.v{i - 1} + 1"} for i in range(1, 40)]
    deep = cel_template("K8sCelDeep", variables=chain, validations=[{"expression": "variables.v39 < 40"}])
    assert messages(deep, pod("p")) == ["failed expression: variables.v39 < 40"]
    assert calls[1:] == ["variables.v39 < 40"]


def test_bind_variables_binds_only_what_is_read_in_order() -> None:
    raw = [("a", "object.x"), ("b", "variables.a + 1"), ("c", "'variables.b'"), ("d", "has(variables.a)")]
    variables = [(name, declared_variables_present(text, "abcd")) for name, text in raw]
    assert bind_variables("variables.b > 2 && variables.d", variables) == (
        "cel.bind(gatekeeper_internal_a, dyn(object.x), "
        "cel.bind(gatekeeper_internal_b, dyn(gatekeeper_internal_a + 1), "
        "cel.bind(gatekeeper_internal_d, dyn(true), "
        "gatekeeper_internal_b > 2 && gatekeeper_internal_d)))"
    )
    assert bind_variables("variables.c == 'variables.a' && variables.zz", variables) == (
        "cel.bind(gatekeeper_internal_c, dyn('variables.b'), gatekeeper_internal_c == 'variables.a' && variables.zz)"
    )
    assert declared_variables_present("has(variables.a) || has(variables.q) || 'has(variables.a)'", "ab") == (
        "true || has(variables.q) || 'has(variables.a)'"
    )
    assert [reads_variables_whole(e) for e in ("size(variables)", "variables.a", "'variables' + x", "variables ")] == [
        True,
        False,
        False,
        True,
    ]


def test_all_constraints_of_a_kind_are_evaluated_in_one_call_each_with_its_params(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def one_by_one(*_: Any) -> list[str]:
        raise AssertionError("evaluated constraint by constraint")

    monkeypatch.setattr(CelDriver, "_messages", one_by_one)
    tmpl = cel_template(
        "K8sCelKindCall",
        schema={"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        matchCondition=[{"name": "on", "expression": "!has(variables.params.off)"}],
        variables=REQUIRED_LABELS["spec"]["targets"][0]["code"][0]["source"]["variables"],
        validations=REQUIRED_LABELS["spec"]["targets"][0]["code"][0]["source"]["validations"]
        + [{"expression": "size(variables.params.labels) < 3", "message": "too many"}],
    )
    client = Client(enforcement_point=GATOR)
    client.add_template(tmpl)
    client.add_constraint(constraint("K8sCelKindCall", "a", parameters={"labels": ["x", "y", "z"]}))
    client.add_constraint(constraint("K8sCelKindCall", "b", parameters={"labels": ["team", "w"]}))
    client.add_constraint(constraint("K8sCelKindCall", "c", parameters={"labels": ["v"], "off": True}))
    found = sorted((r.constraint.name, r.msg) for r in client.review(pod("p", labels={"team": "a"})))
    assert found == [("a", "missing labels: x, y, z"), ("a", "too many"), ("b", "missing labels: w")]


def test_a_constraint_s_result_does_not_depend_on_its_siblings() -> None:
    """A sibling that fails to evaluate sends only itself down the variable-by-variable path (which loses CEL
    types such as uint as values pass through Python); a declared variable is present to has() on both paths."""
    tmpl = cel_template(
        "K8sCelSiblings",
        schema={"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        variables=[{"name": "x", "expression": "1u"}, {"name": "broken", "expression": "object.nope"}],
        validations=[
            {"expression": "type(variables.x) == uint", "message": "x is not uint"},
            {"expression": "has(variables.broken)", "message": "broken is not declared"},
            {"expression": "variables.params.n > 0", "message": "n is not positive"},
        ],
    )
    client = Client(enforcement_point=GATOR)
    client.add_template(tmpl)
    client.add_constraint(constraint("K8sCelSiblings", "fine", parameters={"n": 1}))
    assert client.review(pod("p")).results == []
    client.add_constraint(constraint("K8sCelSiblings", "failing", parameters={"m": 1}))
    found = [(r.constraint.name, r.msg) for r in client.review(pod("p"))]
    assert {name for name, _ in found} == {"failing"} and any("resulted in error" in msg for _, msg in found)


def test_constraints_with_the_same_parameters_are_evaluated_once_unless_the_template_reads_params_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gatekeeper_py.drivers.cel import driver as cel_driver

    counts = record_calls(monkeypatch, cel_driver, "_one_call_messages", lambda program, activation, count: count)
    by_name = cel_template(
        "K8sCelByName",
        schema=LABELS_SCHEMA,
        variables=[{"name": "name", "expression": "params.metadata.name"}],
        validations=[{"expression": "false", "messageExpression": "'from ' + variables.name"}],
    )
    client = Client(enforcement_point=GATOR)
    client.add_template(REQUIRED_LABELS)
    client.add_template(by_name)
    for name in ("a", "b", "c"):
        client.add_constraint(constraint("K8sCelLabels", name, parameters={"labels": ["x"]}))
        client.add_constraint(constraint("K8sCelByName", name, parameters={"labels": ["x"]}))
    client.add_constraint(constraint("K8sCelLabels", "d", parameters={"labels": ["y"]}))
    found = sorted((r.constraint.kind, r.constraint.name, r.msg) for r in client.review(pod("p", labels={"z": "1"})))
    assert found == [
        ("K8sCelByName", "a", "from a"),
        ("K8sCelByName", "b", "from b"),
        ("K8sCelByName", "c", "from c"),
        ("K8sCelLabels", "a", "missing labels: x"),
        ("K8sCelLabels", "b", "missing labels: x"),
        ("K8sCelLabels", "c", "missing labels: x"),
        ("K8sCelLabels", "d", "missing labels: y"),
    ]
    assert sorted(counts) == [2, 3]  # two distinct parameter sets of K8sCelLabels; K8sCelByName one by one


@pytest.mark.parametrize("failing", [False, True])
def test_a_template_reading_only_variables_params_sees_only_the_parameters(failing: bool) -> None:
    """Outside `spec.parameters` the constraint is invisible to such a template, so a value there that CEL cannot
    hold (an integer beyond 64 bits) changes nothing, on the one-call path and on the fallback alike."""
    check = ("object.spec.missing.x == 1 || " if failing else "") + "object.metadata.name == variables.params.n"
    tmpl = cel_template(
        "K8sCelParamsOnly",
        schema={"type": "object", "properties": {"n": {"type": "string"}}},
        validations=[{"expression": check, "messageExpression": '"want " + variables.params.n'}],
    )
    client = Client(enforcement_point=GATOR)
    client.add_template(tmpl)
    huge = constraint("K8sCelParamsOnly", "c", parameters={"n": "q"})
    huge["metadata"]["generation"] = 2**70
    client.add_constraint(huge)
    found = [r.msg for r in client.review(pod("p"))]
    assert found == (["expression '" + check + "' resulted in error: no such key: missing"] if failing else ["want q"])
