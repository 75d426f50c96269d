"""Read a live cluster for audit, through the official `kubernetes` client: the ConstraintTemplates and
constraints (unless given as files), every object of the kinds the constraints match, the Namespaces (for
namespaceSelector) and the kinds templates declare in `metadata.gatekeeper.sh/requires-sync-data`.

Lists are paged (`limit` and `continue`, as Gatekeeper's audit chunks them); kinds are resolved to resources with
the API's discovery documents.

Every call has a connect and a read timeout and is retried a bounded number of times (connection errors,
timeouts, 429 and 5xx answers), so a stalled or flapping API server gives one clear error in bounded time
instead of a hang. An object list the credentials may not read (403) is skipped and reported, as Gatekeeper's
audit skips a kind it cannot list, rather than ending the audit.
"""

from __future__ import annotations

import json
import time
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
CONNECT_TIMEOUT = 5.0  # seconds to open a connection to the API server
READ_TIMEOUT = 15.0  # seconds to wait for each read of an answer (a 500-object page takes well under 1 s)
ATTEMPTS = 3  # tries per call; a failed try waits RETRY_BACKOFF * 2**n before the next
RETRY_BACKOFF = 0.5
SKIPPABLE = (403, 404)  # a list the role may not read, or a kind removed since discovery
REDISCOVER_AFTER = 60.0  # seconds: a template's new constraint kind is looked up again at most this often


class ClusterError(LoadError):
    """A call to the API server failed; `status` is its HTTP status, 0 when it never answered."""

    def __init__(self, reason: str, status: int = 0) -> None:
        super().__init__(reason, source="cluster")
        self.status = status


