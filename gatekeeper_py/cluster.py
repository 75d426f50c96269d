"""Read a live cluster for audit, through the official `kubernetes` client: the ConstraintTemplates and
constraints (unless given as files), every object of the kinds the constraints match, the Namespaces (for
namespaceSelector) and the kinds templates declare in `metadata.gatekeeper.sh/requires-sync-data`.

Lists are paged (`limit` and `continue`, as Gatekeeper's audit chunks them); kinds are resolved to resources with
the API's discovery documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import LoadError
from .loader import Document, object_id
from .model import is_constraint, is_template
from .model.template import declared_kind

PAGE_SIZE = 500
SYNC_ANNOTATION = "metadata.gatekeeper.sh/requires-sync-data"
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def path(self) -> str:
        return (
            f"/api/{self.version}/{self.plural}"
            if not self.group
            else f"/apis/{self.group}/{self.version}/{self.plural}"
        )


class Cluster:
    """A connection to one API server."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None) -> None:
        from kubernetes import client, config

        try:
            if kubeconfig or context:
                api = config.new_client_from_config(config_file=kubeconfig, context=context)
            else:
                try:
                    config.load_incluster_config()
                    api = client.ApiClient()
                except config.ConfigException:
                    api = config.new_client_from_config()
        except Exception as exc:  # the client raises several kinds for a missing or broken kubeconfig
            raise LoadError(
                f"cannot load the cluster configuration: {exc}", source=kubeconfig or "kubeconfig"
            ) from None
        self._api = api
        self._resources: list[Resource] | None = None

    def get(self, path: str, query: list[tuple[str, Any]] | None = None) -> Any:
        """GET a path of the API; the decoded JSON body."""
        try:
            method, url, headers, _, _ = self._api.param_serialize(
                "GET", path, query_params=query or [], auth_settings=["BearerToken"]
            )
            response = self._api.call_api(method, url, header_params=headers)
            body = response.read()
        except Exception as exc:  # connection errors from urllib3
            raise LoadError(f"GET {path}: {exc}", source="cluster") from None
        if response.status >= 400:
            raise LoadError(f"GET {path}: {response.status} {response.reason}", source="cluster")
        try:
            return json.loads(body)
        except ValueError:
            raise LoadError(f"GET {path}: the answer is not JSON", source="cluster") from None

    def resources(self) -> list[Resource]:
        """Every listable resource, at each group's preferred version (discovery)."""
        if self._resources is None:
            found = []
            for version in self.get("/api").get("versions", []):
                found += self._group_resources("", version, f"/api/{version}")
            for group in self.get("/apis").get("groups", []):
                preferred = (group.get("preferredVersion") or {}).get("version")
                if preferred:
                    found += self._group_resources(group["name"], preferred, f"/apis/{group['name']}/{preferred}")
            self._resources = found
        return self._resources

    def _group_resources(self, group: str, version: str, path: str) -> list[Resource]:
        return [
            Resource(group, version, r["kind"], r["name"], bool(r.get("namespaced")))
            for r in self.get(path).get("resources", [])
            if "/" not in r["name"] and "list" in r.get("verbs", [])
        ]

    def list_objects(self, resource: Resource) -> Iterator[dict[str, Any]]:
        """Every object of a resource, page by page; each gets its apiVersion and kind back (lists drop them)."""
        token = None
        while True:
            query: list[tuple[str, Any]] = [("limit", PAGE_SIZE)] + ([("continue", token)] if token else [])
            page = self.get(resource.path, query)
            for item in page.get("items") or []:
                yield {"apiVersion": resource.api_version, "kind": resource.kind, **item}
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return


def _wanted_kinds(policies: list[dict[str, Any]]) -> tuple[set[tuple[str, str]], bool]:
    """(group, kind) pairs the constraints match and the templates sync; True when some constraint matches all."""
    wanted: set[tuple[str, str]] = {("", "Namespace")}
    everything = False
    for obj in policies:
        if is_constraint(obj):
            match = (obj.get("spec") or {}).get("match") or {}
            kinds = match.get("kinds")
            if not kinds:
                everything = True
            for entry in kinds or []:
                groups, names = entry.get("apiGroups") or ["*"], entry.get("kinds") or ["*"]
                everything |= "*" in groups or "*" in names
                wanted |= {(g, k) for g in groups for k in names}
        elif is_template(obj):
            raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(SYNC_ANNOTATION)
            try:
                requirements = json.loads(raw) if raw else []
            except ValueError:
                requirements = []
            for requirement in requirements if isinstance(requirements, list) else []:
                for entry in requirement if isinstance(requirement, list) else []:
                    if isinstance(entry, dict):
                        wanted |= {(g, k) for g in entry.get("groups", []) for k in entry.get("kinds", [])}
    return wanted, everything


def policy_documents(cluster: Cluster) -> list[Document]:
    """The cluster's ConstraintTemplates and the constraints of their kinds."""
    resources = cluster.resources()
    policies = []
    for r in resources:
        if r.group == "templates.gatekeeper.sh" and r.kind == "ConstraintTemplate":
            policies += [Document(o, f"cluster:{object_id(o)}") for o in cluster.list_objects(r)]
    kinds = {declared_kind(d.obj) for d in policies}
    for r in resources:
        if r.group == CONSTRAINT_GROUP and r.kind in kinds:
            policies += [Document(o, f"cluster:{object_id(o)}") for o in cluster.list_objects(r)]
    return policies


def cluster_documents(cluster: Cluster, policies: list[Document] | None) -> list[Document]:
    """The policies (from the cluster when None) followed by every object to audit."""
    resources = cluster.resources()
    if policies is None:
        policies = policy_documents(cluster)
    wanted, everything = _wanted_kinds([d.obj for d in policies])
    objects: list[Document] = []
    for r in resources:
        if r.group in ("templates.gatekeeper.sh", CONSTRAINT_GROUP):
            continue
        if everything or (r.group, r.kind) in wanted:
            objects += [Document(o, f"cluster:{object_id(o)}") for o in cluster.list_objects(r)]
    return policies + objects
