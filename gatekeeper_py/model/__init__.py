"""Gatekeeper's manifests as validated Python objects; knows YAML shapes, nothing about engines."""

from .constraint import Constraint, is_constraint, parse_constraint
from .template import ConstraintTemplate, RegoSource, is_template, parse_template

__all__ = [
    "Constraint",
    "ConstraintTemplate",
    "RegoSource",
    "is_constraint",
    "is_template",
    "parse_constraint",
    "parse_template",
]
