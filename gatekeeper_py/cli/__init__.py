"""The `gatekeeper-py` command line (typer): parses arguments and formats output only."""