@dataclass(frozen=True)
class Skipped:
    """A resource whose objects could not be listed, and why."""

    resource: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"resource": self.resource, "reason": self.reason}


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

    def __init__(
        self,
        kubeconfig: str | None = None,
        context: str | None = None,
        *,
        read_timeout: float = READ_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        attempts: int = ATTEMPTS,
    ) -> None:
        from kubernetes import client, config

        settings = client.Configuration()
        settings.retries = 0  # retries are ours (get), bounded and with back-off; urllib3 would add its own
        try:
            if kubeconfig or context:
                api = config.new_client_from_config(
                    config_file=kubeconfig, context=context, client_configuration=settings
                )
            else:
                try:
                    config.load_incluster_config(client_configuration=settings)
                    api = client.ApiClient(settings)
                except config.ConfigException:
                    api = config.new_client_from_config(client_configuration=settings)
        except Exception as exc:  # the client raises several kinds for a missing or broken kubeconfig
            raise LoadError(
                f"cannot load the cluster configuration: {exc}", source=kubeconfig or "kubeconfig"
            ) from None
        self._api = api
        self._timeout = (connect_timeout, read_timeout)
        self._attempts = max(1, attempts)
        self._resources: list[Resource] | None = None
        self._discovered = 0.0  # time.monotonic() of the discovery in _resources
        self.skipped: list[Skipped] = []  # what could not be read, for the report

    def get(self, path: str, query: list[tuple[str, Any]] | None = None) -> Any:
        """GET a path of the API; the decoded JSON body. Raises ClusterError after at most `attempts` tries."""
        for attempt in range(self._attempts):
            try:
                return self._get_once(path, query)
            except ClusterError as exc:
                if not _transient(exc.status) or attempt + 1 == self._attempts:
                    if attempt:
                        raise ClusterError(f"{exc.reason} (after {attempt + 1} tries)", exc.status) from None
                    raise
            time.sleep(RETRY_BACKOFF * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_once(self, path: str, query: list[tuple[str, Any]] | None) -> Any:
        try:
            method, url, headers, _, _ = self._api.param_serialize(
                "GET", path, query_params=query or [], auth_settings=["BearerToken"]
            )
            response = self._api.call_api(method, url, header_params=headers, _request_timeout=self._timeout)
            body = response.read()
        except Exception as exc:  # connection errors and timeouts from urllib3, under several names
            raise ClusterError(f"GET {path}: {_connection_reason(exc)}") from None
        if response.status >= 400:
            raise ClusterError(f"GET {path}: {response.status} {response.reason}", response.status)
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise ClusterError(f"GET {path}: the answer is not JSON", response.status) from None

    def resources(self) -> list[Resource]:
        """Every listable resource, at each group's preferred version (discovery). A group whose discovery
        document fails with an HTTP error (an aggregated API that is down answers 503) is left out and noted in
        `skipped`, as kubectl does; no answer at all is an error."""
        if self._resources is None:
            self.skipped = [s for s in self.skipped if not s.resource.endswith("(discovery)")]
            found = []
            for version in _strings(_field(self.get("/api"), "versions")):
                found += self._group_resources("", version, f"/api/{version}")
            for group in _field(self.get("/apis"), "groups") or []:
                if not isinstance(group, dict) or not isinstance(group.get("name"), str):
                    continue
                preferred = _field(group.get("preferredVersion"), "version")
                if not isinstance(preferred, str) or not preferred:
                    continue
                try:
                    found += self._group_resources(group["name"], preferred, f"/apis/{group['name']}/{preferred}")
                except ClusterError as exc:
                    if exc.status == 0:
                        raise
                    self.skipped.append(Skipped(f"{group['name']}/{preferred} (discovery)", exc.reason))
            self._resources, self._discovered = found, time.monotonic()
        return self._resources

    def rediscover(self) -> bool:
        """Forget the discovered resources (new CRDs appear when templates are added) unless they are younger
        than REDISCOVER_AFTER; whether they were forgotten."""
        if self._resources is not None and time.monotonic() - self._discovered < REDISCOVER_AFTER:
            return False
        self._resources = None
        return True

    def _group_resources(self, group: str, version: str, path: str) -> list[Resource]:
        found = []
        for r in _field(self.get(path), "resources") or []:
            if not isinstance(r, dict) or not isinstance(r.get("name"), str) or not isinstance(r.get("kind"), str):
                continue
            if "/" not in r["name"] and "list" in _strings(r.get("verbs")):
                found.append(Resource(group, version, r["kind"], r["name"], bool(r.get("namespaced"))))
        return found

    def list_objects(self, resource: Resource) -> Iterator[dict[str, Any]]:
        """Every object of a resource, page by page; each gets its apiVersion and kind back (lists drop them)."""
        token, seen = None, set()
        while True:
            query: list[tuple[str, Any]] = [("limit", PAGE_SIZE)] + ([("continue", token)] if token else [])
            page = self.get(resource.path, query)
            if not isinstance(page, dict):
                raise ClusterError(f"GET {resource.path}: the answer is not a list")
            for item in page.get("items") or []:
                if isinstance(item, dict):
                    yield {"apiVersion": resource.api_version, "kind": resource.kind, **item}
            token = _field(page.get("metadata"), "continue")
            if not token:
                return
            if token in seen:  # a server handing out the same page again would keep us here for ever
                raise ClusterError(f"GET {resource.path}: the continue token {token!r} came back twice")
            seen.add(token)


def _field(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _transient(status: int) -> bool:
    """Worth another try: no answer at all, too many requests, or a server-side error."""
    return status == 0 or status == 429 or status >= 500


def _connection_reason(exc: Exception) -> str:
    """urllib3 wraps the cause (MaxRetryError -> ReadTimeoutError...); name the innermost one briefly."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, Exception):
        exc = reason
    text = str(exc)
    if "timed out" in text.lower():
        return f"no answer in time ({text})"
    return text or type(exc).__name__


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _wanted_kinds(policies: list[dict[str, Any]]) -> tuple[set[tuple[str, str]], bool]:
    """(group, kind) pairs the constraints match and the templates sync; True when some constraint matches all.
    Malformed match fields are passed over here: loading the constraint reports them."""
    wanted: set[tuple[str, str]] = {("", "Namespace")}
    everything = False
    for obj in policies:
        if is_constraint(obj):
            spec = obj.get("spec")
            match = spec.get("match") if isinstance(spec, dict) else None
            kinds = match.get("kinds") if isinstance(match, dict) else None
            if not kinds:
                everything = True
            for entry in kinds if isinstance(kinds, list) else []:
                if not isinstance(entry, dict):
                    continue
                groups, names = _strings(entry.get("apiGroups")) or ["*"], _strings(entry.get("kinds")) or ["*"]
                everything |= "*" in groups or "*" in names
                wanted |= {(g, k) for g in groups for k in names}
        elif is_template(obj):
            metadata = obj.get("metadata")
            annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
            raw = annotations.get(SYNC_ANNOTATION) if isinstance(annotations, dict) else None
            try:
                requirements = json.loads(raw) if isinstance(raw, str) and raw else []
            except (ValueError, RecursionError):
                requirements = []
            for requirement in requirements if isinstance(requirements, list) else []:
                for entry in requirement if isinstance(requirement, list) else []:
                    if isinstance(entry, dict):
                        wanted |= {(g, k) for g in _strings(entry.get("groups")) for k in _strings(entry.get("kinds"))}
    return wanted, everything


def policy_documents(cluster: Cluster) -> list[Document]:
    """The cluster's ConstraintTemplates and the constraints of their kinds."""
    resources = cluster.resources()
    policies = []
    for r in resources:
        if r.group == "templates.gatekeeper.sh" and r.kind == "ConstraintTemplate":
            policies += [Document(o, f"cluster:{object_id(o)}") for o in cluster.list_objects(r)]
    kinds = {declared_kind(d.obj) for d in policies}
    known = {r.kind for r in resources if r.group == CONSTRAINT_GROUP}
    if kinds - known - {None} and cluster.rediscover():  # a template whose constraint CRD is newer than discovery
        resources = cluster.resources()
    for r in resources:
        if r.group == CONSTRAINT_GROUP and r.kind in kinds:
            policies += [Document(o, f"cluster:{object_id(o)}") for o in cluster.list_objects(r)]
    return policies


def cluster_documents(cluster: Cluster, policies: list[Document] | None) -> list[Document]:
    """The policies (from the cluster when None) followed by every object to audit. A resource whose objects
    may not be listed (403) or are gone (404) is skipped and noted in `cluster.skipped`, as Gatekeeper's audit
    skips a kind it cannot list."""
    resources = cluster.resources()
    if policies is None:
        policies = policy_documents(cluster)
    wanted, everything = _wanted_kinds([d.obj for d in policies if isinstance(d.obj, dict)])
    objects: list[Document] = []
    for r in resources:
        if r.group in ("templates.gatekeeper.sh", CONSTRAINT_GROUP):
            continue
        if everything or (r.group, r.kind) in wanted:
            try:
                listed = [Document(o, f"cluster:{object_id(o)}") for o in cluster.list_objects(r)]
            except ClusterError as exc:
                if exc.status not in SKIPPABLE:
                    raise
                cluster.skipped.append(Skipped(f"{r.api_version} {r.kind} ({r.plural})", exc.reason))
                continue
            objects += listed
    return policies + objects
