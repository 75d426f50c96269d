"""Build the `input.review` document Gatekeeper gives a template.

Three shapes come in: a plain object (audit and gator: operation "", userInfo {}, no oldObject), an
AdmissionRequest, or an AdmissionReview of any `admission.k8s.io` version. The document has the field set
of Kubernetes' `admission/v1.AdmissionRequest` as Go serialises it; `namespaceObject` is added per query.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .errors import ReviewError
from .jsonvalue import as_json
from .loader import meta_string, object_id

ORIGINAL, GENERATED = "Original", "Generated"
ADMISSION_GROUP = "admission.k8s.io"

# AdmissionRequest fields in Go's order; the first group is left out when empty (omitempty).
_OMIT_EMPTY = ("subResource", "requestKind", "requestResource", "requestSubResource", "name", "namespace")
_REQUEST_FIELDS = (
    "uid", "kind", "resource", "subResource", "requestKind", "requestResource", "requestSubResource",
    "name", "namespace", "operation", "userInfo", "object", "oldObject", "dryRun", "options",
)  # fmt: skip
_USER_INFO_FIELDS = ("username", "uid", "groups", "extra")


@dataclass(frozen=True)
class Review:
    """One object or request under review."""

    request: dict[str, Any]
    """The AdmissionRequest-shaped document, without namespaceObject."""
    namespace: dict[str, Any] | None = None
    """The Namespace object used for matching and for `namespaceObject` (None: not known)."""
    source: str = ORIGINAL
    """`Original`, or `Generated` for expansion resultants; "" where Gatekeeper sets none."""

    @property
    def object(self) -> dict[str, Any] | None:
        return self.request.get("object")

    @property
    def old_object(self) -> dict[str, Any] | None:
        return self.request.get("oldObject")

    @property
    def operation(self) -> str:
        return self.request.get("operation", "")

    @property
    def namespace_name(self) -> str:
        return self.request.get("namespace", "")

    @property
    def display_name(self) -> str:
        """`Kind/namespace/name` of what is reviewed, for messages."""
        return object_id(self.object or self.old_object) or self.request.get("name", "")

    def document(self, with_namespace: bool = True) -> dict[str, Any]:
        """`input.review`; `namespaceObject` is the Namespace when passed to the engine, else null."""
        doc = dict(self.request)
        doc["namespaceObject"] = self.namespace if with_namespace else None
        return doc


def group_version_kind(obj: dict[str, Any]) -> dict[str, str]:
    """`{group, version, kind}` from an object's apiVersion and kind."""
    api_version = obj.get("apiVersion") if isinstance(obj.get("apiVersion"), str) else ""
    group, _, version = api_version.rpartition("/")
    kind = obj.get("kind")
    return {"group": group, "version": version, "kind": kind if isinstance(kind, str) else ""}


def _set_object_on_delete(request: dict[str, Any]) -> None:
    """On DELETE Gatekeeper reviews a copy of oldObject as `object`."""
    if request.get("operation") == "DELETE":
        if request.get("oldObject") is None:
            raise ReviewError("oldObject cannot be nil for DELETE operations")
        request["object"] = copy.deepcopy(request["oldObject"])


def review_object(
    obj: dict[str, Any],
    *,
    namespace: dict[str, Any] | None = None,
    source: str = ORIGINAL,
    operation: str = "",
) -> Review:
    """The audit/gator review of a plain object; `operation="DELETE"` reviews it as deleted."""
    if not isinstance(obj, dict):
        raise ReviewError("the object under review must be a mapping")
    if not obj.get("kind") or not isinstance(obj.get("kind"), str):
        raise ReviewError("the object under review has no kind", obj=object_id(obj))
    reason, obj = as_json(obj)
    if reason:
        raise ReviewError(f"the object cannot be reviewed: {reason}", obj=object_id(obj))
    request: dict[str, Any] = {
        "uid": "",
        "kind": group_version_kind(obj),
        "resource": {"group": "", "version": "", "resource": ""},
        "name": meta_string(obj, "name"),
        "namespace": meta_string(obj, "namespace"),
        "operation": operation,
        "userInfo": {},
        "object": obj if operation != "DELETE" else None,
        "oldObject": obj if operation == "DELETE" else None,
        "options": None,
    }
    for key in _OMIT_EMPTY:
        if not request.get(key, True):
            del request[key]
    _set_object_on_delete(request)
    return Review(request=request, namespace=namespace, source=source)


