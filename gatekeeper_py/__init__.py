"""gatekeeper-py: run OPA Gatekeeper ConstraintTemplates and constraints in Python.

from gatekeeper_py import Client
client = Client()
client.add_template(template_dict)
client.add_constraint(constraint_dict)
responses = client.review(admission_review_dict)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    ConstraintError,
    GatekeeperPyError,
    LoadError,
    MatchError,
    ReviewError,
    SchemaError,
    TemplateError,
)

if TYPE_CHECKING:
    from .client import Client
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

# Imported on first use (PEP 562), so that `import gatekeeper_py` and the CLI's --help and --version do not load
# the engines, PyYAML and the rest: name -> the module that defines it.
_LAZY = {
    "Client": "client",
    "Constraint": "model",
    "ConstraintTemplate": "model",
    "Responses": "results",
    "Result": "results",
    "Review": "review",
    "build_review": "review",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
