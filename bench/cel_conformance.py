"""How much of Kubernetes' CEL library our CEL environment gets right, measured on Kubernetes' own test tables.

The tables are read from a checkout of Kubernetes' Go sources, which is never part of this repository; fetch the
files first, for example from the staging mirrors at the version the README's CEL section names:

    git -C apiserver show v0.36.3:pkg/cel/library/quantity_test.go > /tmp/k8scel/quantity_test.go
    (likewise ip_test.go, cidr_test.go, format_test.go, semver_test.go from k8s.io/apiserver, and
    pkg/apiserver/schema/cel/validation_test.go from k8s.io/apiextensions-apiserver, v0.36.3)

    PYTHONPATH=$PWD python3 bench/cel_conformance.py /tmp/k8scel [-v]

Each case is an expression with its expected value, runtime error or compile error. It is compiled and evaluated
in the environment the CEL driver uses (`kubernetes_environment`, with the driver's rewrites of the expression)
and counted per library as
- pass: the same value, or an error at the same stage (compile or evaluation) whose text matches;
- text: an error at the same stage, worded differently;
- wrong: another value, an error where Kubernetes has a value, a value where it has an error, or an error at the
  other stage;
- unsupported: the expression names a function or overload we do not declare at all.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cel_expr_python import cel

from gatekeeper_py.drivers.cel.driver import _error_text  # the driver's wording of evaluation errors
from gatekeeper_py.drivers.cel.library import cel_go_wording, kubernetes_environment, prepare
from gatekeeper_py.drivers.cel.rewrite import matches_through_cache, presence_as_cel_go

# The library unit-test files (package library_test): one table of cases each.
LIBRARY_FILES = {
    "quantity_test.go": "quantity",
    "ip_test.go": "ip",
    "cidr_test.go": "cidr",
    "format_test.go": "format",
    "semver_test.go": "semver",
}
# Tables of validation_test.go (CRD validation rules, `self` the object) that exercise the libraries.
VALIDATION_TABLES = {
    "stdlib list functions": "lists",
    "stdlib regex functions": "regex",
    "URL parsing": "urls",
    "quantity": "quantity",
    "IP and CIDR": "ip",
    "format": "format",
    "ext lists version 3": "ext lists",
    "optionals": "optionals",
    "unicode strings": "ext strings",
    "string lists": "ext strings",
    "listSets": "ext sets",
}
EXCLUDED = {
    "cost_test.go": "the cost model (estimates and runtime limits) is not part of the environment",
    "library_compatibility_test.go": "lists function names only (the README's CEL section keeps the list)",
    "authz.go functions": "authorizer checks need an authorizer, which Gatekeeper's CEL does not bind",
    "validation_test.go, other tables": "schema typing of CRDs (listSets, listMaps, formats, escaping)",
    "listSets reading self": "a listSet's order-insensitive equality comes from the CRD schema",
}

GO_STRING = r'(?:`[^`]*`|"(?:\\.|[^"\\\n])*")'


def go_string(literal: str) -> str:
    if literal.startswith("`"):
        return literal[1:-1]
    return ast.literal_eval(literal)


def cel_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


@dataclass
class Case:
    library: str
    source: str
    expression: str
    value: str | None = None  # the expected value as a CEL expression
    runtime_error: str | None = None  # a regular expression (library tables) or a substring (validation tables)
    compile_errors: tuple[str, ...] = ()
    exact: str = ""  # how a runtime error is compared: see _matches
    data: Any = None  # `self`, as JSON
    literal: str | None = None  # `self` as a CEL literal, when it holds durations or timestamps


# --- the library test files ---


def _assignments(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\s*(\w+)(?:, _)? := (.+)$", text, re.M)}


def _expected_value(go: str, names: dict[str, str]) -> str | None:
    """The Go expectation as a CEL expression, or None when the bench does not translate it."""
    go = go.strip().rstrip(",")
    go = names.get(go, go)
    simple = {"types.True": "true", "types.False": "false", "types.OptionalNone": "optional.none()"}
    if go in simple:
        return simple[go]
    if m := re.fullmatch(r"types\.Bool\((true|false)\)", go):
        return m.group(1)
    if m := re.fullmatch(r"types\.Int\((-?\d+)\)", go):
        return m.group(1)
    if m := re.fullmatch(r"types\.Double\(([-\d.e+]+)\)", go):
        return f"double({m.group(1)})"
    if m := re.fullmatch(rf"types\.String\(({GO_STRING})\)", go):
        return cel_string(go_string(m.group(1)))
    if m := re.fullmatch(
        r"types\.OptionalOf\(types\.NewStringList\(types\.DefaultTypeAdapter, \[\]string\{(.*)\}\)\)", go
    ):
        items = [cel_string(go_string(s)) for s in re.findall(GO_STRING, m.group(1))]
        return f"optional.of([{', '.join(items)}])"
    constructors = {"IP": "ip", "CIDR": "cidr", "Quantity": "quantity", "Semver": "semver"}
    if m := re.fullmatch(r"apiservercel\.CIDR\{Prefix: netip\.PrefixFrom\((\w+), (\d+)\)\}", go):
        address = re.search(rf"\(({GO_STRING})\)", names.get(m.group(1), ""))
        if address:
            return f"cidr({cel_string(go_string(address.group(1)) + '/' + m.group(2))})"
    if m := re.fullmatch(r"apiservercel\.(IP|CIDR|Quantity|Semver)\{\w+: &?(.+)\}", go):
        inner = names.get(m.group(2), m.group(2))
        if s := re.search(rf"\(({GO_STRING})\)", inner):
            return f"{constructors[m.group(1)]}({cel_string(go_string(s.group(1)))})"
    return None


def library_cases(path: Path, library: str) -> Iterator[Case | str]:
    """Cases of one library test file; a str for a case the bench cannot translate."""
    text = path.read_text()
    names = _assignments(text)
    for block in re.split(r"^\t\t\{\n", text, flags=re.M)[1:]:
        expr = re.search(rf"^\s*expr:\s*({GO_STRING}),", block, re.M)
        if not expr:
            continue
        case = Case(library, path.name, go_string(expr.group(1)), exact="exact" if library in ("ip", "cidr") else "")
        if m := re.search(rf"^\s*expect(?:ed)?RuntimeErr(?:Pattern)?:\s*({GO_STRING}),", block, re.M):
            case.runtime_error = go_string(m.group(1))
        elif m := re.search(r"^\s*expect(?:ed)?CompileErrs?:\s*\[\]string\{(.*)\},", block, re.M):
            case.compile_errors = tuple(go_string(s) for s in re.findall(GO_STRING, m.group(1)))
        elif m := re.search(r"^\s*expect(?:Value|Result):\s*(.+?),?\n(?=\t\t\t\w+:|\t\t\})", block, re.M | re.S):
            value = _expected_value(re.sub(r"\s*\n\s*", "", m.group(1)), names)
            if value is None:
                yield f"{case.expression}: expectation {m.group(1).strip()} not translated"
                continue
            case.value = value
        else:
            continue
        yield case


# --- validation_test.go ---


def _go_literal(text: str) -> Any:
    """A Go composite literal of the validation tables (maps, []interface{}, int64(), float64(), strings)."""
    tokens = re.findall(
        rf"{GO_STRING}|map\[string\]interface\{{\}}\{{|\[\]interface\{{\}}\{{|objs\(|(?:int64|float64)\([^)]*\)"
        r"|-?\d+(?:\.\d+)?|true|false|nil|[{}(),:]",
        text,
    )
    pos = 0

    def value() -> Any:
        nonlocal pos
        token = tokens[pos]
        pos += 1
        if token.startswith("map["):
            out = {}
            while tokens[pos] != "}":
                key = go_string(tokens[pos])
                pos += 2  # key and ':'
                out[key] = value()
                if tokens[pos] == ",":
                    pos += 1
            pos += 1
            return out
        if token.startswith("[]interface") or token == "objs(":
            items = []
            end = "}" if token.startswith("[]") else ")"
            while tokens[pos] != end:
                items.append(value())
                if tokens[pos] == ",":
                    pos += 1
            pos += 1
            return items if end == "}" else {f"val{i + 1}": v for i, v in enumerate(items)}
        if token.startswith("int64("):
            return int(token[6:-1])
        if token.startswith("float64("):
            return float(token[8:-1])
        if token[0] in '`"':
            return go_string(token)
        if token in ("true", "false"):
            return token == "true"
        if token == "nil":
            return None
        return float(token) if "." in token else int(token)

    return value()


def _go_duration(text: str) -> datetime.timedelta:
    units = {"h": 3600, "m": 60, "s": 1}
    return datetime.timedelta(seconds=sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", text)))


def _cel_literal(value: Any) -> str:
    """A CEL literal for the value (cel-expr-python takes no durations or timestamps as input data)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_cel_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_cel_literal(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.timedelta):
        return f'duration("{int(value.total_seconds())}s")'
    if isinstance(value, datetime.datetime):
        return f'timestamp("{value.isoformat()}")'
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


