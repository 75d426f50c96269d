"""OPA's own compliance cases run through gatekeeper-py's Rego front-end and rego-cpp: the pass rate per folder.

Usage: python bench/opa_compliance.py CASES_DIR [--report FILE] [--jobs N] [--timeout S] [--folder NAME ...]
       python bench/opa_compliance.py --fetch-list

CASES_DIR holds OPA's case files as `v0/<folder>/*.yaml` and `v1/<folder>/*.yaml` (copied from the OPA
repository's `v1/test/cases/testdata/v0` and `.../v1`; see bench/README.md). The data is fetched, never committed.

Each case (modules, data, input, query, want_result or want_error) is run as OPA's test runner runs it: every module
goes through our front-end (parse, rewrite, emit: what a template's Rego goes through, without Gatekeeper's template
rules) in the case's Rego version, the query becomes the body of a rule collecting the bindings of the variables
`want_result` names, rego-cpp evaluates that rule with the case's data and input, and the set of bindings is compared
with `want_result` as OPA's runner compares them (a set of binding objects; with `sort_bindings`, each bound array is
sorted first; 1 and 1.0 are equal). Error cases pass on any error, since rego-cpp words its errors differently from
OPA; a `strict_error` case also passes when the result is undefined, which is what OPA gives without strict builtin
errors, the mode Gatekeeper runs in.

A case file runs in a child process, so a case that aborts rego-cpp or hangs (`--timeout`, per case) costs only
that case: it is reported as a crash or a timeout, counted as a failure, and the child restarts at the next case.
Cases in EXCLUSIONS, or that call a builtin in EXCLUDED_BUILTINS, are counted apart; rego-cpp bugs are failures.

The per-folder table goes to stdout and, with the failing cases and the first difference of each, to the report.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

OPA_CASES = "v1/test/cases/testdata"
"""Where the cases are in the OPA repository (open-policy-agent/opa), one folder per Rego version."""

FOLDERS = (
    "strings", "sprintf", "regexmatch", "regexfind", "regexreplace", "regexsplit", "regexfindallstringsubmatch",
    "sets", "objectget", "objectunion", "array", "aggregates", "comprehensions", "negation", "every", "elsekeyword",
    "functions", "withkeyword", "casts", "numbersrange",
)  # fmt: skip
"""The folders of OPA's cases that Gatekeeper templates lean on (what --fetch-list names). `some ... in` is tested in
aggregates/test-membership.yaml; `every` has a folder of its own for Rego v0 only."""

EXCLUDED_BUILTINS = {
    "http.send": "a network call: rego-cpp has none and gatekeeper-py refuses it at load (Gatekeeper's way to ask "
    "other systems is external_data)",
    "net.lookup_ip_addr": "a DNS lookup: a network call, as http.send",
    "opa.runtime": "OPA's own runtime configuration, which no Gatekeeper deployment gives templates a use for",
    "rand.intn": "random: a template's answer must not change between two reviews of one object",
    "uuid.rfc4122": "random: a template's answer must not change between two reviews of one object",
}
"""Builtins whose cases are excluded, with the reason (with `net.*`: CIDR and lookup functions rego-cpp lacks, which
gatekeeper-py refuses at load). Other builtins rego-cpp lacks are failures we owe a fix."""


NET_REASON = "net.* (CIDR and DNS functions): rego-cpp has none and gatekeeper-py refuses them at load"


@dataclass(frozen=True)
class Exclusion:
    note: str  # an fnmatch pattern over the case's `note`
    reason: str


EXCLUSIONS: tuple[Exclusion, ...] = ()
"""Cases excluded by note, with the reason: only features no Gatekeeper template can use. None so far: `with` (refused
by gatekeeper-py because it crashes rego-cpp), missing builtins and rego-cpp's wrong answers are failures."""


# -- the child: runs the cases of one file ------------------------------------------------------------------------

HARNESS_PACKAGE = "gkpy_compliance"
QUERY_MODULE = "gkpy_compliance_query.rego"


class _Loader(yaml.SafeLoader):
    """YAML 1.1 as OPA's case loader reads it, without timestamps (a date stays a string)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_cases(path: Path) -> list[dict[str, Any]]:
    """The cases of one file, each a dict as in the YAML."""
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
    return [case for case in doc.get("cases") or [] if isinstance(case, dict)]


def _canonical(value: Any) -> Any:
    """A value as OPA compares it: integral floats are integers."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    return value