def _shared(value: Any) -> Any:
    return value


def review_request(
    request: dict[str, Any],
    *,
    namespace: dict[str, Any] | None = None,
    source: str = ORIGINAL,
    strict: bool = False,
    copy_input: bool = True,
) -> Review:
    """The review of an AdmissionRequest (CREATE, UPDATE, DELETE, CONNECT).

    `strict` rejects unknown fields, as gator verify does; the webhook ignores them (a newer apiserver may
    send fields this code does not know). `copy_input=False` shares the request's values instead of copying
    them, for a caller that is done with the review before the request can change.
    """
    if not isinstance(request, dict):
        raise ReviewError("the AdmissionReview's request must be a mapping")
    unknown = sorted(set(request) - set(_REQUEST_FIELDS))
    if unknown and strict:
        raise ReviewError(f"AdmissionRequest has unknown field(s): {', '.join(unknown)}")
    user_info = request.get("userInfo") or {}
    if not isinstance(user_info, dict) or (strict and set(user_info) - set(_USER_INFO_FIELDS)):
        raise ReviewError(f"AdmissionRequest userInfo must be an object with fields {', '.join(_USER_INFO_FIELDS)}")
    for key in ("kind", "resource", "requestKind", "requestResource"):
        if request.get(key) is not None and not isinstance(request[key], dict):
            raise ReviewError(f"AdmissionRequest {key} must be an object")
    for key in ("uid", "name", "namespace", "operation", "subResource", "requestSubResource"):
        if request.get(key) is not None and not isinstance(request[key], str):
            raise ReviewError(f"AdmissionRequest {key} must be a string")
    reason, request = as_json(request)
    if reason:
        raise ReviewError(f"the AdmissionRequest cannot be reviewed: {reason}")
    for key in ("object", "oldObject"):
        value = request.get(key)
        if value is not None and (not isinstance(value, dict) or not value.get("kind")):
            raise ReviewError(f"AdmissionRequest {key} must be an object with a kind")
    if request.get("object") is None and request.get("oldObject") is None:
        raise ReviewError("AdmissionRequest needs an object or an oldObject")

    clone = copy.deepcopy if copy_input else _shared
    doc: dict[str, Any] = {}
    for key in _REQUEST_FIELDS:
        value = request.get(key)
        if key in _OMIT_EMPTY or key == "dryRun":
            if value not in (None, "", {}):
                doc[key] = clone(value)
        elif key in ("kind", "resource"):
            fields = ("group", "version", "kind" if key == "kind" else "resource")
            doc[key] = {f: (value or {}).get(f, "") for f in fields}
        elif key == "userInfo":
            doc[key] = {f: clone(user_info[f]) for f in _USER_INFO_FIELDS if user_info.get(f)}
        else:
            doc[key] = clone(value) if value is not None else ("" if key in ("uid", "operation") else None)
    _set_object_on_delete(doc)
    return Review(request=doc, namespace=namespace, source=source)


def is_admission_review(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("kind") == "AdmissionReview"
        and str(obj.get("apiVersion", "")).split("/")[0] == ADMISSION_GROUP
    )


def is_admission_request(obj: Any) -> bool:
    """A bare AdmissionRequest: no apiVersion/kind of its own, an operation and an object."""
    return (
        isinstance(obj, dict)
        and "apiVersion" not in obj
        and "operation" in obj
        and ("object" in obj or "oldObject" in obj)
    )


def build_review(
    thing: dict[str, Any],
    *,
    namespace: dict[str, Any] | None = None,
    source: str = ORIGINAL,
    strict: bool = False,
    copy_input: bool = True,
) -> Review:
    """A Review from a plain object, an AdmissionRequest or an AdmissionReview (`strict`, `copy_input`: see
    review_request; a plain object is never copied)."""
    if is_admission_review(thing):
        if "request" not in thing or thing["request"] is None:
            raise ReviewError("AdmissionReview has no request")
        thing = thing["request"]
    elif not is_admission_request(thing):
        return review_object(thing, namespace=namespace, source=source)
    return review_request(thing, namespace=namespace, source=source, strict=strict, copy_input=copy_input)
