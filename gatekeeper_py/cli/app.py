"""`gatekeeper-py`: the command line."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from .. import __version__

app = typer.Typer(
    name="gatekeeper-py",
    help="Run OPA Gatekeeper ConstraintTemplates and constraints: a gator-compatible CLI.",
    no_args_is_help=True,
    add_completion=False,
)


class Engine(StrEnum):
    auto = "auto"
    rego = "rego"
    cel = "cel"


ENGINE_HELP = "auto: CEL where a template has it, as Gatekeeper does (no CEL engine yet: Rego); rego; cel."


class TestOutput(StrEnum):
    human = "human"
    json = "json"
    yaml = "yaml"


def _version(value: bool) -> None:
    if value:
        print(f"gatekeeper-py {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Run OPA Gatekeeper ConstraintTemplates and constraints: a gator-compatible CLI."""


@app.command("test")
def test_command(
    filename: Annotated[
        list[str],
        typer.Option(
            "--filename", "-f", help="File or directory (recursive) of templates, constraints and objects; - for stdin."
        ),
    ],
    output: Annotated[TestOutput, typer.Option("--output", "-o", help="Output format.")] = TestOutput.human,
    deny_only: Annotated[bool, typer.Option("--deny-only", help="Show only results whose action is deny.")] = False,
    engine: Annotated[Engine, typer.Option("--engine", help=ENGINE_HELP)] = Engine.auto,
) -> None:
    """Review every object among the inputs, as `gator test` does.

    Exit 1 when any result denies, 2 on bad input, 0 otherwise.
    """
    from .gator_test import exit_code, render, run_test

    run = run_test(filename, engine.value)
    results = [(d, r) for d, r in run.results if not deny_only or "deny" in r.actions]
    sys.stdout.write(render(results, output.value))
    raise typer.Exit(exit_code(run))


class VerifyOutput(StrEnum):
    human = "human"
    json = "json"


@app.command("verify")
def verify_command(
    paths: Annotated[list[str], typer.Argument(help="Suite files or directories; DIR/... recurses, as in gator.")],
    run: Annotated[
        str | None, typer.Option("--run", help="Run only tests/cases whose name matches; TEST//CASE for both.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every test and case.")] = False,
    output: Annotated[VerifyOutput, typer.Option("--output", "-o", help="Output format.")] = VerifyOutput.human,
    engine: Annotated[Engine, typer.Option("--engine", help=ENGINE_HELP)] = Engine.auto,
) -> None:
    """Run gator Suites (test.gatekeeper.sh Suite files), as `gator verify` does.

    Exit 1 when a case fails or errors, 2 on bad input, 0 otherwise.
    """
    from .gator_verify import render_human, render_json, run_verify, verify_exit_code

    results, errors = run_verify(paths, run, engine.value)
    sys.stdout.write(render_json(results) if output == VerifyOutput.json else render_human(results, verbose))
    raise typer.Exit(verify_exit_code(results, errors))


rego_app = typer.Typer(help="Rego tools.", no_args_is_help=True)
app.add_typer(rego_app, name="rego")


class RegoVersion(StrEnum):
    v0 = "v0"
    v1 = "v1"


@rego_app.command("translate")
def rego_translate_command(
    path: Annotated[str, typer.Argument(help="A ConstraintTemplate file, or a .rego file.")],
    rego_version: Annotated[
        RegoVersion, typer.Option("--rego-version", help="The Rego version of a .rego file (templates say their own).")
    ] = RegoVersion.v0,
) -> None:
    """Print the Rego v1 that gatekeeper-py hands to its engine for each module of a template.

    Exit 2 when the file cannot be read or its Rego does not parse.
    """
    from ..errors import GatekeeperPyError
    from .output import error_line
    from .rego_translate import render_modules, translated_modules

    try:
        modules = translated_modules(path, rego_version.value)
    except GatekeeperPyError as exc:
        error_line(str(exc))
        raise typer.Exit(2) from None
    sys.stdout.write(render_modules(modules))


def main() -> None:
    app()
