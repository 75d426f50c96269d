"""A small grammar of Gatekeeper-style Rego v1 templates and of the Pods they judge, as hypothesis strategies.

Shared by tests/test_differential.py (a bounded run in CI) and bench/differential.py (thousands of examples):
each example is a template whose `violation` rules iterate containers or labels, test them with builtins
(startswith, endswith, contains, count, comparisons, negation, `in`, `every`, set and object iteration, a
helper function) against literals and the constraint's parameters, and build messages with sprintf and concat;
a Pod; and the parameters. `opa_messages` is what OPA itself (through opa_bindings) answers for them.

opa_bindings evaluates with strict builtin errors (a builtin given a wrong argument raises), where Gatekeeper's
OPA makes the expression undefined; the grammar therefore only passes builtins arguments of the right type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

NAMES = ("app", "web", "sidecar", "db", "proxy")
REGISTRIES = ("registry.example.com/", "ghcr.io/acme/", "docker.io/library/", "quay.io/ops/")
TAGS = (":1.2", ":latest", "@sha256:ab12", "")
LABEL_KEYS = ("app", "team", "tier", "owner", "env")
LABEL_VALUES = ("web", "payments", "prod", "dev", "a-b", "X1", "", 'say "hi"', "back\\slash", "ünïcödé", "tab\there")
AVOIDED = (
    "count(s) of a string holding an escaped character (a quote, a backslash, a tab) counts the escape as two "
    'characters (rego-cpp keeps the JSON-escaped form): count("back\\\\slash") is 11, OPA says 10',
    'upper(s) / lower(s) leave non-ASCII letters as they are: upper("\u00fcn") is "\u00fcN", OPA says "\u00dcN"',
)
"""Differences from OPA the grammar keeps away from (they fail today): only plain ASCII label keys are counted
and upper-cased, never label values."""
CONTAINERS = "input.review.object.spec.containers"
LABELS = "input.review.object.metadata.labels"


@dataclass(frozen=True)
class Example:
    """One generated case: a template's Rego v1 module, the constraint's parameters and the object."""

    rego: str
    parameters: dict[str, Any]
    obj: dict[str, Any]

    def describe(self) -> str:
        return (
            f"--- rego\n{self.rego}\n--- parameters\n{json.dumps(self.parameters)}\n--- object\n{json.dumps(self.obj)}"
        )


def _lit(value: str) -> str:
    return json.dumps(value)


# -- objects and parameters ----------------------------------------------------------------------------------------

_ports = st.lists(st.builds(lambda p: {"containerPort": p}, st.integers(1, 9000)), max_size=3)


@st.composite
def containers(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(NAMES))
    container: dict[str, Any] = {
        "name": name,
        "image": draw(st.sampled_from(REGISTRIES)) + name + draw(st.sampled_from(TAGS)),
    }
    if draw(st.booleans()):
        container["ports"] = draw(_ports)
    return container


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    labels = draw(st.dictionaries(st.sampled_from(LABEL_KEYS), st.sampled_from(LABEL_VALUES), max_size=4))
    metadata: dict[str, Any] = {"name": draw(st.sampled_from(("p1", "web-7f9c", "db-0"))), "namespace": "default"}
    if labels or draw(st.booleans()):
        metadata["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": draw(st.lists(containers(), min_size=1, max_size=3))},
    }


parameter_sets = st.fixed_dictionaries({
    "prefixes": st.lists(st.sampled_from(REGISTRIES), max_size=3, unique=True),
    "names": st.lists(st.sampled_from(NAMES), max_size=3, unique=True),
    "labels": st.lists(st.sampled_from(LABEL_KEYS), max_size=3, unique=True),
    "max": st.integers(0, 3),
})  # fmt: skip


PARAMETERS_SCHEMA = {
    "type": "object",
    "properties": {
        "prefixes": {"type": "array", "items": {"type": "string"}},
        "names": {"type": "array", "items": {"type": "string"}},
        "labels": {"type": "array", "items": {"type": "string"}},
        "max": {"type": "integer"},
    },
}


# -- conditions and messages ---------------------------------------------------------------------------------------


def container_conditions() -> st.SearchStrategy[str]:
    """A condition on the container `c` (`$P` stands for a variable of its own)."""
    registry = st.sampled_from(REGISTRIES).map(_lit)
    name = st.sampled_from(NAMES).map(_lit)
    small = st.integers(0, 3)
    return st.one_of(
        registry.map(lambda r: f"startswith(c.image, {r})"),
        registry.map(lambda r: f"not startswith(c.image, {r})"),
        st.sampled_from(TAGS[:3]).map(lambda t: f"endswith(c.image, {_lit(t)})"),
        st.sampled_from(("sha256", "acme", "web")).map(lambda s: f"contains(c.image, {_lit(s)})"),
        name.map(lambda n: f"c.name == {n}"),
        name.map(lambda n: f"c.name != {n}"),
        small.map(lambda n: f"count(c.ports) > {n}"),
        st.just('count(object.get(c, "ports", [])) > limit'),
        st.sampled_from(("latest", "none", "1.2")).map(lambda t: f"image_tag(c.image) == {_lit(t)}"),
        st.sampled_from(("latest", "none")).map(lambda t: f"not image_tag(c.image) == {_lit(t)}"),
        st.sampled_from(REGISTRIES).map(lambda r: f"not trim_prefix(c.image, {_lit(r)}) == c.image"),
        small.map(lambda n: f'count(object.get(c, "ports", [])) <= {n}'),
        st.just("c.name in input.parameters.names"),
        st.just("not c.name in input.parameters.names"),
        st.just("not allowed_image(c.image)"),
        st.sampled_from(("ports", "image")).map(lambda f: f"some $P, _ in c\n\t$P != {_lit(f)}"),
        st.just("allowed_image(c.image)"),
        st.integers(0, 9000).map(lambda n: f"some $P in c.ports\n\t$P.containerPort > {n}"),
        st.integers(0, 9000).map(lambda n: f"every $P in c.ports {{ $P.containerPort < {n} }}"),
        st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True).map(
            lambda ns: f"not c.name in {{{', '.join(map(_lit, ns))}}}"
        ),
    )


def container_messages() -> st.SearchStrategy[str]:
    return st.sampled_from((
        'sprintf("container <%v> uses image %v", [c.name, c.image])',
        'sprintf("%s: %s", [input.review.object.metadata.name, c.name])',
        'concat(" ", ["container", c.name, "is not allowed"])',
        'concat("/", [input.review.object.metadata.namespace, c.name])',
        'sprintf("%v has %d ports", [c.name, count(object.get(c, "ports", []))])',
        'sprintf("image %v of %v, limit %v", [c.image, c.name, input.parameters.max])',
        'sprintf("upper: %v", [upper(c.name)])',
        'sprintf("name %v", [concat("-", [c.name, "x"])])',
        'sprintf("%v: allowed %v", [c.name, input.parameters.names])',
        'sprintf("%v: ports %v", [c.name, object.get(c, "ports", [])])',
        'sprintf("%v: fields %v", [c.name, {key | some key, _ in c}])',
        'sprintf("%v: half %v", [c.name, count(c.image) / 2])',
        'sprintf("%v: labels %v", [c.name, object.get(input.review.object.metadata, "labels", {})])',
        'sprintf("%v runs tag %v from %v", [c.name, image_tag(c.image), split(c.image, "/")[0]])',
        'sprintf("%v: %v", [substring(c.image, 0, 6), replace(c.image, ":", "@")])',
        'sprintf("%v at %d, trimmed %v", [c.name, indexof(c.image, "/"), trim_suffix(c.image, ":latest")])',
        'sprintf("%v ports by number: %v", '
        '[c.name, {format_int(p.containerPort, 10): c.name | some p in object.get(c, "ports", [])}])',
    ))  # fmt: skip


def label_conditions() -> st.SearchStrategy[str]:
    """A condition on the label `k` = `v`."""
    return st.one_of(
        st.just("k in input.parameters.labels"),
        st.just("not k in input.parameters.labels"),
        st.sampled_from(LABEL_VALUES[:4]).map(lambda s: f"v != {_lit(s)}"),
        st.sampled_from(("p", "d", "a")).map(lambda s: f"startswith(v, {_lit(s)})"),
        st.integers(0, 3).map(lambda n: f"count(v) > {n}"),
        st.lists(st.sampled_from(LABEL_KEYS), min_size=1, max_size=3, unique=True).map(
            lambda ks: f"k in {{{', '.join(map(_lit, ks))}}}"
        ),
    )


def label_messages() -> st.SearchStrategy[str]:
    return st.sampled_from((
        'sprintf("label %v=%v", [k, v])',
        'sprintf("label <%s> is not allowed", [k])',
        'concat("", ["label ", k, " has value ", v])',
        # count(v) and upper(v) would differ on some values: see AVOIDED
        'sprintf("label %v (%d characters) is %v", [upper(k), count(k), v])',
        'sprintf("%q=%q", [k, v])',
        'sprintf("label %s in %v", [k, {l | some l, _ in input.review.object.metadata.labels}])',
    ))  # fmt: skip


OBJECT_RULES = (
    # required labels: a set difference, its size, and the sorted missing keys
    f"provided := {{k | some k, _ in {LABELS}}}\n\trequired := {{l | some l in input.parameters.labels}}\n"
    '\tmissing := required - provided\n\tcount(missing) > 0\n\tmsg := sprintf("missing labels: %v", '
    '[concat(", ", sort(missing))])',
    f"count({CONTAINERS}) > input.parameters.max\n\t"
    f'msg := sprintf("%d containers, at most %d", [count({CONTAINERS}), input.parameters.max])',
    f"names := [c.name | some c in {CONTAINERS}]\n\tcount(names) != count({{n | some n in names}})\n\t"
    'msg := "duplicate container names"',
    f'not {LABELS}.owner\n\tmsg := sprintf("%v has no owner label", [input.review.object.metadata.name])',
)
"""Rules over the whole object (their body sets `msg` itself)."""


@st.composite
def violation_rules(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(("container", "container", "label", "object")))
    if kind == "object":
        body = draw(st.sampled_from(OBJECT_RULES))
        return f'violation contains {{"msg": msg}} if {{\n\t{body}\n}}'
    if kind == "container":
        iteration = draw(st.sampled_from((f"some c in {CONTAINERS}", f"c := {CONTAINERS}[_]")))
        conditions = draw(st.lists(container_conditions(), min_size=1, max_size=2))
        message = draw(container_messages())
    else:
        iteration = f"some k, v in {LABELS}"
        conditions = draw(st.lists(label_conditions(), min_size=1, max_size=2))
        message = draw(label_messages())
    conditions = [condition.replace("$P", f"p{i}") for i, condition in enumerate(conditions)]
    lines = [iteration, *conditions, f"msg := {message}"]
    return 'violation contains {"msg": msg} if {\n\t' + "\n\t".join(lines) + "\n}"


HELPERS = (
    "allowed_image(image) if {\n\tsome p in input.parameters.prefixes\n\tstartswith(image, p)\n}\n\n"
    'image_tag(image) := t if {\n\tcontains(image, ":")\n\tparts := split(image, ":")\n'
    '\tt := parts[count(parts) - 1]\n} else := "none"\n\n'
    "default limit := 1\n\nlimit := input.parameters.max if input.parameters.max > 1"
)  # fmt: skip


@st.composite
def examples(draw: st.DrawFn, package: str = "gen") -> Example:
    rules = draw(st.lists(violation_rules(), min_size=1, max_size=3))
    rego = "\n\n".join([f"package {package}", *rules, HELPERS]) + "\n"
    return Example(rego, draw(parameter_sets), draw(pods()))


# -- the two engines ----------------------------------------------------------------------------------------------


def opa_messages(example: Example, review: dict[str, Any], package: str = "gen") -> list[str]:
    """The messages OPA gives for the example: `data.<package>.violation` with Gatekeeper's input."""
    from opa_bindings.engine import OpaEngine, OpaUndefinedError

    engine = OpaEngine()
    try:
        engine.add_policy("template.rego", example.rego)
        try:
            found = engine.eval_document(
                f"{package}.violation", input={"review": review, "parameters": example.parameters}
            )
        except OpaUndefinedError:
            found = []
    finally:
        engine.close()
    return sorted({item["msg"] for item in found if isinstance(item, dict) and isinstance(item.get("msg"), str)})