def _key(value: Any) -> str:
    return json.dumps(_canonical(value), sort_keys=True, ensure_ascii=False)


def _sorted_bindings(row: dict[str, Any]) -> dict[str, Any]:
    from gatekeeper_py.drivers.rego.engine import opa_order

    return {k: sorted(v, key=opa_order) if isinstance(v, list) else v for k, v in row.items()}


def excluded(case: dict[str, Any], calls: set[str]) -> str | None:
    """Why a case is excluded, or None."""
    note = str(case.get("note", ""))
    for exclusion in EXCLUSIONS:
        if fnmatch.fnmatch(note, exclusion.note):
            return exclusion.reason
    for name in sorted(calls):
        if name in EXCLUDED_BUILTINS or name.startswith("net."):
            return f"builtin {name}: {EXCLUDED_BUILTINS.get(name, NET_REASON)}"
    if case.get("skip"):
        return "skipped by OPA itself"
    return None


def _calls(modules: list[Any]) -> set[str]:
    from gatekeeper_py.drivers.rego.syntax import Call, walk

    return {".".join(node.name) for module in modules for node in walk(module.rules) if isinstance(node, Call)}


def run_case(case: dict[str, Any], version: str) -> tuple[str, str]:
    """(outcome, detail) of one case: outcome is pass, fail or excluded."""
    from regopy import Interpreter

    from gatekeeper_py.drivers.rego.driver import engine_text, parse_source
    from gatekeeper_py.drivers.rego.engine import CompiledPolicy, EngineError, EvalError, Runner, to_engine_json
    from gatekeeper_py.drivers.rego.rewrite import DEPRECATED_BUILTINS
    from gatekeeper_py.errors import TemplateError

    want_error = case.get("want_error") is not None or case.get("want_error_code") is not None
    want_result = case.get("want_result")
    if want_result is None and not want_error:
        return "excluded", "no want_result nor want_error (a planner-only case)"
    names = sorted({str(k) for row in want_result or [] for k in row})
    head = "{" + ", ".join(f"{json.dumps(n)}: {n}" for n in names) + "}"
    query_source = f"package {HARNESS_PACKAGE}\n\nresults contains {head} if {{\n{case['query']}\n}}\n"
    sources = {f"test-{i}.rego": text for i, text in enumerate(case.get("modules") or [])}
    try:
        parsed = {name: parse_source(text, version, name) for name, text in sources.items()}
        query = parse_source(query_source, "v1", QUERY_MODULE)
    except TemplateError as exc:
        if want_error:
            return "pass", f"error as expected (front-end: {exc})"
        return "fail", f"front-end refused: {exc}"
    calls = _calls([*parsed.values(), query])
    reason = excluded(case, calls)
    if reason:
        return "excluded", reason
    input_json: str | None = None
    if case.get("input_term") is not None:
        try:
            input_json = to_engine_json(json.loads(case["input_term"]))
        except ValueError:
            return "excluded", "harness: input_term is a Rego term, not JSON"
    elif "input" in case and case["input"] is not None:
        input_json = to_engine_json(case["input"])
    own = {rule.name for module in parsed.values() for rule in module.rules}
    own |= set(DEPRECATED_BUILTINS) if version == "v0" else set()
    is_builtin = Interpreter().is_builtin
    missing = sorted(c for c in calls if not c.startswith("data.") and c not in own and not is_builtin(c))
    try:
        modules = {name: engine_text(module, version, name) for name, module in parsed.items()}
        modules[QUERY_MODULE] = engine_text(query, "v1", QUERY_MODULE)
        policy = CompiledPolicy(modules, f"{HARNESS_PACKAGE}/results", case.get("data") or {})
    except (TemplateError, EngineError) as exc:
        if want_error:
            return "pass", f"error as expected (compile: {exc})"
        if missing:
            return "fail", f"rego-cpp lacks builtin {', '.join(missing)}"
        return "fail", f"compile error: {exc}"
    runner = Runner()
    value = runner.set_input(input_json) if input_json is not None else None
    value = value or runner.query(policy)
    if isinstance(value, EvalError):
        if want_error:
            return "pass", f"error as expected ({value.message})"
        if missing:
            return "fail", f"rego-cpp lacks builtin {', '.join(missing)}: {value.message}"
        return "fail", f"error: {value.message}"
    got = [row for row in value or [] if isinstance(row, dict)]
    if case.get("sort_bindings"):
        got = [_sorted_bindings(row) for row in got]
    if want_error:
        if case.get("strict_error") and not got:
            return "pass", "undefined, as OPA without strict builtin errors (Gatekeeper's mode)"
        wanted = case.get("want_error") or case.get("want_error_code")
        return "fail", f"expected an error ({wanted}), got a result: {_key(got[0]) if got else 'undefined'}"
    want_keys = {_key(row): row for row in want_result}
    got_keys = {_key(row): row for row in got}
    if want_keys.keys() == got_keys.keys():
        return "pass", ""
    missing_rows = [want_keys[k] for k in want_keys if k not in got_keys]
    extra_rows = [got_keys[k] for k in got_keys if k not in want_keys]
    first = []
    if missing_rows:
        first.append(f"want {_key(missing_rows[0])}")
    if extra_rows:
        first.append(f"got {_key(extra_rows[0])}")
    if not got:
        first.append("got undefined")
    return "fail", "; ".join(first)


