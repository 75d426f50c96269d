"""`gatekeeper-py test`: review every object among the inputs, as `gator test` does.

Order as in gator: templates, then constraints, then every object into the inventory, then every
object reviewed. Bad documents are reported one line each and skipped; the rest still runs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from ..client import Client
from ..enforcement import DENY, GATOR
from ..errors import GatekeeperPyError
from ..loader import Document, load_all, meta_string, object_id
from ..results import Result
from ..review import group_version_kind, review_object
from .output import error_line, go_quote, to_json, to_yaml

EXIT_OK, EXIT_VIOLATIONS, EXIT_BAD_INPUT = 0, 1, 2


@dataclass
class TestRun:
    """What a run found: results per reviewed object, and bad input."""

    results: list[tuple[Document, Result]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def fail(self, exc: GatekeeperPyError | str) -> None:
        self.errors.append(str(exc))
        error_line(str(exc))


def warn_duplicates(objects: list[Document]) -> None:
    """gator warns (and goes on) when two inputs are the same group, kind, namespace and name."""
    seen: dict[tuple[str, str, str, str], str] = {}
    for doc in objects:
        group = group_version_kind(doc.obj)["group"]
        key = (group, str(doc.obj.get("kind")), meta_string(doc.obj, "namespace"), meta_string(doc.obj, "name"))
        if key in seen:
            print(f"warning: {doc.source}: duplicate {object_id(doc.obj)}, also in {seen[key]}", file=sys.stderr)
        seen.setdefault(key, doc.source)


def namespace_for(obj: dict[str, Any], namespaces: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """gator's namespace for an object: an empty Namespace for cluster-scoped objects, the Namespace from
    the inputs, a synthetic `default`, or None (then the inventory is asked)."""
    name = meta_string(obj, "namespace")
    if not name:
        return {}
    if name in namespaces:
        return namespaces[name]
    if name == "default":
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
    return None


def run_test(paths: list[str], engine: str = "auto") -> TestRun:
    """Load, add and review everything under `paths`."""
    run = TestRun()
    docs, load_errors = load_all(paths)
    for error in load_errors:
        run.fail(error)
    objects = []
    for doc in docs:
        if isinstance(doc.obj, dict) and doc.obj.get("kind"):
            objects.append(doc)
        else:
            run.fail(f"{doc.source}: not a Kubernetes object (no kind)")
    warn_duplicates(objects)
    client = Client(enforcement_point=GATOR, engine=engine)
    for error in client.add_policies(objects):
        run.fail(error)
    namespaces = {}
    for doc in objects:
        try:
            client.add_data(doc.obj)
        except GatekeeperPyError as exc:
            run.fail(f"{doc.source}: {exc}")
        if group_version_kind(doc.obj)["group"] == "" and doc.obj.get("kind") == "Namespace":
            namespaces[meta_string(doc.obj, "name")] = doc.obj
    for doc in objects:
        try:
            review = review_object(doc.obj, namespace=namespace_for(doc.obj, namespaces))
            responses = client.review(review, namespace_in_input=False)
        except GatekeeperPyError as exc:
            run.fail(f"{doc.source}: {exc}")
            continue
        run.results += [(doc, result) for result in responses]
    # gator sorts the results of all objects together, by action and then message.
    run.results.sort(key=lambda pair: (pair[1].enforcement_action, pair[1].msg))
    return run


def _object_label(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = f"{meta['namespace']}/{meta.get('name', '')}" if meta.get("namespace") else meta.get("name", "")
    return f"{obj.get('apiVersion', '')}/{obj.get('kind', '')} {name}"


def render(results: list[tuple[Document, Result]], output: str) -> str:
    """gator's human lines, or its JSON/YAML result list."""
    if output in ("json", "yaml"):
        rows = [{**r.to_dict(), "violatingObject": doc.obj, "trace": None} for doc, r in results]
        return to_json(rows) + "\n" if output == "json" else to_yaml(rows)
    return "".join(
        f"{_object_label(doc.obj)}: [{go_quote(r.constraint.name)}] Message: {go_quote(r.msg)}\n" for doc, r in results
    )


def exit_code(run: TestRun) -> int:
    if run.errors:
        return EXIT_BAD_INPUT
    if any(DENY in r.actions for _, r in run.results):
        return EXIT_VIOLATIONS
    return EXIT_OK