def template_manifest(example: Example, kind: str = "K8sGenerated") -> dict[str, Any]:
    """The example as a ConstraintTemplate with a `version: "v1"` Rego source."""
    return {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": kind.lower()},
        "spec": {
            "crd": {"spec": {"names": {"kind": kind}, "validation": {"openAPIV3Schema": PARAMETERS_SCHEMA}}},
            "targets": [
                {"target": "admission.k8s.gatekeeper.sh", "code": [{"engine": "Rego", "source": {
                    "rego": example.rego, "version": "v1"}}]}
            ],
        },
    }  # fmt: skip


def constraint_manifest(example: Example, kind: str = "K8sGenerated") -> dict[str, Any]:
    return {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": kind,
        "metadata": {"name": "generated"},
        "spec": {"parameters": example.parameters},
    }


def our_messages(example: Example, kind: str = "K8sGenerated") -> tuple[list[str], dict[str, Any]]:
    """Our Client's messages for the example, and the `input.review` it built (what OPA is then given)."""
    from gatekeeper_py import Client
    from gatekeeper_py.review import build_review

    client = Client()
    client.add_template(template_manifest(example, kind))
    client.add_constraint(constraint_manifest(example, kind))
    review = build_review(example.obj)
    responses = client.review(review)
    return sorted({result.msg for result in responses.results}), review.document()
