"""Hypothesis strategies for hostile reviews: real objects (the catalogue's samples, the examples) and
AdmissionReviews made of them, with a few values replaced by what breaks engines: deep nesting, huge numbers,
lone surrogates, long strings, many containers, values of the wrong type. Shared by the fuzz test and
bench/fuzz_review.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from gatekeeper_py.loader import read_paths
from gatekeeper_py.model import is_constraint, is_template

REPO = Path(__file__).resolve().parent.parent


def seed_objects() -> list[dict[str, Any]]:
    """Every object (not a template or constraint) among the catalogue's samples and the examples."""
    paths = [*sorted(REPO.glob("library/**/samples")), REPO / "examples"]
    return [doc.obj for doc in read_paths(paths) if _reviewable(doc.obj)]


def _reviewable(obj: Any) -> bool:
    if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str) or is_template(obj) or is_constraint(obj):
        return False
    return obj["kind"] != "ExpansionTemplate" and not obj["kind"].endswith("Suite")


def _nested(depth: int, leaf: Any, as_list: bool) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


def _container(i: int) -> dict[str, Any]:
    return {
        "name": f"c{i}",
        "image": f"registry.example.com/app:{i}",
        "securityContext": {"privileged": i % 2 == 0, "capabilities": {"add": [f"CAP_{i}"], "drop": ["ALL"]}},
    }


HOSTILE: st.SearchStrategy[Any] = st.one_of(
    st.builds(_nested, st.integers(50, 700), st.sampled_from(["x", 1, None]), st.booleans()),
    st.integers(4000, 5000).map(lambda digits: 10**digits),
    st.sampled_from([2**63, -(2**63) - 1, 2**64 + 1, 1e308, -0.0, 5e-324]),
    st.sampled_from(["\ud800", "a\udc00b", "\ud83d\ude00", "\x00", "\u202e", "é" * 3, "%v%d%!", "\\", '"']),
    st.text(min_size=1000, max_size=3000),
    st.lists(st.sampled_from(["SYS_ADMIN", "NET_ADMIN", "ALL", "", "CHOWN", "x"]), min_size=20, max_size=80),
    st.integers(50, 500).map(lambda n: [_container(i) for i in range(n)]),
    st.sampled_from([None, True, 0, -1, "", [], {}, "x", 1.5, ["x"], {"x": 1}]),
    st.lists(st.integers(), max_size=5),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=5),
)
"""Values that have broken an engine somewhere."""


def value_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into `value` (dict keys and list positions, the first 20 of a list), the empty one included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += value_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:20]):
            found += value_paths(item, (*prefix, i))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    value[head] = _replaced(value[head], rest, new)
    return value


@st.composite
def mutated(draw: st.DrawFn, seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """A seed object with one to three values (never its kind) replaced by hostile ones, or keys added."""
    obj = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in value_paths(obj) if p and p[0] not in ("kind", "apiVersion")]
        if draw(st.booleans()) or not paths:  # a new key somewhere under a mapping
            parents = [p for p in value_paths(obj) if isinstance(_at(obj, p), dict)]
            parent = draw(st.sampled_from(parents))
            key = draw(st.sampled_from(["metadata", "spec", "containers", "securityContext", "labels", "x\ud800"]))
            _at(obj, parent)[key] = copy.deepcopy(draw(HOSTILE))
        else:
            obj = _replaced(obj, draw(st.sampled_from(paths)), copy.deepcopy(draw(HOSTILE)))
    return obj


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def admission_reviews(draw: st.DrawFn, seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """An AdmissionReview of a (possibly mutated) object, its request fields possibly hostile too."""
    obj = draw(mutated(seeds)) if draw(st.booleans()) else copy.deepcopy(draw(st.sampled_from(seeds)))
    operation = draw(st.sampled_from(["CREATE", "UPDATE", "DELETE", "CONNECT"]))
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    request: dict[str, Any] = {
        "uid": "fuzz",
        "kind": {"group": "", "version": "v1", "kind": obj.get("kind")},
        "operation": operation,
        "name": metadata.get("name", ""),
        "namespace": metadata.get("namespace", ""),
        "userInfo": {"username": "fuzz"},
        "object": None if operation == "DELETE" else obj,
        "oldObject": obj if operation in ("DELETE", "UPDATE") else None,
    }
    if draw(st.booleans()):
        field = draw(st.sampled_from(sorted(request)))
        request[field] = copy.deepcopy(draw(HOSTILE))
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
