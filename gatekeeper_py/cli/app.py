"""`gatekeeper-py`: the command line."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
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


ENGINE_HELP = "auto: CEL where a template has it, as Gatekeeper does, else Rego; rego: Rego only; cel: CEL only."


class TestOutput(StrEnum):
    human = "human"
    json = "json"
    yaml = "yaml"
    junit = "junit"
    sarif = "sarif"


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


def _inputs(filename: list[str] | None) -> list[str]:
    """The -f paths, and stdin after them when something is piped in (as gator does; a terminal, /dev/null
    or a closed stdin is not read)."""
    from ..loader import STDIN, stdin_is_piped

    paths = list(filename or [])
    if STDIN not in paths and stdin_is_piped():
        paths.append(STDIN)
    if paths:
        return paths
    from .output import error_line

    error_line("no input: give -f PATH (a file, a directory or - for stdin) or pipe manifests in")
    raise typer.Exit(2)


KubeconfigOption = Annotated[str | None, typer.Option("--kubeconfig", help="With --cluster: this kubeconfig.")]
ContextOption = Annotated[str | None, typer.Option("--context", help="With --cluster: this kubeconfig context.")]
ClusterTimeoutOption = Annotated[
    float,
    typer.Option(
        "--cluster-timeout",
        help="With --cluster: seconds to wait for each answer of the API server (3 tries per call).",
        min=0.1,
    ),
]
FILENAME_HELP = "File or directory (recursive; a kustomization is followed) of manifests; - for stdin. Repeatable."


@app.command("test")
def test_command(
    filename: Annotated[list[str] | None, typer.Option("--filename", "-f", help=FILENAME_HELP)] = None,
    output: Annotated[TestOutput, typer.Option("--output", "-o", help="Output format.")] = TestOutput.human,
    deny_only: Annotated[bool, typer.Option("--deny-only", help="Show only results whose action is deny.")] = False,
    fail_on_warn: Annotated[bool, typer.Option("--fail-on-warn", help="Exit 1 on warn results too.")] = False,
    engine: Annotated[Engine, typer.Option("--engine", help=ENGINE_HELP)] = Engine.auto,
) -> None:
    """Review every object among the inputs (templates, constraints and objects mixed), as `gator test` does.
    Piped stdin is read after the -f paths.

    Exit 1 when any result denies (or warns, with --fail-on-warn); 2 on bad input, or when no constraint
    loaded or no object besides policies was given; 0 otherwise.
    """
    from .gator_test import empty_input_problems, exit_code, human_lines, render, run_test, summary_line
    from .terminal import progress_bars, write_lines

    with progress_bars("reviewing", output == TestOutput.human) as bars:
        run = run_test(_inputs(filename), engine.value, bars)
    for problem in empty_input_problems(run):
        run.fail(problem)
    results = [(d, r) for d, r in run.results if not deny_only or "deny" in r.actions]
    if output == TestOutput.human:
        write_lines([*human_lines(results), (summary_line(run), None)])
    else:
        sys.stdout.write(render(run, results, output.value, fail_on_warn))
    raise typer.Exit(exit_code(run, fail_on_warn))


class VerifyOutput(StrEnum):
    human = "human"
    json = "json"
    junit = "junit"


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
    from .gator_verify import human_lines, render_json, render_junit_report, run_verify, verify_exit_code
    from .terminal import progress_bars, write_lines

    with progress_bars("suites", output == VerifyOutput.human) as bars:
        results, errors = run_verify(paths, run, engine.value, bars)
    if output == VerifyOutput.json:
        sys.stdout.write(render_json(results))
    elif output == VerifyOutput.junit:
        sys.stdout.write(render_junit_report(results))
    else:
        write_lines(human_lines(results, verbose))
    raise typer.Exit(verify_exit_code(results, errors))


class ExpandFormat(StrEnum):
    yaml = "yaml"
    json = "json"


@app.command("expand")
def expand_command(
    filename: Annotated[
        list[str] | None, typer.Option("--filename", "-f", "-n", help=FILENAME_HELP + " (-n as in gator)")
    ] = None,
    output: Annotated[
        ExpandFormat, typer.Option("--output", "-o", "--format", help="Output format (gator's --format).")
    ] = ExpandFormat.yaml,
    outputfile: Annotated[
        str | None, typer.Option("--outputfile", help="Write to this file instead of stdout (overwritten).")
    ] = None,
) -> None:
    """Print the objects the ExpansionTemplates among the inputs generate from the inputs' workloads, as
    `gator expand` does: sorted by name, apiVersion and kind (descending), separated by `---`.

    Exit 2 on bad input, 0 otherwise.
    """
    from .gator_expand import render_expanded, run_expand
    from .output import error_line

    run = run_expand(_inputs(filename))
    if run.errors:
        raise typer.Exit(2)
    text = render_expanded(run.resultants, output.value)
    if outputfile is None:
        sys.stdout.write(text)
        return
    try:
        Path(outputfile).write_text(text, encoding="utf-8")
    except OSError as exc:
        error_line(f"{outputfile}: cannot write: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    print(f"Writing output to file: {outputfile}", file=sys.stderr)


class AuditOutput(StrEnum):
    table = "table"
    json = "json"
    policyreport = "policyreport"


@app.command("audit")
def audit_command(
    filename: Annotated[list[str] | None, typer.Option("--filename", "-f", help=FILENAME_HELP)] = None,
    cluster: Annotated[
        bool, typer.Option("--cluster", help="Audit a live cluster (kubeconfig, or in-cluster config).")
    ] = False,
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
    cluster_timeout: ClusterTimeoutOption = 15.0,
    output: Annotated[AuditOutput, typer.Option("--output", "-o", help="Output format.")] = AuditOutput.table,
    limit: Annotated[
        int, typer.Option("--constraint-violations-limit", help="Violations listed per constraint (Gatekeeper: 20).")
    ] = 20,
    workers: Annotated[int, typer.Option("--workers", help="Review in this many processes.", min=1)] = 1,
    engine: Annotated[Engine, typer.Option("--engine", help=ENGINE_HELP)] = Engine.auto,
) -> None:
    """Audit objects as Gatekeeper's audit does: per constraint, the total violations and the first N.

    Objects and policies come from -f paths, or from a cluster with --cluster (policies too, unless -f gives
    them). Exit 1 when a deny violation exists, 2 on bad input, 0 otherwise.
    """
    from ..errors import GatekeeperPyError
    from ..loader import load_all
    from .audit_cmd import audits_of, render_json, render_policy_reports, run_audit, table_lines
    from .gator_test import TestRun, exit_code
    from .output import error_line
    from .terminal import progress_bars, write_lines

    run = TestRun()
    docs, load_errors = load_all(filename) if filename else ([], [])
    for error in load_errors:
        run.fail(error)
    skipped: list[dict[str, str]] = []
    if cluster:
        from ..cluster import Cluster, cluster_documents

        try:
            live = Cluster(kubeconfig, context, read_timeout=cluster_timeout)
            docs = cluster_documents(live, docs if filename else None)
        except GatekeeperPyError as exc:
            error_line(str(exc))
            raise typer.Exit(2) from None
        for gap in live.skipped:
            error_line(f"cluster: {gap.resource} not audited: {gap.reason}", prefix="warning")
        skipped = [gap.to_dict() for gap in live.skipped]
    elif not filename:
        error_line("nothing to audit: give -f PATH or --cluster")
        raise typer.Exit(2)
    with progress_bars("auditing", output == AuditOutput.table) as bars:
        run = run_audit(docs, engine.value, workers, bars, run=run)
    audits = audits_of(run, limit)
    if output == AuditOutput.json:
        sys.stdout.write(render_json(audits, skipped))
    elif output == AuditOutput.policyreport:
        sys.stdout.write(render_policy_reports(run))
    else:
        write_lines(table_lines(audits))
    raise typer.Exit(exit_code(run))


@app.command("serve")
def serve_command(
    filename: Annotated[
        list[str] | None, typer.Option("--filename", "-f", help=FILENAME_HELP + " Reloaded on change.")
    ] = None,
    cluster: Annotated[
        bool, typer.Option("--cluster", help="Take the policies from the cluster (kubeconfig or in-cluster).")
    ] = False,
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
    cert_file: Annotated[str | None, typer.Option("--cert-file", help="TLS certificate (PEM).")] = None,
    key_file: Annotated[str | None, typer.Option("--key-file", help="TLS private key (PEM).")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Serve plain HTTP (local tests only).")] = False,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8443,
    workers: Annotated[int, typer.Option("--workers", help="Engine worker processes.", min=1)] = 2,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds one review may take.")] = 3.0,
    fail_open: Annotated[
        bool,
        typer.Option(
            "--fail-open/--fail-closed",
            help="Admit (with a warning) or refuse a request the engine could not judge (Gatekeeper: Ignore).",
        ),
    ] = True,
    exempt_namespace: Annotated[
        list[str] | None, typer.Option("--exempt-namespace", help="Admit requests in these namespaces (globs).")
    ] = None,
    reload_interval: Annotated[float, typer.Option("--reload-interval", help="Seconds between checks.")] = 2.0,
    max_reviews: Annotated[
        int, typer.Option("--max-reviews-per-worker", help="Replace a worker after this many reviews.", min=1)
    ] = 10_000,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every HTTP request.")] = False,
    engine: Annotated[Engine, typer.Option("--engine", help=ENGINE_HELP)] = Engine.auto,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse to start (exit 2) unless every policy loads.")
    ] = False,
    cluster_timeout: ClusterTimeoutOption = 15.0,
    max_request_bytes: Annotated[
        int, typer.Option("--max-request-bytes", help="Largest AdmissionReview body accepted (HTTP 413 above).", min=1)
    ] = 7 * 1024 * 1024,
    max_depth: Annotated[
        int, typer.Option("--max-depth", help="Deepest nesting of a request; deeper gets the failure policy.", min=2)
    ] = 200,
    max_connections: Annotated[
        int, typer.Option("--max-connections", help="Concurrent connections and requests (HTTP 503 above).", min=1)
    ] = 256,
    idle_timeout: Annotated[
        int, typer.Option("--idle-timeout", help="Seconds an idle connection is kept open.", min=1)
    ] = 30,
) -> None:
    """Run the validating admission webhook: POST /v1/admit, GET /healthz, /readyz, /metrics.

    Policies from -f files, or from the cluster's ConstraintTemplates and constraints with --cluster; either is
    checked again every --reload-interval seconds. HTTPS with --cert-file and --key-file; plain HTTP only with
    --insecure. Exit 2 on bad usage.
    """
    from .output import error_line

    if not insecure and not (cert_file and key_file):
        error_line("serve needs --cert-file and --key-file (or --insecure for plain HTTP in local tests)")
        raise typer.Exit(2)
    if bool(filename) == cluster:
        error_line("serve needs its policies from -f PATH or from --cluster (one of them)")
        raise typer.Exit(2)
    for path in () if insecure else (cert_file, key_file):
        try:
            Path(path or "").read_bytes()
        except OSError as exc:
            error_line(f"{path}: cannot read: {exc.strerror or exc}")
            raise typer.Exit(2) from None
    import logging
    import ssl

    import uvicorn

    from ..errors import GatekeeperPyError
    from ..server.app import ServerConfig, create_app
    from ..server.policies import ClusterPolicySource, PolicySource
    from ..server.protocol import IdleClosingH11Protocol

    source: PolicySource | ClusterPolicySource
    if cluster:
        from ..cluster import Cluster

        try:
            source = ClusterPolicySource(Cluster(kubeconfig, context, read_timeout=cluster_timeout))
        except GatekeeperPyError as exc:
            error_line(str(exc))
            raise typer.Exit(2) from None
    else:
        source = PolicySource(filename or [])
    if strict:
        from ..server.policies import startup_errors

        problems = startup_errors(source, engine.value)
        for problem in problems:
            error_line(problem)
        if problems:
            raise typer.Exit(2)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = ServerConfig(
        source=source,
        engine=engine.value,
        workers=workers,
        timeout=timeout,
        fail_open=fail_open,
        exempt_namespaces=tuple(exempt_namespace or ()),
        reload_interval=reload_interval,
        max_reviews=max_reviews,
        max_body_bytes=max_request_bytes,
        max_depth=max_depth,
    )
    tls = {} if insecure else {"ssl_certfile": cert_file, "ssl_keyfile": key_file}
    try:
        uvicorn.run(
            create_app(config),
            host=host,
            port=port,
            log_level="info",
            access_log=access_log,
            timeout_graceful_shutdown=5,
            limit_concurrency=max_connections,  # beyond it uvicorn answers 503 at once instead of queueing
            timeout_keep_alive=idle_timeout,  # an idle connection (the API server keeps them alive) is then closed
            http=IdleClosingH11Protocol,  # ...also one that never sent a request
            h11_max_incomplete_event_size=64 * 1024,  # request line and headers; the body has its own limit
            **tls,
        )
    except ssl.SSLError as exc:
        error_line(f"{cert_file}, {key_file}: not a usable certificate and key: {exc.reason or exc}")
        raise typer.Exit(2) from None


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


library_app = typer.Typer(help="The template catalogue.", no_args_is_help=True)
app.add_typer(library_app, name="library")


class LibraryOutput(StrEnum):
    human = "human"
    json = "json"
    markdown = "markdown"


@library_app.command("list")
def library_list_command(
    path: Annotated[str, typer.Argument(help="The catalogue folder.")] = "library",
    output: Annotated[LibraryOutput, typer.Option("--output", "-o", help="Output format.")] = LibraryOutput.human,
) -> None:
    """List the catalogue's templates: name, title, engines and parameters (markdown: the README's table).

    Exit 2 when the folder is missing or a template in it is not usable.
    """
    from .library_list import run_library_list

    raise typer.Exit(run_library_list(Path(path), output.value))


def main() -> None:
    app()
