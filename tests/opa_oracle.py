"""OPA itself (its Go engine, through opa_bindings) as the oracle for Rego verdicts: the same template run by our
Client and by OPA on the same input must give the same violations."""

from __future__ import annotations

import json
from typing import Any

from conftest import constraint, template
from opa_bindings.engine import OpaEngine

from gatekeeper_py import Client
from gatekeeper_py.review import build_review

Found = list[tuple[str, Any]]
"""Violations as sorted (msg, details) pairs."""


def opa_evaluate(modules: dict[str, str], path: str, input_doc: Any = None, data: Any = None) -> Any:
    """`data.<path>` of Rego v1 `modules` (name -> source) in OPA; None when undefined."""
    with OpaEngine() as engine:
        for name, source in modules.items():
            engine.add_policy(name, source)
        if data is not None:
            engine.add_data(data)
        rows = engine.eval_query(f"x := data.{path}", input_doc)
    return rows[0]["x"] if rows else None


def _found(violations: Any) -> Found:
    pairs = [(v["msg"], v.get("details", {})) for v in violations or [] if isinstance(v, dict) and "msg" in v]
    return sorted({json.dumps(p, sort_keys=True): p for p in pairs}.values(), key=lambda p: json.dumps(p))


def opa_violations(
    v1_rego: str, obj: dict[str, Any], parameters: dict[str, Any] | None = None, libs: tuple[str, ...] = ()
) -> Found:
    """The violations OPA finds for a v1 template module (package from its first line) reviewing `obj`, with
    the input Gatekeeper gives it (`review` as our Client builds it, `parameters`)."""
    package = v1_rego.split("\n", 1)[0].removeprefix("package").strip()
    document = build_review(obj).document()
    modules = {"template.rego": v1_rego} | {f"lib{i}.rego": lib for i, lib in enumerate(libs)}
    input_doc = {"review": json.loads(json.dumps(document)), "parameters": parameters or {}}
    return _found(opa_evaluate(modules, f"{package}.violation", input_doc))


def our_violations(
    rego: str, obj: dict[str, Any], parameters: dict[str, Any] | None = None, version: str = "v1", **kw: Any
) -> Found:
    """The violations our Client finds for a template (Rego `version`) with one constraint reviewing `obj`."""
    client = Client()
    anything = {"x-kubernetes-preserve-unknown-fields": True}
    schema = {"type": "object", "properties": {k: anything for k in parameters or {}}}
    client.add_template(template("K8sOracle", rego, version=version, schema=schema, **kw))
    client.add_constraint(constraint("K8sOracle", "oracle", parameters=parameters))
    return _found([{"msg": r.msg, "details": r.details} for r in client.review(obj).results])
