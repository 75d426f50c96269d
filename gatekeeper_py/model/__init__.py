"""Gatekeeper's manifests as validated Python objects; knows YAML shapes, nothing about engines."""

from .constraint import Constraint, constraint_kind, is_constraint, parse_constraint
from .template import ConstraintTemplate, RegoSource, is_template, parse_template

__all__ = [
    "Constraint",
    "ConstraintTemplate",
    "RegoSource",
    "constraint_kind",
    "is_constraint",
    "is_template",
    "parse_constraint",
    "parse_template",
]
