"""`gatekeeper-py serve`: a validating admission webhook on the same Client as the library."""
