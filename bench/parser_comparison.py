"""Compare a lark LALR(1) Rego grammar with our hand-written recursive-descent parser: speed and error messages.

Usage: python bench/parser_comparison.py [LIBRARY_DIR]   (needs the `bench` extra: lark)

LIBRARY_DIR (default /tmp/gklib/library) is a checkout of the Gatekeeper template library; every Rego module of
its `*/template.yaml` ConstraintTemplates is parsed by both parsers. Without it, a few embedded samples are used.
The lark side only builds a parse tree; ours builds the full AST (`syntax.Module`), so it does strictly more work.

The lark grammar (LALR(1), contextual lexer) covers the Rego v0 subset the library uses: package, import (`as`),
rules with `p`, `p[x]` and `f(args)` heads, `=`/`:=` values, `default`, several bodies (`p { } { }`), `else`
(with or without a body), bodies of `;`/newline-separated literals (`some x`, `not`, `with ... as ...`, `:=`/`=`,
comparisons, `+ - * / %`, `&`), refs with `.` and `[ ]`, calls (also `f(x)[i]`), arrays, objects and sets
(trailing commas allowed), the three comprehensions, strings (incl. raw backtick strings), numbers (a leading `-`
too) and comments. Not covered: v1/future keywords (`if`, `contains`, `in`, `every`), set union `|`, ref heads
(`a.b.c := 1`), template strings. Comprehension heads may be any expression (OPA wants one term). Newlines are
ignored by the lexer, which keeps the grammar LALR; the one conflict left (a literal ending before a `-`) is
resolved as shift, as OPA does (an infix operator continues an expression across a newline). A `[`/`(` touching
the term before it is a ref/call (regex lookbehind); a detached one starts a new term, as in OPA.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml
from lark import Lark, UnexpectedInput

from gatekeeper_py.drivers.rego.parser import RegoSyntaxError, parse_module

GRAMMAR = r"""
module: package import_* rule*
package: "package" path
import_: "import" path ("as" NAME)?
path: NAME ("." NAME | REFBRACK STRING "]")*

?rule: "default" NAME ASSIGN term                      -> default_rule
     | head (body+ else_*)?                            -> rule
head: NAME (REFBRACK expr "]")? (CALLPAR [exprs] ")")? (ASSIGN expr)?
else_: "else" (ASSIGN expr)? body?
body: "{" literal (";"? literal)* "}"

?literal: "some" NAME ("," NAME)*                      -> some_decl
        | "not" expr with_*                            -> not_expr
        | expr (ASSIGN expr)? with_*                   -> expr_literal
with_: "with" term "as" term

?expr: sum (CMP sum)?
?sum: product ((ADD | MINUS) product)*
?product: inter (MUL inter)*
?inter: unary ("&" unary)*
?unary: term | MINUS NUMBER -> negative
?term: scalar | composite | "(" expr ")" -> paren | ref
ref: NAME (postfix)*
   | composite_ref
composite_ref: composite postfix+
postfix: "." NAME | REFBRACK expr "]" | CALLPAR [exprs] ")"
?composite: array | object | set | array_compr | set_compr | object_compr
array: "[" [exprs] "]"
set: "{" exprs "}"
object: "{" [pair ("," pair)* ","?] "}"
pair: expr ":" expr
array_compr: "[" expr "|" literals "]"
set_compr: "{" expr "|" literals "}"
object_compr: "{" pair "|" literals "}"
literals: literal (";"? literal)*
exprs: expr ("," expr)* ","?
!scalar: STRING | RAW_STRING | NUMBER | "true" | "false" | "null"

