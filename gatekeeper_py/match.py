"""`spec.match`: which objects a constraint applies to (Gatekeeper pkg/mutation/match, pkg/target/matcher.go).

Pure functions. A criterion that cannot be evaluated raises MatchError, which the client turns into
Gatekeeper's "autoreject" result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import MatchError
from .labels import selector_matches, selector_problems
from .loader import meta_labels, meta_string
from .review import ORIGINAL, Review, group_version_kind

Match = dict[str, Any]
Obj = dict[str, Any]
Namespace = dict[str, Any] | None
SOURCES = ("All", "Generated", ORIGINAL)


def wildcard_matches(pattern: str, candidate: str) -> bool:
    """`*x*` contains, `*x` suffix, `x*` prefix, else equality; `*` matches everything."""
    if pattern.startswith("*") and pattern.endswith("*"):
        return pattern[1:-1] in candidate
    if pattern.startswith("*"):
        return candidate.endswith(pattern[1:])
    if pattern.endswith("*"):
        return candidate.startswith(pattern[:-1])
    return pattern == candidate


def generate_name_matches(pattern: str, generate_name: str) -> bool:
    """Only `x*` and `*x*` can be decided from a generateName: the final name's end is not known yet."""
    if not generate_name:
        return False
    if pattern.startswith("*") and pattern.endswith("*") and len(pattern) > 1:
        return pattern[1:-1] in generate_name
    if pattern.endswith("*") and not pattern.startswith("*"):
        return generate_name.startswith(pattern[:-1])
    return False


def _is_namespace(obj: Obj) -> bool:
    gvk = group_version_kind(obj)
    return gvk["kind"] == "Namespace" and gvk["group"] == ""


def _namespace_candidate(obj: Obj, ns: Namespace) -> str | None:
    """The namespace name the namespaces lists are checked against; None for cluster-scoped objects."""
    if _is_namespace(obj):
        return meta_string(obj, "name")
    if ns is not None:
        return meta_string(ns, "name")
    return meta_string(obj, "namespace") or None


def _kinds(match: Match, obj: Obj, ns: Namespace, source: str) -> bool:
    if not match.get("kinds"):
        return True
    gvk = group_version_kind(obj)
    for entry in match["kinds"]:
        kinds, groups = entry.get("kinds") or [], entry.get("apiGroups") or []
        if (not kinds or "*" in kinds or gvk["kind"] in kinds) and (
            not groups or "*" in groups or gvk["group"] in groups
        ):
            return True
    return False


def selected_kinds(match: Match | None) -> set[tuple[str, str]] | None:
    """The (group, kind) pairs `match.kinds` can select, for indexing constraints by kind; None when it can select
    any kind (no kinds, or a wildcard or empty list in an entry)."""
    if not match or not match.get("kinds"):
        return None
    pairs: set[tuple[str, str]] = set()
    for entry in match["kinds"]:
        kinds, groups = entry.get("kinds") or [], entry.get("apiGroups") or []
        if not kinds or "*" in kinds or not groups or "*" in groups:
            return None
        pairs |= {(group, kind) for group in groups for kind in kinds}
    return pairs


def _scope(match: Match, obj: Obj, ns: Namespace, source: str) -> bool:
    has_namespace = bool(meta_string(obj, "namespace")) or ns is not None
    if match.get("scope") == "Cluster":
        return _is_namespace(obj) or not has_namespace
    if match.get("scope") == "Namespaced":
        return not _is_namespace(obj) and has_namespace
    return True


def _namespaces(match: Match, obj: Obj, ns: Namespace, source: str) -> bool:
    candidate = _namespace_candidate(obj, ns)
    if not match.get("namespaces") or candidate is None:
        return True
    return any(wildcard_matches(p, candidate) for p in match["namespaces"])


def _excluded_namespaces(match: Match, obj: Obj, ns: Namespace, source: str) -> bool:
    candidate = _namespace_candidate(obj, ns)
    if not match.get("excludedNamespaces") or candidate is None:
        return True
    return not any(wildcard_matches(p, candidate) for p in match["excludedNamespaces"])


def _checked_selector(selector: dict[str, Any]) -> dict[str, Any]:
    problems = selector_problems(selector)
    if problems:
        raise MatchError(problems[0])
    return selector


def _label_selector(match: Match, obj: Obj, ns: Namespace, source: str) -> bool:
    if match.get("labelSelector") is None:
        return True
    return selector_matches(_checked_selector(match["labelSelector"]), meta_labels(obj))


def _namespace_selector(match: Match, obj: Obj, ns: Namespace, source: str) -> bool:
    if match.get("namespaceSelector") is None:
        return True
    if not _is_namespace(obj) and ns is None and not meta_string(obj, "namespace"):
        return True  # cluster-scoped objects are not filtered out
    selector = _checked_selector(match["namespaceSelector"])
    if _is_namespace(obj):
        return selector_matches(selector, meta_labels(obj))
    if ns is None:
        raise MatchError("namespace selector for namespace-scoped object but missing Namespace")
    return selector_matches(selector, meta_labels(ns))


def _name(match: Match, obj: Obj, ns: Namespace, source: str) -> bool:
    pattern = match.get("name") or ""
    if not pattern:
        return True
    return wildcard_matches(pattern, meta_string(obj, "name")) or generate_name_matches(
        pattern, meta_string(obj, "generateName")
    )


def _source(match: Match, obj: Obj, ns: Namespace, source: str) -> bool:
    wanted = match.get("source") or "All"
    if wanted not in SOURCES:
        raise MatchError(f'invalid source field "{wanted}"')
    if not source and wanted != "All":
        raise MatchError(f"source field not specified for resource {meta_string(obj, 'name')}")
    if wanted == "All":
        return True
    if source not in SOURCES:
        raise MatchError(f'invalid source field "{source}"')
    return wanted == source


# Each criterion with the field it reads; a criterion passes when its field is absent, so only present ones run.
_CRITERIA: tuple[tuple[str, Callable[[Match, Obj, Namespace, str], bool]], ...] = (
    ("kinds", _kinds), ("scope", _scope), ("namespaces", _namespaces), ("excludedNamespaces", _excluded_namespaces),
    ("labelSelector", _label_selector), ("namespaceSelector", _namespace_selector), ("name", _name),
    ("source", _source),
)  # fmt: skip


def object_matches(match: Match, obj: Obj, ns: Namespace, source: str = ORIGINAL) -> bool:
    """All criteria, in Gatekeeper's order; the first that fails decides, the first error raises."""
    for field, criterion in _CRITERIA:
        try:
            if field in match and not criterion(match, obj, ns, source):
                return False
        except MatchError as exc:
            raise MatchError(f"failed to run Match criteria: {exc.reason}") from None
    return True


def review_matches(match: Match | None, review: Review, ns: Namespace) -> bool:
    """A constraint applies when its match selects the object or the old object (matchAny)."""
    if match is None:
        return True
    objects = [o for o in (review.object, review.old_object) if o]
    if not objects:
        raise MatchError("invalid request object: neither object nor old object are defined")
    for obj in objects:
        try:
            if object_matches(match, obj, ns, review.source):
                return True
        except MatchError as exc:
            name = meta_string(obj, "name")
            raise MatchError(f"error matching the requested object: {name} :{exc.reason}") from None
    return False
