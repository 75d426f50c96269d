"""A fake Kubernetes API server on loopback, serving recorded discovery and list responses (the Pod list in two
pages), and a kubeconfig pointing at it. Faults on demand through `fake_cluster.faults`: a stall (connections
are accepted and never answered) and a status per path (403 for a resource the role may not list...)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from conftest import constraint, pod, template

NAME_REGO = """package names
violation contains {"msg": sprintf("%v %v has no owner label", [input.review.kind.kind, name])} if {
  name := input.review.object.metadata.name
  not input.review.object.metadata.labels.owner
}
"""
PODS_ONLY = {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}


def _api_responses() -> dict[str, Any]:
    """What a small cluster's API server answers: discovery, and lists (the Pod list in two pages)."""
    resource = {"verbs": ["get", "list", "watch"]}
    pods = [pod(f"c{i}", "shop") for i in range(3)]
    for p in pods:
        del p["apiVersion"], p["kind"]  # list items come without them
    tmpl = template("K8sOwner", NAME_REGO)
    cons = constraint("K8sOwner", "owner", match=PODS_ONLY)
    return {
        "/api": {"versions": ["v1"]},
        "/apis": {
            "groups": [
                {"name": "templates.gatekeeper.sh", "preferredVersion": {"version": "v1"}},
                {"name": "constraints.gatekeeper.sh", "preferredVersion": {"version": "v1beta1"}},
                {"name": "apps", "preferredVersion": {"version": "v1"}},
            ]
        },
        "/api/v1": {
            "resources": [
                {"name": "pods", "kind": "Pod", "namespaced": True, **resource},
                {"name": "pods/log", "kind": "Pod", "namespaced": True, "verbs": ["get"]},
                {"name": "namespaces", "kind": "Namespace", "namespaced": False, **resource},
                {"name": "configmaps", "kind": "ConfigMap", "namespaced": True, **resource},
            ]
        },
        "/apis/templates.gatekeeper.sh/v1": {
            "resources": [
                {"name": "constrainttemplates", "kind": "ConstraintTemplate", "namespaced": False, **resource}
            ]
        },
        "/apis/constraints.gatekeeper.sh/v1beta1": {
            "resources": [{"name": "k8sowner", "kind": "K8sOwner", "namespaced": False, **resource}]
        },
        "/apis/apps/v1": {"resources": [{"name": "deployments", "kind": "Deployment", "namespaced": True, **resource}]},
        "/apis/templates.gatekeeper.sh/v1/constrainttemplates": {"items": [tmpl], "metadata": {}},
        "/apis/constraints.gatekeeper.sh/v1beta1/k8sowner": {"items": [cons], "metadata": {}},
        "/api/v1/namespaces": {"items": [{"metadata": {"name": "shop"}}], "metadata": {}},
        "/api/v1/pods": {"items": pods[:2], "metadata": {"continue": "page-2"}},
        "/api/v1/pods?continue=page-2": {"items": pods[2:], "metadata": {}},
        "/api/v1/configmaps": {"items": [{"metadata": {"name": "never-listed", "namespace": "shop"}}], "metadata": {}},
    }


@dataclass
class Faults:
    """What the fake API server does wrong. `stall`: set, every request is held unanswered (until `release` is
    set, at teardown at the latest); `status`: a path (as in `responses`) answered with this HTTP status."""

    stall: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    status: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def fake_cluster(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """(kubeconfig, the paths requested so far); the responses can be changed through `fake_cluster.responses`."""
    responses = _api_responses()
    fake_cluster.responses = responses  # type: ignore[attr-defined]
    faults = Faults()
    fake_cluster.faults = faults  # type: ignore[attr-defined]
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            requests.append(self.path)
            key = url.path + (f"?continue={query['continue'][0]}" if "continue" in query else "")
            if faults.stall.is_set():
                faults.release.wait(120)
                self.close_connection = True
                return
            body = responses.get(key)
            status = faults.status.get(key, 200 if body is not None else 404)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body if status == 200 else {"kind": "Status", "code": status}).encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
                "users": [{"name": "me", "user": {"token": "t"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "me"}}],
                "current-context": "fake",
            }
        )
    )
    yield kubeconfig, requests
    faults.release.set()
    server.shutdown()
