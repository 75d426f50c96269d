"""The Kubernetes CEL library functions that policies use, on top of CEL's standard and strings extensions.

Lists (`isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf`), regular expressions (`find`, `findAll`, and
`matches` through the cache of compiled patterns, see `CACHED_MATCHES`),
resource quantities (`quantity`, `isQuantity` and the Quantity methods), URLs (`url`, `isURL` and the URL
getters) and IP addresses and CIDRs (`ip`, `isIP`, `cidr`, `isCIDR` and their methods), with Kubernetes'
semantics. Since the runtime has no user types, a Quantity, URL, IP or CIDR is carried as a one-key map
(`{"__quantity__": "<as written>"}`, `{"__url__": ...}`, `{"__ip__": ...}`, `{"__cidr__": ...}`).
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

import re2
from cel_expr_python import cel

from .leaks import tracked
from .rewrite import CACHED_MATCHES

T = cel.Type
QUANTITY_KEY = "__quantity__"


# --- values carried as one-key maps ---


def _constructor(parse: Any, key: str) -> Any:
    """`quantity(s)`, `url(s)`, `cidr(s)`: check `s`, then carry it as `{key: s}`."""

    def make(text: str) -> dict[str, str]:
        parse(text)
        return {key: text}

    return make


def _is_parsable(parse: Any) -> Any:
    """`isQuantity(s)`, `isURL(s)`, `isIP(s)`, `isCIDR(s)`."""

    def check(text: str) -> bool:
        try:
            parse(text)
        except ValueError:
            return False
        return True

    return check


# --- lists ---


def _comparable(items: list[Any]) -> list[Any]:
    kinds = {bool if isinstance(i, bool) else (int if isinstance(i, int | float) else type(i)) for i in items}
    if len(kinds) > 1:
        raise ValueError("no such overload: list elements are not all of one comparable type")
    return items


def _is_sorted(items: list[Any]) -> bool:
    xs = _comparable(list(items))
    return all(a <= b for a, b in itertools.pairwise(xs))


def _sum(items: list[Any]) -> Any:
    xs = _comparable(list(items))
    return sum(xs) if xs else 0


def _min(items: list[Any]) -> Any:
    xs = _comparable(list(items))
    if not xs:
        raise ValueError("min called on empty list")
    return min(xs)


def _max(items: list[Any]) -> Any:
    xs = _comparable(list(items))
    if not xs:
        raise ValueError("max called on empty list")
    return max(xs)


def _index_of(items: list[Any], value: Any) -> int:
    xs = list(items)
    return next((i for i, x in enumerate(xs) if x == value), -1)


def _last_index_of(items: list[Any], value: Any) -> int:
    xs = list(items)
    return next((i for i in range(len(xs) - 1, -1, -1) if xs[i] == value), -1)


# --- regular expressions: RE2's syntax and semantics, as in cel-go and cel-cpp ---

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 would also print every bad pattern to stderr


@functools.lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    """The compiled pattern, kept: cel-cpp's own `matches` compiles its pattern on every call, which costs some
    50 microseconds for a pattern such as `^[a-z][a-z0-9-]{1,30}$`."""
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if isinstance(exc.args[0], bytes) else str(exc.args[0])
        raise ValueError(f"invalid regular expression: {reason}") from None


def _matches(text: str, pattern: str) -> bool:
    # As UTF-8 bytes (how RE2 reads text anyway): google-re2 then skips mapping offsets back to characters,
    # which is half the time of a call.
    return _regex(pattern).search(text.encode()) is not None


def _find(text: str, pattern: str) -> str:
    found = _regex(pattern).search(text)
    return found.group(0) if found else ""


def _find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    matches = [m.group(0) for m in _regex(pattern).finditer(text)]
    return matches if limit < 0 else matches[:limit]


# --- quantities (k8s.io/apimachinery resource.Quantity) ---

_SUFFIXES = {
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 10**3), "": Fraction(1),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$")


def _parse_quantity(text: str) -> Fraction:
    found = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if not found:
        raise ValueError(f"quantities must match the regular expression '{_QUANTITY.pattern}'")
    number, exponent, suffix = found.groups()
    try:
        value = Fraction(Decimal(number))
    except InvalidOperation:
        raise ValueError(f"invalid quantity {text!r}") from None
    if exponent:
        return value * Fraction(10) ** int(exponent[1:])
    return value * _SUFFIXES[suffix or ""]


def _value(q: Any) -> Fraction:
    if isinstance(q, dict) and QUANTITY_KEY in q:
        return _parse_quantity(q[QUANTITY_KEY])
    if isinstance(q, int) and not isinstance(q, bool):
        return Fraction(q)
    raise ValueError("no such overload: not a Quantity")


def _as_quantity(value: Fraction) -> dict[str, str]:
    text = str(value.numerator) if value.denominator == 1 else format(Decimal(value.numerator) / value.denominator, "f")
    return {QUANTITY_KEY: text}


def _compare(a: Any, b: Any) -> int:
    x, y = _value(a), _value(b)
    return (x > y) - (x < y)


def _as_integer(q: Any) -> int:
    value = _value(q)
    if value.denominator != 1 or not -(2**63) <= value.numerator < 2**63:
        raise ValueError("cannot convert value to integer")
    return value.numerator


def _sign(q: Any) -> int:
    value = _value(q)
    return (value > 0) - (value < 0)


# --- URLs (k8s.io/apiserver/pkg/cel/library/urls.go) ---

URL_KEY = "__url__"


def _parse_url(text: str) -> Any:
    """Go's url.ParseRequestURI as Kubernetes uses it: an absolute URL or an absolute path."""
    if not isinstance(text, str) or not text or any(c.isspace() for c in text):
        raise ValueError(f"URL parse error during conversion from string: parse {text!r}: invalid URI for request")
    parts = urlsplit(text)
    if not parts.scheme and not text.startswith("/"):
        raise ValueError(f"URL parse error during conversion from string: parse {text!r}: invalid URI for request")
    return parts


