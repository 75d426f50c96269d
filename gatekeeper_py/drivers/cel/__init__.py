"""The CEL engine (Gatekeeper's `K8sNativeValidation` source) on cel-expr-python, Google's CEL runtime."""

from .driver import CEL_ENGINE, CelDriver

__all__ = ["CEL_ENGINE", "CelDriver"]