def folder_cases(paths: list[Path]) -> list[tuple[Path, int, dict[str, Any]]]:
    """The cases of a folder's files in order, each as (file, position in the file, case)."""
    return [(path, i, case) for path in paths for i, case in enumerate(load_cases(path))]


def child(paths: list[Path], version: str, start: int) -> None:
    """Run the cases of `paths` (one folder) from the `start`th, printing a JSON line before and after each."""
    os.environ.setdefault("GATEKEEPER_PY_CACHE_DIR", "")
    cases = folder_cases(paths)
    for i in range(start, len(cases)):
        print(json.dumps({"i": i, "start": True}), flush=True)
        try:
            outcome, detail = run_case(cases[i][2], version)
        except Exception as exc:  # a harness or front-end bug: reported, not fatal
            outcome, detail = "fail", f"harness exception {type(exc).__name__}: {exc}"
        print(json.dumps({"i": i, "outcome": outcome, "detail": detail}), flush=True)


# -- the parent: a pool of children, a table -----------------------------------------------------------------------


@dataclass
class Outcome:
    version: str
    folder: str
    file: str
    note: str
    outcome: str  # pass, fail, excluded, crash, timeout
    detail: str


def case_folders(root: Path, folders: list[str] | None) -> list[tuple[str, str, list[Path]]]:
    """(version, folder, its case files) for each folder under `root`/v0 and `root`/v1."""
    found: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for version in ("v0", "v1"):
        base = root / version
        if not base.is_dir():
            continue
        for path in sorted(p for p in base.rglob("*") if p.suffix in (".yaml", ".yml")):
            parts = path.relative_to(base).parts
            folder = parts[0] if len(parts) > 1 else "."
            if folders is None or folder in folders:
                found[(version, folder)].append(path)
    return [(version, folder, paths) for (version, folder), paths in found.items()]


def _run_child(
    paths: list[Path], version: str, start: int, timeout: float
) -> tuple[dict[int, tuple[str, str]], int, str]:
    """Run a child from case `start`: its outcomes, the case it stopped in (-1 when it finished) and why."""
    cmd = [sys.executable, __file__, "--version", version, "--start", str(start)]
    cmd += [arg for path in paths for arg in ("--run-file", str(path))]
    env = dict(os.environ)
    repo = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, env=env)
        assert proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        outcomes: dict[int, tuple[str, str]] = {}
        current, buffer, eof = -1, b"", False
        deadline = time.monotonic() + timeout + 10  # the first case includes the child's start
        while not eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                proc.kill()
                proc.wait()
                return outcomes, current, f"timeout: no answer within {timeout:g} s"
            if not selector.select(remaining):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            eof = not chunk
            *lines, buffer = (buffer + chunk).split(b"\n")
            for line in lines:
                message = json.loads(line)
                if message.get("start"):
                    current, deadline = message["i"], time.monotonic() + timeout
                else:
                    outcomes[message["i"]] = (message["outcome"], message["detail"])
                    current = -1
        code = proc.wait()
        stderr.seek(0)
        last = stderr.read().decode(errors="replace").strip().splitlines()[-1:]
    if current == -1 and code == 0:
        return outcomes, -1, ""
    return outcomes, current, f"crash (exit {code}){': ' + last[0][:200] if last else ''}"


