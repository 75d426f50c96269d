"""A crash-aware wrapper over regopy (rego-cpp): compile once, evaluate many times.

What it avoids, each measured (../shared/docs/regopy-notes.md and tests/test_engine.py):
- `regopy.Output` parses the output text as JSON in its constructor, and that text is not always JSON;
  results are read here through the node API only.
- Reading results from an error output aborts the process, and an error can come back with `ok()` true;
  the root node's kind is checked first and errors are read from their message nodes.
- rego-cpp keeps strings in their JSON-escaped form: input goes in as JSON text (so input strings and
  the template's string literals share that form), and each string node is JSON-decoded on the way out.
- `with` in templates crashes rego-cpp's compiler (templates using it are refused); the one `with` used
  here, binding a kind's parameters in the driver's hook module (only for a kind with several sets of
  parameters), was tested over every template we run.
- rego-cpp prints compile errors on stdout, which would corrupt machine output: its logging is off.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regopy import Bundle, BundleFormat, Interpreter, LogLevel, RegoError, rego_shared
from regopy.rego_shared import (
    NodeKind,
    rego_bundle_query_entrypoint,
    rego_free_output,
    rego_node_get,
    rego_node_size,
    rego_node_type,
    rego_node_value,
    rego_output_node,
    rego_query,
)

_ERROR_KINDS = (NodeKind.Error, NodeKind.ErrorSeq)
_SCALAR_WRAPPERS = (NodeKind.Term, NodeKind.Scalar)
_ERROR_MESSAGE = re.compile(r"\(errormsg\s+\d+:([^)\n]*)")
_ERROR_AT = re.compile(r"\(error\s+\d+:(?P<file>[^|\s]*)\|(?P<offset>\d+)\|\d+\s+\(errormsg\s+\d+:(?P<msg>[^)\n]*)")


class _NestedError(Exception):
    """An error node found inside a result (e.g. for a non-finite number)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class EngineError(Exception):
    """rego-cpp rejected a module (`line`/`column` are 1-based when known) or failed an evaluation."""

    def __init__(
        self,
        message: str,
        module: str | None = None,
        line: int | None = None,
        column: int | None = None,
        snippet: str | None = None,
    ):
        self.message, self.module, self.line, self.column = message, module, line, column
        self.snippet = snippet  # the source text rego-cpp pointed at, when it gave text rather than a position
        where = f"{module}:{line}:{column}: " if module and line else ""
        super().__init__(where + message)


@dataclass(frozen=True)
class EvalError:
    """An evaluation that produced an error instead of a value."""

    message: str


def to_engine_json(value: Any) -> str:
    """JSON text for rego-cpp: non-ASCII stays as is, so it is stored the way literals are; object keys sorted,
    because rego-cpp iterates an object's keys in the order they came in and OPA in sorted order (`[k | o[k]]`).

    Raises ValueError for NaN and infinities, which JSON (and Gatekeeper's Go encoder) cannot carry.
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, sort_keys=True)


def compile_error(exc: RegoError, sources: dict[str, str]) -> EngineError:
    """The first error of a rego-cpp compile failure, located by module, line and column."""
    text = str(exc)
    found = _ERROR_AT.search(text)
    if not found:
        return EngineError(_first_message(text))
    module, offset = found["file"], int(found["offset"])
    source = sources.get(module, "")
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return EngineError(found["msg"].strip(), module, line, column)


_ERROR_MESSAGE_NODE, _ERROR_AST_NODE = NodeKind.ErrorMessage.value, NodeKind.ErrorAst.value


def build_error(modules: dict[str, str], entrypoints: Sequence[str], data: dict[str, Any] | None) -> EngineError:
    """Why rego-cpp could not build a bundle, located by module, line and column.

    A failed `build` reports nothing; querying each entrypoint on a fresh interpreter with the same modules
    returns rego-cpp's error: its message and the text it points at, which is found in the modules."""
    interpreter = _quiet_interpreter()
    try:
        for name, source in modules.items():
            interpreter.add_module(name, source)
        if data is not None:
            interpreter.add_data_json(to_engine_json(data))
    except RegoError as exc:
        return compile_error(exc, modules)
    for entrypoint in entrypoints:
        out = rego_query(interpreter._impl, "x := data." + entrypoint.replace("/", "."))
        try:
            root = rego_output_node(out)
            if rego_node_type(root) not in _ERROR_KINDS:
                continue
            messages, texts = _error_parts(root)
        finally:
            rego_free_output(out)
        if messages:
            return _located(messages[0], texts[0] if texts else "", modules)
    return EngineError(f"rego-cpp could not build entrypoint {', '.join(entrypoints)} (it gave no reason)")