def _typed(data: dict[str, Any], schema: str) -> dict[str, Any]:
    """Values as the CRD schema types them: durations, dates and doubles."""
    for key, kind in re.findall(r'"(\w+)":\s*listType\(&(\w+)\)', schema):
        convert: Callable[[Any], Any] | None = {
            "durationFormat": _go_duration,
            "dateFormat": lambda s: datetime.datetime.fromisoformat(s).replace(tzinfo=datetime.UTC),
            "doubleType": float,
        }.get(kind)
        if convert and key in data:
            data[key] = [convert(v) for v in data[key]]
    return data


def _block(text: str, start: int, opening: str) -> str:
    """The text between the brace after `opening` (found from `start`) and its matching brace."""
    i = text.index(opening, start) + len(opening)
    depth, j = 1, i
    while depth:
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if text[j] in '`"':  # skip string literals
            j = re.compile(GO_STRING).match(text, j).end() - 1  # type: ignore[union-attr]
        j += 1
    return text[i : j - 1]


def _strings(block: str) -> list[str]:
    block = re.sub(r"^\s*//.*$", "", block, flags=re.M)
    out = []
    for m in re.finditer(
        rf"ValsEqualThemselvesAndDataLiteral\(({GO_STRING}), ({GO_STRING}), ({GO_STRING})\)|({GO_STRING})", block
    ):
        if m.group(4):
            out.append(go_string(m.group(4)))
        else:
            a, b, lit = (go_string(m.group(i)) for i in (1, 2, 3))
            out.append(f"{a} == {lit} && {lit} == {a} && {a} == {b}")
    return out