def run_folder(version: str, folder: str, paths: list[Path], timeout: float) -> list[Outcome]:
    """Every case of one folder, restarting the child after a crash or a hang."""
    readable: list[Path] = []
    outcomes: list[Outcome] = []
    for path in paths:
        try:
            load_cases(path)
            readable.append(path)
        except yaml.YAMLError as exc:
            outcomes.append(Outcome(version, folder, path.name, "(file)", "fail", f"harness: unreadable YAML: {exc}"))
    cases = folder_cases(readable)
    found: dict[int, tuple[str, str]] = {}
    start = 0
    while start < len(cases):
        done, stopped, why = _run_child(readable, version, start, timeout)
        found |= done
        if stopped == -1:
            break
        found[stopped] = ("timeout" if why.startswith("timeout") else "crash", why)
        start = stopped + 1
    for i, (path, position, case) in enumerate(cases):
        note = str(case.get("note", f"#{position}"))
        outcomes.append(Outcome(version, folder, path.name, note, *found.get(i, ("crash", "no result"))))
    return outcomes


def table(outcomes: list[Outcome]) -> list[str]:
    """The per-folder table: passed, failed (crashes and timeouts among them), excluded, pass rate."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for o in outcomes:
        counts[(o.version, o.folder)][o.outcome] += 1
    lines = [f"{'version':7} {'folder':28} {'passed':>6} {'failed':>6} {'crash/hang':>10} {'excl':>5} {'pass rate':>9}"]
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for (version, folder), c in sorted(counts.items()):
        lines.append(_row(version, folder, c))
        totals[version] += c
    for version, c in sorted(totals.items()):
        lines.append(_row(version, "TOTAL", c))
    return lines


def _row(version: str, folder: str, c: Counter[str]) -> str:
    crashed = c["crash"] + c["timeout"]
    failed = c["fail"] + crashed
    run = c["pass"] + failed
    rate = f"{100 * c['pass'] / run:.1f}%" if run else "-"
    return f"{version:7} {folder:28} {c['pass']:6} {failed:6} {crashed:10} {c['excluded']:5} {rate:>9}"


def fetch_list() -> list[str]:
    """The folders to copy from the OPA repository, one path a line."""
    return [f"{OPA_CASES}/{version}/{folder}/" for version in ("v0", "v1") for folder in FOLDERS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="?", type=Path, help="directory with v0/<folder>/*.yaml and v1/<folder>/*.yaml")
    parser.add_argument("--report", type=Path, default=Path("opa_compliance_report.txt"))
    parser.add_argument("--jobs", type=int, default=2, help="case files run at once (default 2)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds a case may take (default 20)")
    parser.add_argument("--folder", action="append", help="only this folder (repeatable)")
    parser.add_argument("--fetch-list", action="store_true", help="print the OPA folders to copy, and exit")
    parser.add_argument("--run-file", type=Path, action="append", help=argparse.SUPPRESS)
    parser.add_argument("--version", default="v1", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fetch_list:
        print("copy from github.com/open-policy-agent/opa into CASES_DIR/<v0|v1>/<folder>/", file=sys.stderr)
        print("\n".join(fetch_list()))
        return 0
    if args.run_file:
        child(args.run_file, args.version, args.start)
        return 0
    if args.cases is None or not args.cases.is_dir():
        print(f"error: {args.cases}: not a directory of OPA case files (see --fetch-list)", file=sys.stderr)
        return 2
    folders = case_folders(args.cases, args.folder)
    if not folders:
        print(f"error: {args.cases}: no v0/<folder>/*.yaml or v1/<folder>/*.yaml files", file=sys.stderr)
        return 2
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda f: run_folder(*f, timeout=args.timeout), folders))
    outcomes = [o for file_outcomes in results for o in file_outcomes]
    lines = table(outcomes)
    print("\n".join(lines))
    files = sum(len(paths) for _, _, paths in folders)
    print(f"{len(outcomes)} cases in {files} files, {time.monotonic() - started:.1f} s", file=sys.stderr)
    report = ["# OPA compliance cases through gatekeeper-py's front-end and rego-cpp", "", *lines, ""]
    failing = [o for o in outcomes if o.outcome in ("fail", "crash", "timeout")]
    report.append(f"## failing cases ({len(failing)})")
    report += [f"{o.version}/{o.folder}/{o.file}: {o.note}: [{o.outcome}] {o.detail}" for o in failing]
    report += ["", "## excluded cases"]
    report += [f"{o.version}/{o.folder}/{o.file}: {o.note}: {o.detail}" for o in outcomes if o.outcome == "excluded"]
    args.report.write_text("\n".join(report) + "\n", encoding="utf-8")
    print(f"report: {args.report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