ASSIGN: ":=" | "="
CMP: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADD: "+"
MINUS: "-"
MUL: "*" | "/" | "%"
REFBRACK.2: /(?<=[\w\])"])\[/
CALLPAR.2: /(?<=\w)\(/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /\d+(\.\d+)?([eE][+-]?\d+)?/
STRING: /"(\\.|[^"\\\n])*"/
RAW_STRING: /`[^`]*`/
COMMENT: /#[^\n]*/
%ignore /\s+/
%ignore COMMENT
"""

SAMPLES: dict[str, str] = {
    "sample_repos.rego": """package k8sallowedrepos

violation[{"msg": msg}] {
  container := input.review.object.spec.containers[_]
  satisfied := [good | repo = input.parameters.repos[_]; good = startswith(container.image, repo)]
  not any(satisfied)
  msg := sprintf("container <%v> has an invalid image repo <%v>", [container.name, container.image])
}
""",
    "sample_limits.rego": """package k8scontainerlimits
import data.lib.exempt_container.is_exempt

default ratio = 1
missing(obj, field) = true { not obj[field] }
missing(obj, field) = true { obj[field] == "" }

canonify_cpu(orig) = new {
  is_number(orig)
  new := orig * 1000
} else = new {
  endswith(orig, "m")
  new := to_number(replace(orig, "m", ""))
} else := -1

labels := {[k, v] | some k; v := input.review.object.metadata.labels[k]}
keys := {k: true | input.parameters.labels[k]} # an object comprehension
common := {x | x := labels[_][0]} & {"a", "b", `raw\\string`}
kind(obj) = "pod" { obj.kind == "Pod" } { obj.kind == "ReplicaSet" }
msg := sprintf("%v: %v", [kind(input.review.object), count(keys)],)
too_big { object.get(input.parameters, "max", [0, 1.5e3])[_] >= (2 + 3) % 4 / 5 - 6 }
""",
}

BROKEN: dict[str, str] = {
    "missing }": "package p\n\nallow {\n  x := 1\n  x == 1\n\ndeny { true }\n",
    ":= with nothing after": "package p\n\nallow {\n  x :=\n}\n",
    "unclosed string": 'package p\n\nallow {\n  msg := "hello\n}\n',
    "stray ]": "package p\n\nallow {\n  x := input.a]\n}\n",
    "bad token @": "package p\n\nallow {\n  x := @input.a\n}\n",
}

DEFAULT_LIBRARY = Path("/tmp/gklib/library")
RUNS = 5
Parse = Callable[[str, str], object]


def build_lark() -> Lark:
    return Lark(GRAMMAR, start="module", parser="lalr", lexer="contextual")


def load_library(root: Path) -> list[tuple[str, str]]:
    """Every Rego module of the library's ConstraintTemplates, as (name, source)."""
    modules: list[tuple[str, str]] = []
    for path in sorted(root.glob("**/template.yaml")):
        target = (yaml.safe_load(path.read_text()) or {}).get("spec", {}).get("targets", [{}])[0]
        sources: list[str | None] = [target.get("rego"), *(target.get("libs") or [])]
        for code in target.get("code") or []:
            if code.get("engine") == "Rego":
                source = code.get("source") or {}
                sources += [source.get("rego"), *(source.get("libs") or [])]
        name = str(path.relative_to(root).parent)
        modules += [(f"{name}#{i}", src) for i, src in enumerate(s for s in sources if s)]
    return modules


def attempt(parse: Parse, modules: Iterable[tuple[str, str]]) -> dict[str, str | None]:
    """name -> None if it parsed, else the first line of the error."""
    result: dict[str, str | None] = {}
    for name, source in modules:
        try:
            parse(source, name)
            result[name] = None
        except (RegoSyntaxError, UnexpectedInput) as exc:
            result[name] = str(exc).splitlines()[0]
    return result


def best_time(parse: Parse, modules: list[tuple[str, str]]) -> float:
    """Best of RUNS wall-clock times (seconds) to parse all `modules`, which must all parse."""
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        for name, source in modules:
            parse(source, name)
        best = min(best, time.perf_counter() - start)
    return best


def lark_error(lark: Lark, source: str) -> str:
    try:
        lark.parse(source)
    except UnexpectedInput as exc:
        text = " ".join(str(exc).split())
        return f"line {exc.line}, col {exc.column}: {type(exc).__name__}: {text}"
    return "(no error: parsed)"


def ours_error(source: str, filename: str) -> str:
    try:
        parse_module(source, version="v0", filename=filename)
    except RegoSyntaxError as exc:
        return str(exc)
    return "(no error: parsed)"


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else DEFAULT_LIBRARY
    if root.is_dir():
        modules = load_library(root)
        origin = f"{root} ({len(list(root.glob('**/template.yaml')))} templates)"
    else:
        modules = list(SAMPLES.items())
        origin = f"embedded samples ({root} not found)"
    start = time.perf_counter()
    lark = build_lark()
    build_ms = (time.perf_counter() - start) * 1e3

    def parse_lark(source: str, _name: str) -> object:
        return lark.parse(source)

    def parse_ours(source: str, name: str) -> object:
        return parse_module(source, version="v0", filename=name)

    parsers: dict[str, Parse] = {"hand-written (AST)": parse_ours, "lark LALR (tree)": parse_lark}
    outcomes = {label: attempt(parse, modules) for label, parse in parsers.items()}
    common = [(n, s) for n, s in modules if all(o[n] is None for o in outcomes.values())]
    times = {label: best_time(parse, common) for label, parse in parsers.items()}
    size = sum(len(s) for _, s in common)

    print(f"Rego modules: {len(modules)} from {origin}; lark grammar built in {build_ms:.1f} ms (not timed below)")
    print(f"Timed set: the {len(common)} modules both parse ({size} chars), best of {RUNS} runs, time.perf_counter\n")
    print(f"{'parser':<20} {'parsed':>9} {'total ms':>10} {'us/module':>10} {'ratio':>7}")
    base = times["hand-written (AST)"]
    for label in parsers:
        parsed = sum(v is None for v in outcomes[label].values())
        t = times[label]
        per = t / max(len(common), 1) * 1e6
        print(f"{label:<20} {parsed:>4}/{len(modules):<4} {t * 1e3:>10.2f} {per:>10.1f} {t / base:>6.2f}x")
    for label, outcome in outcomes.items():
        for name, error in outcome.items():
            if error is not None:
                print(f"  {label} fails on {name}: {error}")

    print("\nError messages on broken sources (ours: str(RegoSyntaxError); lark: exception text, whitespace joined)")
    for title, source in BROKEN.items():
        print(f"\n== {title}: {source!r}")
        print(f"  hand-written: {ours_error(source, 'broken.rego')}")
        print(f"  lark:         {lark_error(lark, source)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
