"""Kubernetes label selectors (metav1.LabelSelector): validation and evaluation."""

from __future__ import annotations

import re
from typing import Any

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def _key_problem(key: Any) -> str | None:
    if not isinstance(key, str):
        return f"label key {key!r} must be a string"
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"invalid label key {key!r}: the prefix must be a DNS subdomain"
    if len(name) > 63 or not _NAME.match(name):
        return (
            f"invalid label key {key!r}: the name must be at most 63 characters, alphanumeric, '-', '_' or '.', "
            "beginning and ending with an alphanumeric character"
        )
    return None


def _value_problem(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 63 or not _VALUE.match(value):
        return (
            f"invalid label value {value!r}: it must be an empty string or at most 63 characters, alphanumeric, "
            "'-', '_' or '.', beginning and ending with an alphanumeric character"
        )
    return None


def selector_problems(selector: Any) -> list[str]:
    """What metav1.LabelSelectorAsSelector would reject; [] for a valid (or absent) selector."""
    if selector is None:
        return []
    if not isinstance(selector, dict):
        return ["a label selector must be an object"]
    problems: list[str] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        problems += [p for p in (_key_problem(key), _value_problem(value)) if p]
    for expr in selector.get("matchExpressions") or []:
        op, values = expr.get("operator"), expr.get("values") or []
        key_problem = _key_problem(expr.get("key"))
        if key_problem:
            problems.append(key_problem)
        if op not in OPERATORS:
            problems.append(f'"{op}" is not a valid label selector operator')
        elif op in ("In", "NotIn") and not values:
            problems.append("for 'in', 'notin' operators, values set can't be empty")
        elif op in ("Exists", "DoesNotExist") and values:
            problems.append("values set must be empty for exists and does not exist")
        problems += [p for p in map(_value_problem, values) if p]
    return problems


def selector_matches(selector: dict[str, Any], labels: dict[str, Any] | None) -> bool:
    """Whether `labels` satisfy every requirement of a valid selector (an empty selector matches all)."""
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True