def validation_cases(path: Path) -> Iterator[Case | str]:
    text = path.read_text()
    for table, library in VALIDATION_TABLES.items():
        start = text.index(f'{{name: "{table}",')
        end = text.find("{name: ", start + 10)
        body = text[start:end]
        obj = body[body.index("obj:") + 4 : body.index("schema:")].strip().rstrip(",")
        data = _typed(_go_literal(obj), body[body.index("schema:") : body.index("valid:")])
        literal = _cel_literal(data) if "Format)" in body[body.index("schema:") : body.index("valid:")] else None
        for expression in _strings(_block(body, 0, "valid: []string{")):
            if table == "listSets" and "self" in expression:
                yield f"{expression}: {EXCLUDED['listSets reading self']}"
                continue
            yield Case(library, f"validation_test.go ({table})", expression, value="true", data=data, literal=literal)
        if "errors: map[string]string{" in body:
            errors = _block(body, 0, "errors: map[string]string{")
            errors = re.sub(r"//.*$", "", errors, flags=re.M)
            for m in re.finditer(rf"({GO_STRING}):\s*({GO_STRING})", errors):
                expression, message = go_string(m.group(1)), go_string(m.group(2))
                case = Case(
                    library, f"validation_test.go ({table})", expression, data=data, literal=literal, exact="substring"
                )
                if re.search(r"compil|no matching overload|expected type|invalid matches argument", message):
                    case.compile_errors = (re.escape(_WRAPPERS.sub("", message).split(" evaluating rule: ")[0]),)
                else:
                    case.runtime_error = message
                yield case


# --- running ---

_WRAPPERS = re.compile(
    r"^(?:compile error: |compilation failed: |program instantiation failed: |ERROR: <input>:\d+:\d+: )+"
)


