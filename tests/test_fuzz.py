"""Hostile reviews (tests/mutations.py) through Client.review, with the starter policies and templates made to
trip engines (tests/data/trap-templates): nothing but ReviewError escapes, and no review overruns its deadline.
A fixed number of derandomized examples here; bench/fuzz_review.py runs thousands."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from mutations import admission_reviews, mutated, seed_objects

from gatekeeper_py import Client, ReviewError
from gatekeeper_py.loader import load_all

TIMEOUT = 2.0
# The deadline is checked between templates and bounds each Rego evaluation; past it a review still builds its
# error results and may wait for the engine thread to be handed the call: a generous margin for a loaded machine.
MARGIN = 3.0
SEEDS = seed_objects()
FUZZ = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)


@pytest.fixture(scope="module", params=["auto", "rego"])
def client(request: pytest.FixtureRequest) -> Client:
    docs, errors = load_all([REPO / "templates", REPO / "constraints", REPO / "tests" / "data" / "trap-templates"])
    assert not errors
    client = Client(engine=request.param, review_timeout=TIMEOUT)
    problems = client.add_policies(docs)
    # --engine rego has no driver for a CEL-only template: every other template loads.
    assert all("K8sNativeValidation" in str(p) or "K8sCelTraps" in str(p) for p in problems), problems
    return client


def review_within_deadline(client: Client, thing: dict[str, Any]) -> None:
    start = time.monotonic()
    try:
        responses = client.review(thing)
    except ReviewError:
        responses = None
    elapsed = time.monotonic() - start
    assert elapsed < TIMEOUT + MARGIN, f"the review took {elapsed:.1f}s"
    for result in responses or ():
        assert isinstance(result.msg, str) and result.msg


def test_seed_objects_are_many_and_varied() -> None:
    kinds = {obj["kind"] for obj in SEEDS}
    assert len(SEEDS) > 50 and {"Pod", "Deployment", "Namespace"} <= kinds


@FUZZ
@given(obj=mutated(SEEDS))
def test_mutated_objects_give_results_or_a_review_error_in_time(client: Client, obj: dict[str, Any]) -> None:
    review_within_deadline(client, obj)


@FUZZ
@given(review=admission_reviews(SEEDS))
def test_mutated_admission_reviews_give_results_or_a_review_error_in_time(
    client: Client, review: dict[str, Any]
) -> None:
    review_within_deadline(client, review)
