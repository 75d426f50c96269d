"""The Rego engine on regopy (rego-cpp)."""

from .driver import RegoDriver

__all__ = ["RegoDriver"]
