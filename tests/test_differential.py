"""Differential test: for generated Gatekeeper-style templates and Pods, our Client's messages are OPA's.

The templates come from tests/policy_grammar.py (Rego v1, since opa_bindings reads v1 only); our Client loads each
as a `version: "v1"` template with one constraint, and OPA (opa_bindings, OPA's Go engine) evaluates
`data.<package>.violation` with the `input.review` our Client built and the constraint's parameters. What the
grammar keeps away from, because rego-cpp differs from OPA there today, is listed in policy_grammar.AVOIDED.
bench/differential.py runs the same grammar for thousands of examples.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from policy_grammar import Example, examples, opa_messages, our_messages


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(examples())
def test_messages_are_opas(example: Example) -> None:
    ours, review = our_messages(example)
    assert ours == opa_messages(example, review), example.describe()


def test_both_engines_see_the_same_violations_of_a_known_template() -> None:
    """The comparison can fail: a fixed example with known messages, so an engine answering nothing for
    everything (both sides empty) would not pass unnoticed."""
    example = Example(
        rego=(
            "package gen\n\n"
            'violation contains {"msg": msg} if {\n'
            "\tsome c in input.review.object.spec.containers\n"
            "\tnot c.name in input.parameters.names\n"
            '\tmsg := sprintf("container <%v> uses image %v", [c.name, c.image])\n'
            "}\n"
        ),
        parameters={"prefixes": [], "names": ["app"], "labels": [], "max": 0},
        obj={
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p1", "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": "a"}, {"name": "db", "image": "quay.io/ops/db:1.2"}]},
        },
    )
    ours, review = our_messages(example)
    assert ours == ["container <db> uses image quay.io/ops/db:1.2"]
    assert opa_messages(example, review) == ours