def _url_parts(u: Any) -> Any:
    if isinstance(u, dict) and URL_KEY in u:
        return urlsplit(u[URL_KEY])
    raise ValueError("no such overload: not a URL")


def _hostname(u: Any) -> str:
    netloc = _url_parts(u).netloc.rpartition("@")[2]
    if netloc.startswith("["):
        return netloc[1 : netloc.index("]")]
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc


def _port(u: Any) -> str:
    netloc = _url_parts(u).netloc.rpartition("@")[2]
    tail = netloc.rsplit("]", 1)[-1]
    return tail.rsplit(":", 1)[1] if ":" in tail else ""


def _query(u: Any) -> dict[str, list[str]]:
    from urllib.parse import parse_qs

    return {k: list(v) for k, v in parse_qs(_url_parts(u).query, keep_blank_values=True).items()}


# --- IP addresses and CIDRs (k8s.io/apiserver/pkg/cel/library/ip.go, cidr.go) ---

IP_KEY, CIDR_KEY = "__ip__", "__cidr__"


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if not isinstance(text, str) or "%" in text:
        raise ValueError(f"IP Address {text!r} parse error during conversion from string")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"IP Address {text!r} parse error during conversion from string") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        raise ValueError(f"IPv4-mapped IPv6 address {text!r} is not allowed")
    return address


def _parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not isinstance(text, str) or "/" not in text:
        raise ValueError(f"network address {text!r} parse error during conversion from string")
    _parse_ip(text.partition("/")[0])
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"network address {text!r} parse error during conversion from string") from None


def _holds(parse: Any, key: str) -> Any:
    def value(x: Any) -> Any:
        if isinstance(x, dict) and key in x:
            return parse(x[key])
        raise ValueError("no such overload")

    return value


