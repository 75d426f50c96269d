"""gatekeeper-py: run OPA Gatekeeper ConstraintTemplates and constraints in Python.

from gatekeeper_py import Client
client = Client()
client.add_template(template_dict)
client.add_constraint(constraint_dict)
responses = client.review(admission_review_dict)
"""

from .client import Client
from .errors import (
    ConstraintError,
    GatekeeperPyError,
    LoadError,
    MatchError,
    ReviewError,
    SchemaError,
    TemplateError,
)
from .model import Constraint, ConstraintTemplate
from .results import Responses, Result
from .review import Review, build_review

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Constraint",
    "ConstraintError",
    "ConstraintTemplate",
    "GatekeeperPyError",
    "LoadError",
    "MatchError",
    "Responses",
    "Result",
    "Review",
    "ReviewError",
    "SchemaError",
    "TemplateError",
    "build_review",
]
