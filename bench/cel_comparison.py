"""Compare the Python CEL libraries we could build the K8sNativeValidation (CEL) engine on.

Usage: python bench/cel_comparison.py [--n N] [--repeat R] [--budget SECONDS]

Install the candidates first (each one that is missing is skipped, and the script says so):

    pip install cel-expr-python cel-python common-expression-language

Candidates, each in the configuration a Kubernetes-style driver would use:

- cel-expr-python (module `cel_expr_python`): Google's cel-cpp wrapped for Python; type-checked environment with
  `object`, `oldObject` and `params` declared `dyn`, and the strings extension at version 2 (as Kubernetes sets it).
- cel-python (module `celpy`): pure Python (lark parser, interpreted runner); it has no strings extension.
- common-expression-language (module `cel`, Rust cel-rust bindings): its opt-in pure-Python helpers from
  `cel.stdlib` (`split`, `join`, `lowerAscii`, ...) registered. The top-level module name `cel` clashes with
  `from cel_expr_python import cel`; this script imports both under other names.

Three measurements:

1. Correctness: CEL expressions typical of admission policies over a sample Pod (plain JSON maps, declared `dyn`),
   each with the result the CEL spec gives (as cel-go, the Kubernetes implementation, evaluates it). An expected
   error must be an error, not `false`. Outcomes: correct, wrong (another value, or an error instead of a value or
   the reverse), unsupported (compile error or undeclared function), crash (an exception that is not the library's
   way of reporting a CEL error).
2. Speed: three representative expressions, compiled once and evaluated N times (the object converted on every
   evaluation, as each admission request brings a new one); microseconds per evaluation, best of R batches, as a
   ratio to the fastest library in this run. Compile time per expression likewise. A library too slow for N
   evaluations within the time budget gets fewer; the count is printed.
3. Extension hooks: whether a custom function can be declared from Python (Kubernetes' `isSorted`, `sum`, `min`,
   `max`, list `indexOf`, regex `find`/`findAll`, `quantity`, `url`, `ip`, `cidr` all need one), shown by
   registering a member function `"abc".shout()` -> "ABC" and a list receiver `[1, 2, 3].isSorted()`.

Notes for the driver: cel-expr-python does not raise on an evaluation error; it returns a Value whose type() is
Type.ERROR and whose plain_value() is the message, a str that looks like a string result unless the type is
checked. common-expression-language's compile only parses (no type check), so compile times are not like for like.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

ERROR = object()  # expected result: evaluation must end in a CEL error


class Case(NamedTuple):
    expr: str
    expected: Any


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web-7f9c",
        "namespace": "prod",
        "labels": {"app": "web", "team": "Payments", "tier": "frontend"},
        "annotations": {"owner": "alice@example.com", "note": "  keep me  ", "description": "café"},
    },
    "spec": {
        "hostNetwork": False,
        "priority": 1000,
        "terminationGracePeriodSeconds": 30,
        "nodeSelector": None,
        "initContainers": [{"name": "setup", "image": "busybox:1.36"}],
        "containers": [
            {
                "name": "app",
                "image": "registry.example.com/web/app:1.4.2",
                "ports": [{"containerPort": 8080}, {"containerPort": 8443}],
                "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
            },
            {
                "name": "proxy",
                "image": "docker.io/envoyproxy/envoy:latest",
                "securityContext": {"privileged": True, "runAsUser": 0},
            },
            {
                "name": "log",
                "image": "gcr.io/tools/fluent-bit@sha256:0f3a",
                "securityContext": {"privileged": False},
            },
        ],
    },
}

# Gatekeeper passes the constraint as `params`; its parameters sit under spec.parameters.
PARAMS = {
    "spec": {
        "parameters": {
            "allowedRegistries": ["registry.example.com/", "gcr.io/"],
            "maxCpuMillis": 1000,
            "ratio": 1.5,
        }
    }
}

# A CREATE request: there is no old object.
VARIABLES = {"object": POD, "oldObject": None, "params": PARAMS}

CONTAINERS = "object.spec.containers"
IMAGE0 = "object.spec.containers[0].image"

CASES = [
    # Macros.
    Case(
        f"{CONTAINERS}.all(c, !has(c.securityContext) || !has(c.securityContext.privileged)"
        " || !c.securityContext.privileged)",
        False,
    ),
    Case(f'{CONTAINERS}.exists(c, c.image.startsWith("docker.io/"))', True),
    Case(f"{CONTAINERS}.all(c, params.spec.parameters.allowedRegistries.exists(r, c.image.startsWith(r)))", False),
    Case(f"{CONTAINERS}.exists_one(c, has(c.securityContext) && c.securityContext.privileged)", True),
    Case(f"{CONTAINERS}.filter(c, has(c.securityContext)).map(c, c.name)", ["proxy", "log"]),
    # Errors inside macros: `false` absorbs an error in all(), `true` in exists(); otherwise the error stands.
    Case(f"{CONTAINERS}.all(c, c.securityContext.privileged == false)", False),
    Case(f"{CONTAINERS}.exists(c, c.securityContext.runAsUser == 0)", True),
    Case(f"{CONTAINERS}.exists(c, c.securityContext.runAsUser == 1000)", ERROR),
    # has(): a missing field is false, a missing map on the way is an error.
    Case("has(object.metadata.annotations)", True),
    Case("has(object.spec.securityContext)", False),
    Case("has(object.spec.securityContext.runAsNonRoot)", ERROR),
    # in, indexing, missing keys (an error, never false), short-circuit guards.
    Case('"team" in object.metadata.labels', True),
    Case('object.metadata.namespace in ["kube-system", "prod"]', True),
    Case('object.metadata.labels["team"]', "Payments"),
    Case('object.metadata.labels.owner == "alice"', ERROR),
    Case(f"{CONTAINERS}[3].name", ERROR),
    Case('object.metadata.labels.owner == "alice" || object.metadata.labels.app == "web"', True),
    Case('has(object.metadata.labels.owner) && object.metadata.labels.owner == "alice"', False),
    # Strings (cel-go's strings extension for everything after matches()).
    Case('object.metadata.annotations.owner.endsWith("@example.com")', True),
    Case(f'{IMAGE0}.contains("/web/")', True),
    Case('object.metadata.name.matches("^[a-z]+-[0-9a-f]{4}$")', True),
    Case('object.metadata.name.matches("[0-9]f")', True),  # unanchored: a match anywhere counts
    Case("object.metadata.labels.team.lowerAscii()", "payments"),
    Case("object.metadata.labels.tier.upperAscii()", "FRONTEND"),
    Case(f'{IMAGE0}.split("/")', ["registry.example.com", "web", "app:1.4.2"]),
    Case(f'{CONTAINERS}.map(c, c.name).join(", ")', "app, proxy, log"),
    Case(
        'object.spec.containers[1].image.replace("docker.io/", "mirror.example.com/")',
        "mirror.example.com/envoyproxy/envoy:latest",
    ),
    Case(f'{IMAGE0}.indexOf(":")', 28),
    Case(f'{IMAGE0}.lastIndexOf("/")', 24),
    Case("object.metadata.annotations.note.trim()", "keep me"),
    Case(f'{IMAGE0}.substring(0, {IMAGE0}.indexOf("/"))', "registry.example.com"),
    Case(
        '"%s/%s runs %d containers".format([object.metadata.namespace, object.metadata.name,'
        " size(object.spec.containers)])",
        "prod/web-7f9c runs 3 containers",
    ),
    # %d takes integers only in cel-go's strings extension up to version 3 (Kubernetes uses 2); version 4 prints 1.5.
    Case('"ratio %d".format([params.spec.parameters.ratio])', ERROR),
    # Arithmetic: int division truncates toward zero, % keeps the dividend's sign, int errors on /0 and overflow,
    # double /0.0 is +Inf, int + double has no overload; dyn numbers compare across int and double, values of other
    # types are unequal (not an error, and a bool is not a number).
    Case("[object.spec.priority / 3, -7 / 2, -7 % 3]", [333, -3, -1]),
    Case("params.spec.parameters.ratio * 2.0", 3.0),
    Case("object.spec.priority / 0", ERROR),
    Case("params.spec.parameters.ratio / 0.0 > 1000000.0", True),
    Case("object.spec.priority * 9223372036854775807", ERROR),
    Case("object.spec.terminationGracePeriodSeconds == 30.0", True),
    Case("object.spec.priority < 1000.5", True),
    Case("object.spec.priority + 0.5", ERROR),
    Case('object.spec.priority == "1000"', False),
    Case("object.spec.hostNetwork == 0", False),
    # size() (of a string: in code points) and conversions.
    Case("[size(object.spec.containers), object.metadata.name.size(), size(object.metadata.labels)]", [3, 8, 3]),
    Case("size(object.metadata.annotations.description)", 4),
    Case('string(object.spec.priority) + "m"', "1000m"),
    Case(
        'int(object.spec.containers[0].resources.limits.cpu.replace("m", "")) <= params.spec.parameters.maxCpuMillis',
        True,
    ),
    Case("int(object.spec.containers[0].resources.limits.memory)", ERROR),
    Case("string(params.spec.parameters.ratio)", "1.5"),
    Case("int(params.spec.parameters.ratio * 3.0)", 4),
    Case("string(object.spec.hostNetwork)", "false"),
    # Ternary, null, list concatenation.
    Case('has(object.spec.hostNetwork) && object.spec.hostNetwork ? "host" : "pod"', "pod"),
    Case("oldObject == null", True),
    Case("object.spec.nodeSelector == null && object.metadata.name != null", True),
    Case("(object.spec.initContainers + object.spec.containers).map(c, c.name)", ["setup", "app", "proxy", "log"]),
]


def _speed_pod() -> dict[str, Any]:
    containers = []
    for i in range(10):
        container: dict[str, Any] = {"name": f"c{i}", "image": f"registry.example.com/team/app{i}:1.{i}"}
        if i % 2:
            container["securityContext"] = {"privileged": False, "runAsNonRoot": True}
        elif i % 4 == 0:
            container["securityContext"] = {"runAsNonRoot": True}
        containers.append(container)
    return {"metadata": {"name": "big", "labels": {"app": "web-frontend"}}, "spec": {"containers": containers}}


SPEED_VARIABLES = {"object": _speed_pod(), "oldObject": None, "params": PARAMS}

SPEED_CASES = [
    (
        "privileged all() over 10 containers",
        Case(
            f"{CONTAINERS}.all(c, !has(c.securityContext) || !has(c.securityContext.privileged)"
            " || !c.securityContext.privileged)",
            True,
        ),
    ),
    (
        "registry-prefix exists()",
        Case(
            f"{CONTAINERS}.exists(c, !params.spec.parameters.allowedRegistries.exists(r, c.image.startsWith(r)))",
            False,
        ),
    ),
    (
        "label has() + matches()",
        Case(
            'has(object.metadata.labels.app) && object.metadata.labels.app.matches("^[a-z]([-a-z0-9]*[a-z0-9])?$")',
            True,
        ),
    ),
]


@dataclass
class Outcome:
    kind: str  # "value", "error", "unsupported" or "crash"
    value: Any = None
    detail: str = ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:110]


class Library:
    """One candidate: compile, evaluate (raising on a CEL error), classify outcomes, register custom functions."""

    name = ""
    dist = ""

    def compile(self, expr: str) -> Any:
        raise NotImplementedError

    def evaluate(self, program: Any, variables: dict[str, Any]) -> Any:
        raise NotImplementedError

    def outcome(self, expr: str, variables: dict[str, Any]) -> Outcome:
        raise NotImplementedError

    def custom_functions(self, functions: dict[str, Callable[..., Any]], expr: str) -> Any:
        """Evaluate `expr` with `functions` registered as member functions; raise if impossible."""
        raise NotImplementedError

    @property
    def version(self) -> str:
        try:
            return importlib.metadata.version(self.dist)
        except importlib.metadata.PackageNotFoundError:
            return "?"


class CelExprPython(Library):
    name = "cel-expr-python"
    dist = "cel-expr-python"
    hook_api = "cel.FunctionDecl + cel.Overload(impl=..., is_member=True) passed to NewEnv(functions=...)"

    def __init__(self) -> None:
        from cel_expr_python import cel as cpp_cel
        from cel_expr_python.ext import ext_strings

        self.cel = cpp_cel
        declared = {name: cpp_cel.Type.DYN for name in VARIABLES}
        self.env = cpp_cel.NewEnv(variables=declared, extensions=[ext_strings.ExtStrings(2)])

    def compile(self, expr: str) -> Any:
        return self.env.compile(expr)

    def evaluate(self, program: Any, variables: dict[str, Any]) -> Any:
        value = program.eval(data=variables)
        if value.type() == self.cel.Type.ERROR:  # errors come back as values, not exceptions
            raise RuntimeError(value.value())
        return value.plain_value()

    def outcome(self, expr: str, variables: dict[str, Any]) -> Outcome:
        try:
            program = self.env.compile(expr)
        except RuntimeError as exc:  # parse and type-check errors, undeclared functions among them
            return Outcome("unsupported", detail=_first_line(exc))
        except Exception as exc:
            return Outcome("crash", detail=_first_line(exc))
        try:
            value = program.eval(data=variables)
        except Exception as exc:
            return Outcome("crash", detail=_first_line(exc))
        if value.type() == self.cel.Type.ERROR:
            return Outcome("error", detail=str(value.value())[:110])
        return Outcome("value", value.plain_value())

    def custom_functions(self, functions: dict[str, Callable[..., Any]], expr: str) -> Any:
        cel, types = self.cel, self.cel.Type
        signatures = {"shout": (types.STRING, types.STRING), "isSorted": (types.List(types.DYN), types.BOOL)}
        decls = []
        for name, impl in functions.items():
            receiver, result = signatures[name]
            overload = cel.Overload(f"{name}_overload", result, [receiver], is_member=True, impl=impl)
            decls.append(cel.FunctionDecl(name, [overload]))
        return self.evaluate(cel.NewEnv(functions=decls).compile(expr), {})


class CelPython(Library):
    name = "cel-python"
    dist = "cel-python"
    hook_api = (
        "Environment.program(ast, functions={name: callable}); the receiver is the first argument; results must be"
        " celpy.celtypes values (a plain bool breaks &&)"
    )

    def __init__(self) -> None:
        import celpy
        import celpy.celtypes

        self.celpy = celpy
        self.types = celpy.celtypes
        self.env = celpy.Environment()

    def compile(self, expr: str) -> Any:
        return self.env.program(self.env.compile(expr))

    def _activation(self, variables: dict[str, Any]) -> dict[str, Any]:
        return {name: self.celpy.json_to_cel(value) for name, value in variables.items()}

    def _plain(self, value: Any) -> Any:
        t = self.types
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, t.BoolType):
            return bool(value)
        if isinstance(value, int):  # IntType, UintType
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return str(value)
        if isinstance(value, list):
            return [self._plain(item) for item in value]
        if isinstance(value, dict):
            return {self._plain(k): self._plain(v) for k, v in value.items()}
        return value

    def evaluate(self, program: Any, variables: dict[str, Any]) -> Any:
        result = program.evaluate(self._activation(variables))
        if isinstance(result, self.celpy.CELEvalError):
            raise result
        return self._plain(result)

    def outcome(self, expr: str, variables: dict[str, Any]) -> Outcome:
        celpy = self.celpy
        try:
            program = self.compile(expr)
        except celpy.CELParseError as exc:
            return Outcome("unsupported", detail=_first_line(exc))
        except Exception as exc:
            return Outcome("crash", detail=_first_line(exc))
        try:
            result = program.evaluate(self._activation(variables))
        except celpy.CELEvalError as exc:
            result = exc
        except Exception as exc:
            return Outcome("crash", detail=_first_line(exc))
        if isinstance(result, celpy.CELEvalError):
            message = (str(result.args[0]) if result.args else str(result)).split(" (in activation")[0]
            kind = "unsupported" if "undeclared reference" in message else "error"
            return Outcome(kind, detail=f"CELEvalError: {message}"[:110])
        return Outcome("value", self._plain(result))

    def custom_functions(self, functions: dict[str, Callable[..., Any]], expr: str) -> Any:
        # A plain Python bool or str comes back into the evaluator as is and breaks `&&`; results must be celtypes.
        def wrap(impl: Callable[..., Any]) -> Callable[..., Any]:
            return lambda *args: self.celpy.json_to_cel(impl(*args))

        program = self.env.program(self.env.compile(expr), functions={n: wrap(f) for n, f in functions.items()})
        return self.evaluate(program, {})


class CommonExpressionLanguage(Library):
    name = "common-expression-language"
    dist = "common-expression-language"
    hook_api = "cel.Context(functions={name: callable}) or Context.add_function; the receiver is the first argument"
    # How the Rust bindings report a CEL error; anything else (a Rust panic, PanicException) is a crash.
    cel_errors = (ArithmeticError, LookupError, TypeError, ValueError, RuntimeError)

    def __init__(self) -> None:
        import cel as rust_cel

        if not hasattr(rust_cel, "Context"):
            raise ImportError("the installed top-level module `cel` is not common-expression-language")
        try:
            from cel.stdlib import STDLIB_FUNCTIONS as helpers
        except ImportError:  # older releases have no cel.stdlib
            print(f"{self.name}: no cel.stdlib in this release; running without its helpers")
            helpers = {}

        self.cel = rust_cel
        self.context = rust_cel.Context(functions=helpers)

    def compile(self, expr: str) -> Any:
        return self.cel.compile(expr)

    def evaluate(self, program: Any, variables: dict[str, Any]) -> Any:
        for name, value in variables.items():
            self.context.add_variable(name, value)
        return program.execute(self.context)

    def outcome(self, expr: str, variables: dict[str, Any]) -> Outcome:
        try:
            program = self.cel.compile(expr)
        except ValueError as exc:  # parse errors; there is no type check
            return Outcome("unsupported", detail=_first_line(exc))
        except Exception as exc:
            return Outcome("crash", detail=_first_line(exc))
        try:
            return Outcome("value", self.evaluate(program, variables))
        except (KeyboardInterrupt, SystemExit):
            raise
        except self.cel_errors as exc:
            undeclared = isinstance(exc, RuntimeError) and "Undefined variable or function" in str(exc)
            detail = _first_line(exc).split(". Check that")[0]
            return Outcome("unsupported" if undeclared else "error", detail=detail)
        except BaseException as exc:
            return Outcome("crash", detail=_first_line(exc))

    def custom_functions(self, functions: dict[str, Callable[..., Any]], expr: str) -> Any:
        return self.cel.compile(expr).execute(self.cel.Context(functions=functions))


def load_libraries() -> list[Library]:
    loaded = []
    for cls in (CelExprPython, CelPython, CommonExpressionLanguage):
        try:
            library = cls()
        except ImportError as exc:
            print(f"skipped {cls.name}: not installed ({exc}); pip install {cls.dist}")
            continue
        loaded.append(library)
    return loaded


def same(expected: Any, actual: Any) -> bool:
    """Equal values of the same CEL type (bool is not int, int is not double)."""
    if type(expected) is not type(actual):
        return False
    if isinstance(expected, list):
        return len(expected) == len(actual) and all(map(same, expected, actual))
    if isinstance(expected, dict):
        return expected.keys() == actual.keys() and all(same(expected[k], actual[k]) for k in expected)
    return bool(expected == actual)


def verdict(case: Case, outcome: Outcome) -> str:
    if outcome.kind in ("unsupported", "crash"):
        return outcome.kind
    if case.expected is ERROR:
        return "correct" if outcome.kind == "error" else "wrong"
    return "correct" if outcome.kind == "value" and same(case.expected, outcome.value) else "wrong"


def show(outcome: Outcome) -> str:
    if outcome.kind == "value":
        return repr(outcome.value)
    return f"ERROR {outcome.detail}" if outcome.kind == "error" else outcome.detail


def correctness(libraries: list[Library]) -> None:
    print(f"\n== correctness: {len(CASES)} expressions over a sample Pod, expected results per the CEL spec (cel-go)")
    kinds = ("correct", "wrong", "unsupported", "crash")
    counts = {lib.name: dict.fromkeys(kinds, 0) for lib in libraries}
    differing = []
    for case in CASES:
        row = []
        for lib in libraries:
            outcome = lib.outcome(case.expr, VARIABLES)
            kind = verdict(case, outcome)
            counts[lib.name][kind] += 1
            if kind != "correct":
                row.append((lib.name, kind, outcome))
        if row:
            differing.append((case, row))
    width = max(len(lib.name) for lib in libraries)
    for lib in libraries:
        c = counts[lib.name]
        print(
            f"{lib.name:<{width}} {lib.version:<8} {c['correct']:>2} correct, {c['wrong']:>2} wrong, "
            f"{c['unsupported']:>2} unsupported, {c['crash']:>2} crash (of {len(CASES)})"
        )
    print(f"\nexpressions where a library differs from the spec ({len(differing)}):")
    for case, row in differing:
        expected = "ERROR" if case.expected is ERROR else repr(case.expected)
        print(f"  {case.expr}\n    expected {expected}")
        for name, kind, outcome in row:
            print(f"    {name}: {kind}: {show(outcome)}")


def _timed(call: Callable[[], Any], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        call()
    return time.perf_counter() - start


def per_call(call: Callable[[], Any], n: int, repeat: int, budget: float) -> tuple[float, int]:
    """Best-of-`repeat` seconds per call over (up to) n calls in total, fewer if n would exceed `budget` seconds."""
    call()  # warm up
    probe = max(_timed(call, 3) / 3, 1e-9)
    total = max(repeat, min(n, int(budget / probe)))
    batch = max(1, total // repeat)
    return min(_timed(call, batch) / batch for _ in range(repeat)), batch * repeat


def _ratio_table(title: str, rows: list[tuple[str, dict[str, tuple[float, int]]]], names: list[str]) -> None:
    print(f"\n{title}")
    cell = 30
    print(f"  {'':<36}" + "".join(f"{name:>{cell}}" for name in names))
    for label, results in rows:
        fastest = min(seconds for seconds, _ in results.values())
        cells = []
        for name in names:
            if name not in results:
                cells.append(f"{'-':>{cell}}")
                continue
            seconds, count = results[name]
            cells.append(f"{f'{seconds * 1e6:.1f} us {seconds / fastest:.2f}x (n={count})':>{cell}}")
        print(f"  {label:<36}" + "".join(cells))


def speed(libraries: list[Library], n: int, repeat: int, budget: float) -> None:
    print(f"\n== speed: up to {n} evaluations per library (budget {budget:g} s each), best of {repeat} batches")
    names = [lib.name for lib in libraries]
    eval_rows, compile_rows = [], []
    for label, case in SPEED_CASES:
        evals, compiles = {}, {}
        for lib in libraries:
            try:
                program = lib.compile(case.expr)
                result = lib.evaluate(program, SPEED_VARIABLES)
            except Exception as exc:
                print(f"  {lib.name}: {label}: {_first_line(exc)}")
                continue
            if not same(case.expected, result):
                print(f"  {lib.name}: {label}: result {result!r}, expected {case.expected!r}")
            evals[lib.name] = per_call(lambda lib=lib, p=program: lib.evaluate(p, SPEED_VARIABLES), n, repeat, budget)
            compiles[lib.name] = per_call(lambda lib=lib, e=case.expr: lib.compile(e), n // 20, repeat, budget / 4)
        eval_rows.append((label, evals))
        compile_rows.append((label, compiles))
    _ratio_table("evaluate (us per evaluation, ratio to the fastest):", eval_rows, names)
    _ratio_table("compile (us per compile, ratio to the fastest):", compile_rows, names)
    geo = {}
    for name in names:
        ratios = [r[name][0] / min(s for s, _ in r.values()) for _, r in eval_rows if name in r]
        if ratios:
            geo[name] = math.exp(sum(map(math.log, ratios)) / len(ratios))
    print("  geometric mean of evaluate ratios: " + ", ".join(f"{name} {g:.2f}x" for name, g in geo.items()))


def extension_hooks(libraries: list[Library]) -> None:
    print("\n== extension hooks: custom functions declared from Python")
    demos = [
        ({"shout": lambda s: s.upper()}, '"abc".shout()', "ABC"),
        ({"isSorted": lambda items: list(items) == sorted(items)}, "[1, 2, 3].isSorted() && ![3, 1].isSorted()", True),
    ]
    for lib in libraries:
        results = []
        for functions, expr, expected in demos:
            try:
                got = lib.custom_functions(functions, expr)
                ok = same(expected, got)
                results.append(f"{expr} = {got!r} {'yes' if ok else 'no'}")
            except Exception as exc:
                results.append(f"{expr}: no ({_first_line(exc)})")
        supported = all(r.endswith("yes") for r in results)
        print(f"{lib.name}: {'yes' if supported else 'no'}: " + "; ".join(results))
        print(f"  via {lib.hook_api}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="evaluations per library and expression")
    parser.add_argument("--repeat", type=int, default=5, help="batches; the best one counts")
    parser.add_argument("--budget", type=float, default=5.0, help="seconds at most per library and expression")
    args = parser.parse_args()
    libraries = load_libraries()
    if not libraries:
        print("no CEL library installed: pip install cel-expr-python cel-python common-expression-language")
        return
    correctness(libraries)
    speed(libraries, args.n, args.repeat, args.budget)
    extension_hooks(libraries)


if __name__ == "__main__":
    main()
