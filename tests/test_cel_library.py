"""Kubernetes' CEL libraries as our CEL environment has them (gatekeeper_py/drivers/cel/library.py and the modules
beside it): values, errors and compile-time type errors, library by library, on our own examples; then a few
through whole templates (compile errors at load time, the on-disk cache)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import constraint, pod
from test_cel import cel_template, messages

from gatekeeper_py import Client, TemplateError
from gatekeeper_py.drivers.cel import CelDriver
from gatekeeper_py.drivers.cel.driver import _error_text
from gatekeeper_py.drivers.cel.library import cel_go_wording, kubernetes_environment, prepare
from gatekeeper_py.drivers.cel.rewrite import matches_through_cache
from gatekeeper_py.enforcement import GATOR

ENV = kubernetes_environment({"object": __import__("cel_expr_python").cel.Type.DYN})


class EvalError(Exception):
    pass


def compile_expression(expression: str) -> Any:
    return ENV.compile(prepare(matches_through_cache(expression)))


def evaluate(expression: str, obj: Any = None) -> Any:
    """The value of `expression` with `object` bound to `obj`; EvalError(text) when it evaluates to an error."""
    result = compile_expression(expression).eval(data={"object": obj})
    if result.type().name() == "ERROR":
        raise EvalError(_error_text(result.value()))
    return result.value()


def assert_true(expression: str, obj: Any = None) -> None:
    assert evaluate(expression, obj) is True, expression


def eval_error(expression: str) -> str:
    with pytest.raises(EvalError) as caught:
        evaluate(expression)
    return str(caught.value)


def compile_error(expression: str) -> str:
    with pytest.raises(RuntimeError) as caught:
        compile_expression(expression)
    return cel_go_wording(str(caught.value).splitlines()[0])


# --- quantity ---


@pytest.mark.parametrize(
    "expression",
    [
        'quantity("1Gi") == quantity("1024Mi") && quantity("1.5k") == quantity("1500")',
        'quantity("1.5k").add(500) == quantity("2k") && quantity("2k").sub(quantity("500")) == quantity("1.5k")',
        'quantity("0.0000000001") == quantity("1n")',  # below a nano: rounded up, never to zero
        'quantity("100Ei") == quantity("9223372036854775807")',  # binary quantities are capped at 2^63-1
        '!quantity("20E").isInteger() && quantity("9E").isInteger()',
        'quantity("9E").asInteger() == 9000000000000000000 && quantity("2k").asInteger() == 2000',
        '!quantity("1500m").isInteger() && quantity("250m").asApproximateFloat() == 0.25',
        'sign(quantity("-1m")) == -1 && sign(quantity("0")) == 0 && sign(quantity("3Ki")) == 1',
        'quantity("1e3").compareTo(quantity("1k")) == 0 && quantity("1Mi").isGreaterThan(quantity("1M"))',
        'type(quantity("1")) == kubernetes.Quantity && isQuantity("+1.5e-3") && !isQuantity("1.5 Gi")',
    ],
)
def test_quantity(expression: str) -> None:
    assert_true(expression)


def test_quantity_errors_are_kubernetes_words() -> None:
    assert eval_error('quantity("5Mb")').startswith("quantities must match the regular expression '^([+-]?[0-9.]+)")
    assert eval_error('quantity("5Mm")') == "unable to parse quantity's suffix"
    assert eval_error('quantity("20E").asInteger()') == "cannot convert value to integer"
    # sign is a global function in Kubernetes: the member form does not compile there either
    assert "undeclared reference to 'sign'" in compile_error('quantity("1").sign() == 1')


def test_quantity_comes_from_objects() -> None:
    obj = {"spec": {"containers": [{"resources": {"limits": {"memory": "2Gi"}}}, {"resources": {}}]}}
    assert_true(
        "object.spec.containers.all(c, !has(c.resources.limits)"
        ' || quantity(c.resources.limits.memory).isLessThan(quantity("4Gi")))',
        obj,
    )


# --- IP and CIDR ---


@pytest.mark.parametrize(
    "expression",
    [
        'ip.isCanonical("2001:db8::1") && !ip.isCanonical("2001:DB8::1") && !ip.isCanonical("2001:db8:0::1")',
        'string(ip("2001:DB8:0:0::1")) == "2001:db8::1" && ip("::1") == ip("0:0::1")',
        'type(ip("10.0.0.1")) == net.IP && type(cidr("10.0.0.0/8")) == net.CIDR',
        'cidr("10.1.2.3/8").ip() == ip("10.1.2.3") && cidr("10.1.2.3/8").masked() == cidr("10.0.0.0/8")',
        'cidr("10.1.2.3/8") != cidr("10.0.0.0/8")',  # a CIDR keeps its address: equal only when masked
        'cidr("fd00::/8").ip().family() == 6 && cidr("fd00::/8").prefixLength() == 8',
        'ip("ff12::1").isLinkLocalMulticast() && !ip("ff05::1").isLinkLocalMulticast()',
        'ip("10.0.0.1").isGlobalUnicast() && !ip("255.255.255.255").isGlobalUnicast()',
        'ip("fe80::1").isLinkLocalUnicast() && !ip("fe80::1").isGlobalUnicast()',
        '!cidr("10.0.0.0/8").containsIP(ip("::1")) && !cidr("10.0.0.0/8").containsCIDR("10.0.0.0/7")',
        'cidr("::/0").containsCIDR(cidr("2001:db8::/32")) && !cidr("::/0").containsCIDR("10.0.0.0/8")',
        '!isIP("10.0.0.01") && !isIP("fe80::1%eth0") && !isIP("::ffff:10.0.0.1") && isIP("::ffff:a00:1:0")',
        '!isCIDR("10.0.0.0/33") && !isCIDR("10.0.0.0/08") && !isCIDR("10.0.0.0") && isCIDR("10.0.0.1/32")',
    ],
)
def test_ip_and_cidr(expression: str) -> None:
    assert_true(expression)


def test_ip_and_cidr_errors_are_go_words() -> None:
    assert eval_error('ip("10.0.0.256")') == (
        'IP Address "10.0.0.256" parse error during conversion from string: ParseAddr("10.0.0.256"): IPv4 field has'
        " value >255"
    )
    assert eval_error('ip("1::2::3")') == (
        'IP Address "1::2::3" parse error during conversion from string: ParseAddr("1::2::3"): multiple :: in'
        ' address (at ":3")'
    )
    assert eval_error('ip("fe80::1%eth0")') == 'IP address "fe80::1%eth0" with zone value is not allowed'
    assert eval_error('ip("::ffff:1.2.3.4")') == 'IPv4-mapped IPv6 address "::ffff:1.2.3.4" is not allowed'
    prefix = "network address parse error during conversion from string: "
    assert (
        eval_error('cidr("10.0.0.0/40")') == prefix * 2 + 'netip.ParsePrefix("10.0.0.0/40"): prefix length out of range'
    )
    assert eval_error('cidr("10.0.0.0")') == prefix * 2 + "netip.ParsePrefix(\"10.0.0.0\"): no '/'"
    # Kubernetes reports a bad address given to containsIP as a missing overload, a bad CIDR with its parse error
    assert eval_error('cidr("10.0.0.0/8").containsIP("x")') == "no such overload"
    assert eval_error('cidr("10.0.0.0/8").containsCIDR("x")').startswith(prefix * 2)


def test_ip_and_cidr_are_types_the_checker_knows() -> None:
    assert "found no matching overload for 'isIP' applied to '(net.CIDR)'" in compile_error('isIP(cidr("1.0.0.0/8"))')
    assert "'family' applied to 'string.()'" in compile_error('"10.0.0.1".family() == 4')
    assert "'containsIP' applied to 'net.CIDR.(int)'" in compile_error('cidr("10.0.0.0/8").containsIP(1)')


# --- URLs ---


@pytest.mark.parametrize(
    "expression",
    [
        'url("https://e.com/a b/c").getEscapedPath() == "/a%20b/c"',
        'url("https://e.com/a%2Fb").getEscapedPath() == "/a%2Fb"',
        'url("https://e.com/p?q=a b&q=c+d&x").getQuery() == {"q": ["a b", "c d"], "x": [""]}',
        'url("https://e.com/p?a=1#frag?b=2").getQuery() == {"a": ["1"]}',  # the fragment is cut off
        'url("https://e.com/p#f").getEscapedPath() == "/p"',
        'url("HTTPS://u:p@[fe80::1]:8443/").getScheme() == "https"',
        'url("https://u:p@[fe80::1]:8443/").getHostname() == "fe80::1"',
        'url("https://[fe80::1]:8443/").getHost() == "[fe80::1]:8443" && url("https://e.com:/").getPort() == ""',
        'isURL("mailto:someone@e.com") && isURL("*") && isURL("/only/a/path") && !isURL("e.com/path")',
        '!isURL("https://e.com:8x/") && !isURL("https://e .com/") && !isURL("https://e.com/%zz") && !isURL("")',
        'type(url("/p")) == kubernetes.URL',
    ],
)
def test_urls(expression: str) -> None:
    assert_true(expression)


def test_url_errors_are_go_words() -> None:
    assert eval_error('url("e.com/path")') == (
        'URL parse error during conversion from string: parse "e.com/path": invalid URI for request'
    )
    assert eval_error('url("https://a:b:c/")') == (
        'URL parse error during conversion from string: parse "https://a:b:c/": invalid port ":c" after host'
    )
    assert (
        eval_error('url(":x")') == 'URL parse error during conversion from string: parse ":x": missing protocol scheme'
    )


# --- semver ---


@pytest.mark.parametrize(
    "expression",
    [
        'semver("1.0.0-alpha").isLessThan(semver("1.0.0-alpha.1"))',
        'semver("1.0.0-alpha.1").isLessThan(semver("1.0.0-beta"))',
        'semver("1.0.0-beta.2").isLessThan(semver("1.0.0-beta.11"))',
        'semver("1.0.0-rc.1").isLessThan(semver("1.0.0"))',
        'semver("1.2.3+build.7") == semver("1.2.3") && semver("1.2.3+a").compareTo(semver("1.2.3+b")) == 0',
        'semver("v01.02", true) == semver("1.2.0") && semver("3", true).major() == 3 && semver("2.7.1").patch() == 1',
        '!isSemver("1.2") && isSemver("1.2", true) && !isSemver("v1.2.3") && !isSemver("1.2.3-", true)',
        'semver("10.0.0").isGreaterThan(semver("9.99.99")) && type(semver("1.0.0")) == kubernetes.Semver',
    ],
)
def test_semver(expression: str) -> None:
    assert_true(expression)


def test_semver_errors_are_blang_words() -> None:
    assert eval_error('semver("1.2")') == "No Major.Minor.Patch elements found"
    assert eval_error('semver("1.02.3")') == 'Minor number must not contain leading zeroes "02"'
    assert eval_error('semver("1.2.3-a..b")') == "Prerelease is empty"
    assert eval_error('semver("1.2-rc", true)') == "short version cannot contain PreRelease/Build meta data"
    # quantities and versions share compareTo, but never with each other
    assert "'compareTo' applied to 'kubernetes.Semver.(kubernetes.Quantity)'" in compile_error(
        'semver("1.0.0").compareTo(quantity("1"))'
    )


# --- format ---


@pytest.mark.parametrize(
    "expression",
    [
        'format.dns1123Label().validate("web-1") == optional.none()',
        'format.dns1123Label().validate("web.1").value() == ["must not contain dots"]',
        f'format.dns1123Label().validate("{"x" * 64}").value() == ["must be no more than 63 characters"]',
        'format.dns1123LabelPrefix().validate("web-") == optional.none()',
        'format.dns1123Label().validate("web-").hasValue()',
        'format.named("qualifiedName").value().validate("example.com/Name_1") == optional.none()',
        'format.qualifiedName().validate("/x").value() == ["prefix part must be non-empty"]',
        '!format.named("nope").hasValue() && format.named("uuid").hasValue() && format.uuid() != format.date()',
        'format.labelValue().validate("") == optional.none()',
        'format.uuid().validate("0FA5D4C1E3B2A1F0C9D8E7F6A5B4C3D2") == optional.none()',
        'format.byte().validate("aGk") == optional.of(["invalid base64"])',
        'format.date().validate("2024-02-30").hasValue() && format.uri().validate("/a") == optional.none()',
        'format.datetime().validate("2024-02-29T23:59:59.5+01:00") == optional.none()',
        'format.uri().validate("x y").value() == ["parse \\"x y\\": invalid URI for request"]',
        '(format.dns1035Label().validate(object.metadata.name).orValue([]) + ["end"]).size() == 2',
    ],
)
def test_format(expression: str) -> None:
    assert_true(expression, {"metadata": {"name": "1abc"}})


def test_format_rewrite_leaves_string_literals_and_reads_nested_receivers() -> None:
    text = '"x.validate(y)" + "format.named(z)"'
    assert prepare(text) == text
    assert_true('[format.dns1123Label(), format.date()].map(f, f.validate("2024-01-01").hasValue()) == [false, false]')
    assert_true('(true ? format.date() : format.uuid()).validate("2024-01-01") == optional.none()')


# --- lists and the list and set extensions ---


@pytest.mark.parametrize(
    "expression",
    [
        '[duration("1m"), duration("30s")].sum() == duration("90s")',
        '[duration("1m"), duration("30s")].min() == duration("30s")',
        '[timestamp("2024-01-02T00:00:00Z"), timestamp("2024-01-01T00:00:00Z")].max().getDate() == 2',
        "[1, 2.5, 2].max() == 2.5 && [3, 1.5].min() == 1.5 && [1, 1.0, 2u].isSorted()",  # numbers compare across types
        "[1, true].indexOf(true) == 1 && [1.0].indexOf(1) == 0 && [[1], [2]].lastIndexOf([2]) == 1",
        '["b", "a"].sort() == ["a", "b"] && [3, 1, 2].reverse() == [2, 1, 3] && lists.range(3) == [0, 1, 2]',
        "[1, [2, [3]]].flatten() == [1, 2, [3]] && [1, [2, [3]]].flatten(2) == [1, 2, 3]",
        "[1, 2, 3].slice(1, 3) == [2, 3] && [1, 2, 3].slice(3, 3) == []",
        "[1, 1.0, 2, true, true].distinct() == [1, 2, true]",
        "[3, 1, 2].first() == optional.of(3) && [3, 1, 2].last().value() == 2 && [].first() == optional.none()",
        '[{"n": "b", "p": 2}, {"n": "a", "p": 1}].sortBy(x, x.p).map(x, x.n) == ["a", "b"]',
        '["bb", "a", "ccc"].sortBy(s, -size(s)) == ["ccc", "bb", "a"] && "x.first()" != "y.sortBy(z, z)"',
        "sets.contains([1, 2, 3], [3, 1.0]) && sets.equivalent([1, 1, 2], [2, 1]) && !sets.intersects([1], [true])",
    ],
)
def test_lists(expression: str) -> None:
    assert_true(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "[1, 2, 3].all(i, v, i < v) && !{'a': 1}.all(k, v, v > 1) && [].all(i, v, false)",
        "{'a': 1, 'b': 2}.exists(k, v, k == 'b' && v == 2) && [5, 6].existsOne(i, v, v > 5)",
        "['a', 'b'].transformList(i, v, v + string(i)) == ['a0', 'b1']",
        "[1, 2, 3].transformList(i, v, v > 1, v * 10) == [20, 30]",
        "{'a': 1, 'b': 2}.transformMap(k, v, v > 1, v * 2) == {'b': 4} && ['x'].transformMap(i, v, v) == {0: 'x'}",
        "['x', 'y'].transformMapEntry(i, v, {v: i}) == {'x': 0, 'y': 1}",
        "[1, 2].all(x, x > 0) && [1, 2].exists(x, x == 2)",  # the one-variable macros stay as they are
        "[0, 1].exists(i, v, v == 1 && 1 / v == 1) && !'x.all(a, b, c)'.contains('cel.bind')",
    ],
)
def test_two_variable_comprehensions(expression: str) -> None:
    assert_true(expression)


def test_two_variable_comprehensions_on_objects_and_their_errors() -> None:
    obj = {"metadata": {"labels": {"app": "web", "tier": "db"}}}
    assert_true('object.metadata.labels.all(k, v, k.size() > 2 && v.matches("^[a-z]+$"))', obj)
    assert evaluate("object.metadata.labels.transformMap(k, v, v.upperAscii())", obj) is not None
    assert eval_error("['x', 'x'].transformMapEntry(i, v, {v: i})") == "insert failed: key x already exists"
    assert "by zero" in eval_error("[0].all(i, v, 1 / v == 1)")  # the error of the step, as in the one-variable macro


def test_list_errors() -> None:
    assert "found no matching overload for 'sum' applied to 'list(string).()'" in compile_error('["a"].sum()')
    assert "'min' applied to 'list(list(int)).()'" in compile_error("[[1], [2]].min()")
    assert "'isSorted' applied to 'list(map(string, int)).()'" in compile_error('[{"a": 1}].isSorted()')
    assert eval_error("dyn([]).min()") == "min called on empty list"
    assert eval_error("dyn([1, 2.5]).sum()") == "no such overload"  # CEL adds only values of one type
    assert eval_error("[1, 2].slice(1, 3)") == "cannot slice(1, 3), list is length 2"
    assert eval_error("[1, 2].slice(2, 1)") == "cannot slice(2, 1), start index must be less than or equal to end index"
    assert eval_error("[[1]].flatten(-1)") == "level must be non-negative"


def test_lists_from_objects_dispatch_at_runtime() -> None:
    obj = {"spec": {"ports": [443, 80, 8080], "names": ["b", "a"], "mixed": [1, "a"]}}
    assert_true(
        'object.spec.ports.max() == 8080 && object.spec.ports.sum() == 8603 && object.spec.names.min() == "a"', obj
    )
    with pytest.raises(EvalError, match="no such overload"):
        evaluate("object.spec.mixed.max()", obj)


# --- regular expressions ---


def test_regex_errors_are_go_words() -> None:
    assert eval_error('"x".matches(dyn("a(b"))') == "error parsing regexp: missing closing ): `a(b`"
    assert eval_error('"x".find(dyn("a**"))') == "error parsing regexp: invalid nested repetition operator: `**`"
    # a constant pattern is checked when the expression compiles, as Kubernetes checks it
    assert compile_error('"x".find("[a")') == "ERROR: <input>:1:10: error parsing regexp: missing closing ]: `[a`"
    assert compile_error("'x'.matches(r'(')").endswith("invalid matches argument")
    assert compile_error('matches("x", "a{2,1}")').endswith("invalid matches argument")
    assert evaluate('"a(b".matches("[(]") && "\'find(\\")\\")\'" != ""') is True  # patterns inside literals are text


# --- whole templates ---


def test_a_type_error_fails_the_template_when_it_loads() -> None:
    tmpl = cel_template("K8sCelTyped", validations=[{"expression": 'isIP(cidr("10.0.0.0/8"))', "message": "x"}])
    with pytest.raises(TemplateError, match=r"found no matching overload for 'isIP' applied to '\(net.CIDR\)'"):
        Client().add_template(tmpl)
    tmpl = cel_template("K8sCelRegex", validations=[{"expression": 'object.metadata.name.find(")") == ""'}])
    with pytest.raises(TemplateError, match=r"column 27: error parsing regexp: unexpected \): `\)`"):
        Client().add_template(tmpl)


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        (
            'format.dns1123Label().validate(object.metadata.name).hasValue() && isIP(cidr("1.0.0.0/8"))',
            "column 72: found no matching overload for 'isIP' applied to '(net.CIDR)'",
        ),
        ('[3, 1].first().value() == 3 && object.x.matches("(")', "column 49: invalid matches argument"),
        ('object.a.sortBy(x, x.n) == 1 && ["a"].sum() == "a"', "column 25: found no matching overload for '_==_'"),
    ],
)
def test_compile_errors_name_the_place_as_written_when_the_library_rewrites(expression: str, error: str) -> None:
    with pytest.raises(TemplateError) as caught:
        Client().add_template(cel_template("K8sCelPlace", validations=[{"expression": expression}]))
    assert f"validations[0].expression: line 1, {error}" in str(caught.value)


@pytest.mark.parametrize("expression", ["[1].first(", "format.named(x", "[1].all(i, v, v > 0", "[1].sortBy(x, x"])
def test_an_unfinished_call_the_library_rewrites_is_the_compiler_s_syntax_error(expression: str) -> None:
    with pytest.raises(TemplateError, match="Syntax error"):
        Client().add_template(cel_template("K8sCelSyntax", validations=[{"expression": expression}]))


RESOURCES = cel_template(
    "K8sCelMemory",
    variables=[{"name": "limits", "expression": "object.spec.containers.map(c, c.resources.limits.memory)"}],
    validations=[
        {
            "expression": 'variables.limits.all(m, quantity(m).compareTo(quantity("1Gi")) <= 0)',
            "messageExpression": '"memory above 1Gi: "'
            ' + variables.limits.filter(m, quantity(m).isGreaterThan(quantity("1Gi"))).join(", ")',
        },
        {
            "expression": "format.dns1123Label().validate(object.metadata.name) == optional.none()",
            "messageExpression": 'format.dns1123Label().validate(object.metadata.name).value().join("; ")',
        },
    ],
)


def _pod(name: str, *memory: str) -> dict[str, Any]:
    containers = [{"name": f"c{i}", "image": "x", "resources": {"limits": {"memory": m}}} for i, m in enumerate(memory)]
    return pod(name, containers=containers)


def test_library_values_in_a_template() -> None:
    assert messages(RESOURCES, _pod("ok", "1024Mi", "1G")) == []
    assert messages(RESOURCES, _pod("Big", "1025Mi", "512Mi")) == [
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and"
        " end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is"
        " '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        "memory above 1Gi: 1025Mi",
    ]


def test_library_values_survive_the_compile_cache(tmp_path: Path) -> None:
    for _ in range(2):  # compiled, then read back from the cache
        client = Client(enforcement_point=GATOR, drivers=[CelDriver(cache_dir=tmp_path)])
        client.add_template(RESOURCES)
        client.add_constraint(constraint("K8sCelMemory", "c"))
        assert [r.msg for r in client.review(_pod("p", "2Gi"))] == ["memory above 1Gi: 2Gi"]
    assert list((tmp_path / "cel").iterdir())


def test_library_values_in_variables_when_a_constraint_is_evaluated_variable_by_variable() -> None:
    # The failing first validation sends the constraint down the lazy path, where each variable's value passes
    # through Python to the next expression: the libraries' values do; an optional is reported, not raised.
    tmpl = cel_template(
        "K8sCelLazy",
        variables=[
            {"name": "q", "expression": 'quantity("2Gi")'},
            {"name": "addr", "expression": 'cidr("10.0.0.0/8").ip()'},
            {"name": "check", "expression": "format.dns1123Label().validate(object.metadata.name)"},
        ],
        validations=[
            {"expression": "object.spec.missing == 1", "message": "unused"},
            {"expression": 'variables.q.isLessThan(quantity("1Gi"))', "message": "q is not below 1Gi"},
            {"expression": "variables.addr.family() == 6", "message": "not IPv6"},
            {"expression": "!variables.check.hasValue()", "message": "unused"},
        ],
    )
    assert messages(tmpl, pod("Pod1")) == [
        "expression '!variables.check.hasValue()' resulted in error: expression"
        " 'format.dns1123Label().validate(object.metadata.name)' resulted in error: an optional value cannot pass"
        " from one expression to the next here",
        "expression 'object.spec.missing == 1' resulted in error: no such key: missing",
        "not IPv6",
        "q is not below 1Gi",
    ]