def _matches(expected: str, actual: str, how: str | bool) -> bool:
    """`how`: "substring" (validation tables: the message wrapped in Kubernetes' own words), "exact" (the IP and
    CIDR tables), else a regular expression (the other library tables)."""
    if how == "substring":
        core = _WRAPPERS.sub("", expected).split(" evaluating rule: ")[0]
        return core in actual
    if how == "exact":
        return expected == actual
    return re.search(expected, actual) is not None


def _unsupported(error: str) -> bool:
    return "undeclared reference" in error


class Runner:
    def __init__(self) -> None:
        self.env = kubernetes_environment({"self": cel.Type.DYN})

    def compile(self, expression: str, literal: str | None = None) -> Any:
        if literal is not None:
            expression = f"cel.bind(self, {literal}, {expression})"
        return self.env.compile(prepare(matches_through_cache(presence_as_cel_go(expression))))

    def run(self, case: Case) -> tuple[str, str]:
        """(outcome, detail)."""
        data = {"self": case.data} if case.data is not None and case.literal is None else {}
        try:
            program = self.compile(case.expression, case.literal)
        except Exception as exc:
            error = cel_go_wording(str(exc).splitlines()[0])
            if case.compile_errors:
                ok = any(_matches(e, error, False) for e in case.compile_errors)
                return ("pass" if ok else "text"), error
            return ("unsupported" if _unsupported(error) else "wrong"), f"compile error: {error}"
        if case.compile_errors:
            return "wrong", "compiles; Kubernetes reports a compile error"
        try:
            result = program.eval(data=data)
        except Exception as exc:  # a Python exception out of a library function
            return "wrong", f"raised {type(exc).__name__}: {exc}"
        error = _error(result)
        if error is not None:
            if case.runtime_error is not None:
                return ("pass" if _matches(case.runtime_error, error, case.exact) else "text"), error
            return "wrong", f"error: {error}"
        if case.runtime_error is not None:
            return "wrong", f"no error (value {_show(result)})"
        check = self.compile(f"({case.expression}) == ({case.value})", case.literal).eval(data=data)
        if check.type() == cel.Type.BOOL and check.value() is True:
            return "pass", ""
        return "wrong", f"got {_show(result)}, expected {case.value}"


def _error(result: Any) -> str | None:
    """The error an evaluation ended in, without cel-cpp's status prefix; None for a value. (An optional value
    reports the type ERROR too, but has no Python value.)"""
    if result.type() != cel.Type.ERROR:
        return None
    try:
        return _error_text(result.value())
    except TypeError:
        return None


def _show(value: Any) -> str:
    try:
        return repr(value.value())[:120]
    except Exception:
        return value.type().name()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="where the fetched *_test.go files are")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case that does not pass")
    args = parser.parse_args()
    cases: list[Case] = []
    skipped: list[str] = []
    for name, library in LIBRARY_FILES.items():
        for found in library_cases(args.directory / name, library):
            (skipped.append if isinstance(found, str) else cases.append)(found)  # type: ignore[arg-type]
    for found in validation_cases(args.directory / "validation_test.go"):
        (skipped.append if isinstance(found, str) else cases.append)(found)  # type: ignore[arg-type]
    runner = Runner()
    counts: dict[str, Counter[str]] = {}
    for case in cases:
        outcome, detail = runner.run(case)
        counts.setdefault(case.library, Counter())[outcome] += 1
        if args.verbose and outcome != "pass":
            print(f"{outcome:11} {case.library:11} {case.expression}  -- {detail}", file=sys.stderr)
    columns = ("pass", "text", "wrong", "unsupported")
    print(f"{'library':12} " + " ".join(f"{c:>11}" for c in columns) + f" {'total':>6}")
    total: Counter[str] = Counter()
    for library, counter in counts.items():
        total.update(counter)
        print(f"{library:12} " + " ".join(f"{counter[c]:>11}" for c in columns) + f" {sum(counter.values()):>6}")
    print(f"{'all':12} " + " ".join(f"{total[c]:>11}" for c in columns) + f" {sum(total.values()):>6}")
    print(f"\nexcluded cases ({len(skipped)}):")
    for line in skipped:
        print(f"  {line}")
    print("excluded sources:")
    for what, why in EXCLUDED.items():
        print(f"  {what}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