def _error_parts(node: Any) -> tuple[list[str], list[str]]:
    """The messages of an error node and the source texts it points at, in order."""
    kind = _node_kind(node)
    if kind == _ERROR_MESSAGE_NODE:
        return [rego_node_value(node)], []
    if kind == _ERROR_AST_NODE:
        return [], [rego_node_value(node)]
    messages: list[str] = []
    texts: list[str] = []
    if kind in _ERRORS:
        for i in range(rego_node_size(node)):
            more, where = _error_parts(rego_node_get(node, i))
            messages += more
            texts += where
    return messages, texts


def _located(message: str, text: str, modules: dict[str, str]) -> EngineError:
    """An error at the first place in the modules that holds `text` (rego-cpp gives text, not a position)."""
    snippet = text.strip()
    for name, source in modules.items():
        offset = source.find(snippet) if snippet else -1
        if offset >= 0:
            line = source.count("\n", 0, offset) + 1
            column = offset - (source.rfind("\n", 0, offset) + 1) + 1
            return EngineError(f"{message.strip()} (at `{snippet.splitlines()[0]}`)", name, line, column, snippet)
    return EngineError(message.strip() + (f" (at `{snippet.splitlines()[0]}`)" if snippet else ""), snippet=snippet)


def _quiet_interpreter() -> Interpreter:
    interpreter = Interpreter()
    interpreter.log_level = LogLevel.NONE
    return interpreter


def _first_message(sexpr: str) -> str:
    """The first `errormsg` of a rego-cpp error S-expression, else its first line."""
    found = _ERROR_MESSAGE.search(sexpr)
    if found:
        return found.group(1).strip()
    return sexpr.strip().splitlines()[0] if sexpr.strip() else "unknown rego-cpp error"


class CompiledPolicy:
    """Modules built into one rego-cpp bundle with entrypoints (`pkg/path/rule`), evaluated by a Runner; the
    first entrypoint is the one queried unless another is named."""

    def __init__(self, modules: dict[str, str], entrypoints: str | Sequence[str], data: dict[str, Any] | None = None):
        entrypoints = (entrypoints,) if isinstance(entrypoints, str) else tuple(entrypoints)
        builder = _quiet_interpreter()
        try:
            for name, source in modules.items():
                builder.add_module(name, source)
            if data is not None:
                builder.add_data_json(to_engine_json(data))
            bundle = builder.build(None, list(entrypoints))
        except RegoError as exc:
            raise compile_error(exc, modules) from None
        if not bundle.ok():
            raise build_error(modules, entrypoints, data)
        self._set(bundle, entrypoints[0])

    def _set(self, bundle: Bundle, entrypoint: str) -> None:
        self._bundle, self.entrypoint = bundle, entrypoint
        self._runner = Runner()

    def save(self, path: Path) -> None:
        """Write the bundle to `path` in rego-cpp's binary bundle format (its JSON format aborts the process on
        our templates' bundles)."""
        try:
            _quiet_interpreter().save_bundle(str(path), self._bundle, BundleFormat.Binary)
        except RegoError as exc:
            raise EngineError(f"rego-cpp could not save bundle {path}: {_first_message(str(exc))}") from None

    @classmethod
    def load(cls, path: Path, entrypoint: str) -> CompiledPolicy:
        """A policy from a bundle `save` wrote, `entrypoint` the one queried by default; EngineError when rego-cpp
        cannot read it."""
        try:
            bundle = _quiet_interpreter().load_bundle(str(path), BundleFormat.Binary)
        except RegoError as exc:
            raise EngineError(f"rego-cpp could not load bundle {path}: {_first_message(str(exc))}") from None
        if not bundle.ok():
            raise EngineError(f"rego-cpp could not load bundle {path}")
        policy = cls.__new__(cls)
        policy._set(bundle, entrypoint)
        return policy

    def evaluate(self, input_json: str) -> Any:
        """The entrypoint's value for this input (JSON text); None when undefined; EvalError on error.

        Thread-safe: evaluations of one policy are serialised.
        """
        with self._runner.lock:
            return self._runner.set_input(input_json) or self._runner.query(self)


class Runner:
    """A rego-cpp interpreter holding one input, which queries of any number of policies then read.

    Setting the input (rego-cpp parses it into its own tree) costs more than most queries, so a review sets it
    once for all its templates. Not thread-safe: hold `lock` from setting the input to the last query.
    """

    def __init__(self) -> None:
        self._interpreter = _quiet_interpreter()
        self.lock = threading.Lock()  # setting the input and querying are C calls that release the GIL

    def set_input(self, input_json: str) -> EvalError | None:
        """Set the input (JSON text); an EvalError when rego-cpp rejects it."""
        try:
            self._interpreter.set_input_term(input_json)
        except (RegoError, UnicodeError) as exc:
            return EvalError(f"rego-cpp rejected the input: {_first_message(str(exc))}")
        return None

    def query(self, policy: CompiledPolicy, entrypoint: str | None = None) -> Any:
        """The policy's entrypoint (by default its first) for the current input; None when undefined; EvalError
        on error."""
        try:
            out = rego_bundle_query_entrypoint(
                self._interpreter._impl, policy._bundle._impl, entrypoint or policy.entrypoint
            )
        except (RegoError, UnicodeError) as exc:
            return EvalError(f"rego-cpp rejected the input: {_first_message(str(exc))}")
        try:
            return _read_output(rego_output_node(out))
        except _NestedError as exc:
            return EvalError(exc.message)
        except RecursionError:
            return EvalError("the result is nested too deeply to read")
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            return EvalError(f"the result cannot be read: {exc}")
        finally:
            rego_free_output(out)