_ip_of = _holds(_parse_ip, IP_KEY)
_cidr_of = _holds(_parse_cidr, CIDR_KEY)


def _contains_ip(c: Any, ip: Any) -> bool:
    address = _parse_ip(ip) if isinstance(ip, str) else _ip_of(ip)
    return address in _cidr_of(c)


def _contains_cidr(c: Any, other: Any) -> bool:
    inner = _parse_cidr(other) if isinstance(other, str) else _cidr_of(other)
    outer = _cidr_of(c)
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def _overload(*args: Any, impl: Any, **kwargs: Any) -> cel.Overload:
    """`cel.Overload` with its Python implementation `tracked`: every one must be, or each call leaks (leaks.py)."""
    return cel.Overload(*args, impl=tracked(impl), **kwargs)


def _member(name: str, overload: str, result: cel.Type, params: list[cel.Type], impl: Any) -> cel.FunctionDecl:
    return cel.FunctionDecl(name, [_overload(overload, result, params, is_member=True, impl=impl)])


def kubernetes_library() -> cel.CelExtension:
    """The extension to pass to `cel.NewEnv`."""
    dyn_list = T.List(T.DYN)
    decls = [
        _member("isSorted", "k8s_list_is_sorted", T.BOOL, [dyn_list], _is_sorted),
        _member("sum", "k8s_list_sum", T.DYN, [dyn_list], _sum),
        _member("min", "k8s_list_min", T.DYN, [dyn_list], _min),
        _member("max", "k8s_list_max", T.DYN, [dyn_list], _max),
        _member("indexOf", "k8s_list_index_of", T.INT, [dyn_list, T.DYN], _index_of),
        _member("lastIndexOf", "k8s_list_last_index_of", T.INT, [dyn_list, T.DYN], _last_index_of),
        cel.FunctionDecl(
            CACHED_MATCHES,
            [
                _overload("gk_matches_member", T.BOOL, [T.STRING, T.STRING], is_member=True, impl=_matches),
                _overload("gk_matches", T.BOOL, [T.STRING, T.STRING], impl=_matches),
            ],
        ),
        _member("find", "k8s_string_find", T.STRING, [T.STRING, T.STRING], _find),
        cel.FunctionDecl(
            "findAll",
            [
                _overload(
                    "k8s_string_find_all", T.List(T.STRING), [T.STRING, T.STRING], is_member=True, impl=_find_all
                ),
                _overload(
                    "k8s_string_find_all_n",
                    T.List(T.STRING),
                    [T.STRING, T.STRING, T.INT],
                    is_member=True,
                    impl=_find_all,
                ),
            ],
        ),
        cel.FunctionDecl(
            "quantity",
            [_overload("k8s_quantity", T.DYN, [T.STRING], impl=_constructor(_parse_quantity, QUANTITY_KEY))],
        ),
        cel.FunctionDecl(
            "isQuantity", [_overload("k8s_is_quantity", T.BOOL, [T.STRING], impl=_is_parsable(_parse_quantity))]
        ),
        _member("compareTo", "k8s_quantity_compare_to", T.INT, [T.DYN, T.DYN], _compare),
        _member("isGreaterThan", "k8s_quantity_greater", T.BOOL, [T.DYN, T.DYN], lambda a, b: _compare(a, b) > 0),
        _member("isLessThan", "k8s_quantity_less", T.BOOL, [T.DYN, T.DYN], lambda a, b: _compare(a, b) < 0),
        _member("add", "k8s_quantity_add", T.DYN, [T.DYN, T.DYN], lambda a, b: _as_quantity(_value(a) + _value(b))),
        _member("sub", "k8s_quantity_sub", T.DYN, [T.DYN, T.DYN], lambda a, b: _as_quantity(_value(a) - _value(b))),
        _member("isInteger", "k8s_quantity_is_integer", T.BOOL, [T.DYN], lambda q: _value(q).denominator == 1),
        _member("asInteger", "k8s_quantity_as_integer", T.INT, [T.DYN], _as_integer),
        _member("asApproximateFloat", "k8s_quantity_as_float", T.DOUBLE, [T.DYN], lambda q: float(_value(q))),
        _member("sign", "k8s_quantity_sign", T.INT, [T.DYN], _sign),
        cel.FunctionDecl("url", [_overload("k8s_url", T.DYN, [T.STRING], impl=_constructor(_parse_url, URL_KEY))]),
        cel.FunctionDecl("isURL", [_overload("k8s_is_url", T.BOOL, [T.STRING], impl=_is_parsable(_parse_url))]),
        _member("getScheme", "k8s_url_scheme", T.STRING, [T.DYN], lambda u: _url_parts(u).scheme),
        _member("getHost", "k8s_url_host", T.STRING, [T.DYN], lambda u: _url_parts(u).netloc.rpartition("@")[2]),
        _member("getHostname", "k8s_url_hostname", T.STRING, [T.DYN], _hostname),
        _member("getPort", "k8s_url_port", T.STRING, [T.DYN], _port),
        _member("getEscapedPath", "k8s_url_path", T.STRING, [T.DYN], lambda u: _url_parts(u).path),
        _member("getQuery", "k8s_url_query", T.DYN, [T.DYN], _query),
        cel.FunctionDecl("ip", [_overload("k8s_ip", T.DYN, [T.STRING], impl=lambda t: {IP_KEY: str(_parse_ip(t))})]),
        cel.FunctionDecl("isIP", [_overload("k8s_is_ip", T.BOOL, [T.STRING], impl=_is_parsable(_parse_ip))]),
        cel.FunctionDecl(
            "cidr",
            [_overload("k8s_cidr", T.DYN, [T.STRING], impl=_constructor(_parse_cidr, CIDR_KEY))],
        ),
        cel.FunctionDecl("isCIDR", [_overload("k8s_is_cidr", T.BOOL, [T.STRING], impl=_is_parsable(_parse_cidr))]),
        _member("family", "k8s_ip_family", T.INT, [T.DYN], lambda i: _ip_of(i).version),
        _member("isUnspecified", "k8s_ip_unspecified", T.BOOL, [T.DYN], lambda i: _ip_of(i).is_unspecified),
        _member("isLoopback", "k8s_ip_loopback", T.BOOL, [T.DYN], lambda i: _ip_of(i).is_loopback),
        _member(
            "isLinkLocalMulticast",
            "k8s_ip_ll_multicast",
            T.BOOL,
            [T.DYN],
            lambda i: (
                _ip_of(i).is_multicast
                and _ip_of(i) in ipaddress.ip_network("224.0.0.0/24" if _ip_of(i).version == 4 else "ff02::/16")
            ),
        ),
        _member("isLinkLocalUnicast", "k8s_ip_ll_unicast", T.BOOL, [T.DYN], lambda i: _ip_of(i).is_link_local),
        _member(
            "isGlobalUnicast",
            "k8s_ip_global_unicast",
            T.BOOL,
            [T.DYN],
            lambda i: (
                not (
                    _ip_of(i).is_unspecified
                    or _ip_of(i).is_loopback
                    or _ip_of(i).is_multicast
                    or _ip_of(i).is_link_local
                )
                and str(_ip_of(i)) != "255.255.255.255"
            ),
        ),
        _member("containsIP", "k8s_cidr_contains_ip", T.BOOL, [T.DYN, T.DYN], _contains_ip),
        _member("containsCIDR", "k8s_cidr_contains_cidr", T.BOOL, [T.DYN, T.DYN], _contains_cidr),
        _member("prefixLength", "k8s_cidr_prefix", T.INT, [T.DYN], lambda c: _cidr_of(c).prefixlen),
        _member("masked", "k8s_cidr_masked", T.DYN, [T.DYN], lambda c: {CIDR_KEY: str(_cidr_of(c))}),
    ]
    return cel.CelExtension("kubernetes", decls)
