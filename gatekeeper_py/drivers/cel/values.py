"""The value types Kubernetes' CEL libraries add (`kubernetes.Quantity`, `net.IP`, `net.CIDR`, `kubernetes.URL`,
`kubernetes.Semver`, `kubernetes.NamedFormat`), as protobuf messages cel-cpp knows by those names.

cel-expr-python has no user-defined opaque values, but it carries protobuf messages, so each type is a small
message whose one field holds the value in a canonical form: `type(ip("1.2.3.4")) == net.IP` holds, the type
checker tells the types apart (`isIP(cidr(...))` is a compile error, as in Kubernetes), and CEL's message
equality is the value equality Kubernetes defines (`quantity("200M") == quantity("0.2G")`, as both carry 1/5 G).
`gatekeeper_internal.Never` is a message no value ever has: the library declares through it the one runtime
implementation behind overloads cel-cpp cannot tell apart at runtime (declare.py).
"""

from __future__ import annotations

import datetime
from typing import Any

from cel_expr_python import cel
from google.protobuf import descriptor_pb2, descriptor_pool, duration_pb2, message_factory, timestamp_pb2

# (package, message, field holding the canonical value)
_MESSAGES = (
    ("kubernetes", "Quantity", "value"),  # the exact value, "numerator/denominator" or "integer"
    ("kubernetes", "URL", "url"),  # the URL as written
    ("kubernetes", "Semver", "version"),  # "major.minor.patch[-prerelease]": build metadata does not compare
    ("kubernetes", "NamedFormat", "name"),
    ("net", "IP", "address"),  # canonical text (RFC 5952 for IPv6)
    ("net", "CIDR", "prefix"),  # canonical address text "/" bits, not masked
    ("gatekeeper_internal", "Never", ""),
)


def _register() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.Default()  # holds google.protobuf.Duration and Timestamp, which the library returns
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    for package, name, field in _MESSAGES:
        proto = files.setdefault(
            package,
            descriptor_pb2.FileDescriptorProto(
                name=f"gatekeeper_py/cel/{package}.proto", package=package, syntax="proto3"
            ),
        )
        message = proto.message_type.add(name=name)
        if field:
            message.field.add(name=field, number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING, label=1)
    for proto in files.values():
        try:
            pool.FindFileByName(proto.name)
        except KeyError:
            pool.Add(proto)
    return pool


POOL = _register()


def _message(full_name: str) -> Any:
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(full_name))


Quantity = _message("kubernetes.Quantity")
URL = _message("kubernetes.URL")
Semver = _message("kubernetes.Semver")
NamedFormat = _message("kubernetes.NamedFormat")
IP = _message("net.IP")
CIDR = _message("net.CIDR")

T = cel.Type
QUANTITY, URL_TYPE, SEMVER, FORMAT = (
    T(n) for n in ("kubernetes.Quantity", "kubernetes.URL", "kubernetes.Semver", "kubernetes.NamedFormat")
)
IP_TYPE, CIDR_TYPE, NEVER = T("net.IP"), T("net.CIDR"), T("gatekeeper_internal.Never")


def to_cel(value: Any) -> Any:
    """A value a function returns, as cel-expr-python takes it from a function declared to return `dyn`: it
    converts durations and timestamps only from their protobuf messages."""
    if isinstance(value, datetime.timedelta):
        duration = duration_pb2.Duration()
        duration.FromTimedelta(value)
        return duration
    if isinstance(value, datetime.datetime):
        timestamp = timestamp_pb2.Timestamp()
        timestamp.FromDatetime(value)
        return timestamp
    return value