def _read_output(root: Any) -> Any:
    kind = rego_node_type(root)
    if kind in _ERROR_KINDS:
        return EvalError("; ".join(_error_messages(root)) or "rego evaluation error")
    if kind != NodeKind.Results or rego_node_size(root) == 0:
        return None
    result = rego_node_get(root, 0)
    terms = rego_node_get(result, 0) if rego_node_size(result) else None
    if terms is None or rego_node_type(terms) != NodeKind.Terms or rego_node_size(terms) == 0:
        return None
    return decode(rego_node_get(terms, 0))


def _error_messages(node: Any) -> list[str]:
    if rego_node_type(node) == NodeKind.ErrorMessage:
        return [rego_node_value(node)]
    messages: list[str] = []
    if rego_node_type(node) in _ERROR_KINDS:
        for i in range(rego_node_size(node)):
            messages += _error_messages(rego_node_get(node, i))
    return messages


def opa_order(value: Any) -> tuple[Any, ...]:
    """A sort key giving OPA's order of values: null, booleans, numbers, strings, arrays, objects."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, list):
        return (4, tuple(opa_order(v) for v in value))
    return (5, tuple((opa_order(k), opa_order(v)) for k, v in sorted(value.items())))


def _decode_string(raw: str) -> str:
    # Literal and input strings are held as their JSON-escaped text; the results of some builtins (concat,
    # upper, lower, replace, regex.replace, format_int, json.marshal, ...) as a whole quoted JSON string,
    # which rego-cpp itself compares without the quotes (`concat("-", ["a", "b"]) == "a-b"`).
    if "\\" not in raw and '"' not in raw:
        return raw  # nothing escaped, not quoted
    quoted = len(raw) >= 2 and raw[0] == raw[-1] == '"'
    try:
        return json.loads(raw if quoted else f'"{raw}"')
    except ValueError:
        return raw


# Node kinds as the C library gives them (regopy's `rego_node_type` makes an enum of each, which costs as much
# as the rest of reading a node).
_node_kind = rego_shared.rego.regoNodeType
_STRING, _INT, _FLOAT, _NULL = NodeKind.String.value, NodeKind.Int.value, NodeKind.Float.value, NodeKind.Null.value
_OBJECT, _SET = NodeKind.Object.value, NodeKind.Set.value
_WRAPPERS = {kind.value for kind in _SCALAR_WRAPPERS}
_SEQUENCES = {NodeKind.Array.value, NodeKind.Terms.value}
_BOOLEANS = {NodeKind.Boolean.value, NodeKind.True_.value, NodeKind.False_.value}
_ERRORS = {kind.value for kind in _ERROR_KINDS}


def decode(node: Any) -> Any:
    """A rego-cpp value node as plain Python: sets become lists, sorted in OPA's order of values."""
    kind = _node_kind(node)
    while kind in _WRAPPERS:
        node = rego_node_get(node, 0)
        kind = _node_kind(node)
    if kind == _STRING:
        return _decode_string(rego_node_value(node))
    if kind == _OBJECT:
        out: dict[str, Any] = {}
        for i in range(rego_node_size(node)):
            item = rego_node_get(node, i)
            key = decode(rego_node_get(item, 0))
            out[key if isinstance(key, str) else json.dumps(key)] = decode(rego_node_get(item, 1))
        return out
    if kind in _SEQUENCES:
        return [decode(rego_node_get(node, i)) for i in range(rego_node_size(node))]
    if kind == _SET:  # rego-cpp keeps insertion order; OPA sorts sets
        return sorted((decode(rego_node_get(node, i)) for i in range(rego_node_size(node))), key=opa_order)
    if kind == _INT:
        return int(rego_node_value(node))
    if kind == _FLOAT:
        # rego-cpp spells a whole number that arithmetic made (`6144 / 1024`) as `6`, a literal as written
        # (`6.0`): OPA gives the first as an integer too (in details: `6`, not `6.0`)
        text = rego_node_value(node)
        return int(text) if text.lstrip("-").isdigit() else float(text)
    if kind in _BOOLEANS:
        return rego_node_value(node).lower() == "true"  # rego-cpp spells some booleans `True`
    if kind == _NULL:
        return None
    if kind in _ERRORS:
        raise _NestedError("; ".join(_error_messages(node)) or "rego evaluation error")
    raise EngineError(f"unexpected rego-cpp node kind {rego_node_type(node)}")
