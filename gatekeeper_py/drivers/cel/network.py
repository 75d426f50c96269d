"""Kubernetes' IP and CIDR libraries (k8s.io/apiserver/pkg/cel/library/ip.go, cidr.go), which parse with Go's
netip: what it accepts and how it words its errors are reproduced here (`parse_address`), since the errors reach
policy messages. Zones and IPv4-mapped IPv6 addresses are refused, as Kubernetes refuses them.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from cel_expr_python import cel

from .declare import Function, NoSuchOverload, function
from .values import CIDR, CIDR_TYPE, IP, IP_TYPE

T = cel.Type
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _quote(text: str) -> str:
    """Go's %q of a string (for the texts these errors quote)."""
    return json.dumps(text, ensure_ascii=False)


class _AddrError(ValueError):
    def __init__(self, text: str, msg: str, at: str | None = None) -> None:
        where = f" (at {_quote(at)})" if at is not None else ""
        super().__init__(f"ParseAddr({_quote(text)}): {msg}{where}")


def _ipv4_fields(text: str, part: str) -> list[int]:
    fields: list[int] = []
    value, digits = 0, 0
    for i, c in enumerate(part):
        if c.isascii() and c.isdigit():
            if digits == 1 and value == 0:
                raise _AddrError(text, "IPv4 field has octet with leading zero")
            value, digits = value * 10 + int(c), digits + 1
            if value > 255:
                raise _AddrError(text, "IPv4 field has value >255")
        elif c == ".":
            if i == 0 or i == len(part) - 1 or part[i - 1] == ".":
                raise _AddrError(text, "IPv4 field must have at least one digit", part[i:])
            if len(fields) == 3:
                raise _AddrError(text, "IPv4 address too long")
            fields.append(value)
            value, digits = 0, 0
        else:
            raise _AddrError(text, "unexpected character", part[i:])
    if len(fields) < 3:
        raise _AddrError(text, "IPv4 address too short")
    return [*fields, value]


def _ipv6(text: str) -> tuple[bytes, str]:
    rest, _, zone = text.partition("%")
    if "%" in text and not zone:
        raise _AddrError(text, "zone must be a non-empty string")
    octets = bytearray(16)
    ellipsis, i = -1, 0
    if rest.startswith("::"):
        ellipsis, rest = 0, rest[2:]
        if not rest:
            return bytes(octets), zone
    while i < 16:
        off, acc = 0, 0
        while off < len(rest) and rest[off] in "0123456789abcdefABCDEF":
            acc = acc * 16 + int(rest[off], 16)
            if off > 3:
                raise _AddrError(text, "each group must have 4 or less digits", rest)
            off += 1
        if off == 0:
            raise _AddrError(text, "each colon-separated field must have at least one digit", rest)
        if off < len(rest) and rest[off] == ".":
            if ellipsis < 0 and i != 12:
                raise _AddrError(text, "embedded IPv4 address must replace the final 2 fields of the address", rest)
            if i + 4 > 16:
                raise _AddrError(text, "too many hex fields to fit an embedded IPv4 at the end of the address", rest)
            octets[i : i + 4] = bytes(_ipv4_fields(text, rest))
            rest, i = "", i + 4
            break
        octets[i], octets[i + 1] = acc >> 8, acc & 0xFF
        i += 2
        rest = rest[off:]
        if not rest:
            break
        if rest[0] != ":":
            raise _AddrError(text, "unexpected character, want colon", rest)
        if len(rest) == 1:
            raise _AddrError(text, "colon must be followed by more characters", rest)
        rest = rest[1:]
        if rest[0] == ":":
            if ellipsis >= 0:
                raise _AddrError(text, "multiple :: in address", rest)
            ellipsis, rest = i, rest[1:]
            if not rest:
                break
    if rest:
        raise _AddrError(text, "trailing garbage after address", rest)
    if i < 16:
        if ellipsis < 0:
            raise _AddrError(text, "address string too short")
        n = 16 - i
        octets[ellipsis + n : 16] = octets[ellipsis:i]
        octets[ellipsis : ellipsis + n] = bytes(n)
    elif ellipsis >= 0:
        raise _AddrError(text, "the :: must expand to at least one field of zeros", rest)
    return bytes(octets), zone


def go_parse_addr(text: str) -> tuple[Address, str]:
    """Go's netip.ParseAddr: the address and its zone; ValueError worded as Go words it."""
    for c in text:
        if c == ".":
            return ipaddress.IPv4Address(bytes(_ipv4_fields(text, text))), ""
        if c == ":":
            packed, zone = _ipv6(text)
            return ipaddress.IPv6Address(packed), zone
        if c == "%":
            raise _AddrError(text, "missing IPv6 address")
    raise _AddrError(text, "unable to parse IP")


def parse_address(text: str) -> Address:
    """An IP address as Kubernetes' `ip()` takes it."""
    try:
        address, zone = go_parse_addr(text)
    except ValueError as exc:
        raise ValueError(f"IP Address {_quote(text)} parse error during conversion from string: {exc}") from None
    if zone:
        raise ValueError(f"IP address {_quote(text)} with zone value is not allowed")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise ValueError(f"IPv4-mapped IPv6 address {_quote(text)} is not allowed")
    return address


def parse_prefix(text: str) -> tuple[Address, int]:
    """A CIDR as Kubernetes' `cidr()` takes it (Go's netip.ParsePrefix): the address, not masked, and its bits."""

    def error(msg: str) -> ValueError:
        detail = f"netip.ParsePrefix({_quote(text)}): {msg}"
        prefix = "network address parse error during conversion from string: "
        return ValueError(prefix + prefix + detail)

    head, slash, bits_text = text.rpartition("/")
    if not slash:
        raise error("no '/'")
    try:
        address, zone = go_parse_addr(head)
    except ValueError as exc:
        raise error(str(exc)) from None
    if zone:
        raise error("IPv6 zones cannot be present in a prefix")
    if (
        (len(bits_text) > 1 and not "1" <= bits_text[0] <= "9")
        or not bits_text.isascii()
        or not bits_text.lstrip("+-").isdigit()
    ):
        raise error(f"bad bits after slash: {_quote(bits_text)}")
    bits = int(bits_text)
    if not 0 <= bits <= address.max_prefixlen:
        raise error("prefix length out of range")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise ValueError(
            f"network address parse error during conversion from string: IPv4-mapped IPv6 address {_quote(text)}"
            " is not allowed"
        )
    return address, bits


def _ip(text: str) -> Any:
    if not isinstance(text, str):  # `ip` is also the member function `cidr(...).ip()`
        raise NoSuchOverload
    return IP(address=str(parse_address(text)))


def _cidr(text: str) -> Any:
    address, bits = parse_prefix(text)
    return CIDR(prefix=f"{address}/{bits}")


def _address(ip: Any) -> Address:
    if isinstance(ip, IP):
        return ipaddress.ip_address(ip.address)
    raise NoSuchOverload


def _network(c: Any) -> tuple[Address, int]:
    if isinstance(c, CIDR):
        address, _, bits = c.prefix.rpartition("/")
        return ipaddress.ip_address(address), int(bits)
    raise NoSuchOverload


def _contains_ip(c: Any, other: Any) -> bool:
    address, bits = _network(c)
    try:
        ip = parse_address(other) if isinstance(other, str) else _address(other)
    except ValueError:  # Kubernetes reports a bad address here as a missing overload
        raise NoSuchOverload from None
    return ip.version == address.version and ip in ipaddress.ip_network((address, bits), strict=False)


def _contains_cidr(c: Any, other: Any) -> bool:
    address, bits = _network(c)
    inner, inner_bits = parse_prefix(other) if isinstance(other, str) else _network(other)
    if inner.version != address.version or bits > inner_bits:
        return False
    return inner in ipaddress.ip_network((address, bits), strict=False)


def _masked(c: Any) -> Any:
    address, bits = _network(c)
    return CIDR(prefix=str(ipaddress.ip_network((address, bits), strict=False)))


def _is(parse: Any) -> Any:
    def check(text: str) -> bool:
        try:
            parse(text)
        except ValueError:
            return False
        return True

    return check


def _is_canonical(text: str) -> bool:
    return str(parse_address(text)) == text


def _link_local_multicast(ip: Any) -> bool:
    address = _address(ip)
    if address.version == 4:
        return address in ipaddress.ip_network("224.0.0.0/24")
    return int(address) >> 112 & 0xFF0F == 0xFF02  # ff02::/16 with any flags, as Go's netip reads it


def _link_local_unicast(ip: Any) -> bool:
    address = _address(ip)
    return address in ipaddress.ip_network("169.254.0.0/16" if address.version == 4 else "fe80::/10")


def _global_unicast(ip: Any) -> bool:
    """Go's netip.Addr.IsGlobalUnicast: not unspecified, loopback, multicast, link-local or the broadcast address
    (private addresses count as global unicast)."""
    address = _address(ip)
    special = address.is_unspecified or address.is_loopback or address.is_multicast or _link_local_unicast(ip)
    return not special and str(address) != "255.255.255.255"


def _string(value: Any) -> str:
    if isinstance(value, IP):
        return value.address
    if isinstance(value, CIDR):
        return value.prefix
    raise NoSuchOverload


def functions() -> list[Function]:
    ip, cidr = IP_TYPE, CIDR_TYPE
    return [
        function("ip", _ip, ("string_to_ip", ip, [T.STRING])),
        function("isIP", _is(parse_address), ("is_ip", T.BOOL, [T.STRING])),
        function("ip.isCanonical", _is_canonical, ("ip_is_canonical", T.BOOL, [T.STRING])),
        function("family", lambda x: _address(x).version, ("ip_family", T.INT, [ip]), member=True),
        function(
            "isUnspecified", lambda x: _address(x).is_unspecified, ("ip_is_unspecified", T.BOOL, [ip]), member=True
        ),
        function("isLoopback", lambda x: _address(x).is_loopback, ("ip_is_loopback", T.BOOL, [ip]), member=True),
        function(
            "isLinkLocalMulticast", _link_local_multicast, ("ip_is_link_local_multicast", T.BOOL, [ip]), member=True
        ),
        function("isLinkLocalUnicast", _link_local_unicast, ("ip_is_link_local_unicast", T.BOOL, [ip]), member=True),
        function("isGlobalUnicast", _global_unicast, ("ip_is_global_unicast", T.BOOL, [ip]), member=True),
        # cel-cpp's runtime cannot tell two message types apart and `string` can only be extended with overloads
        # that have their own implementation, so only `string(net.IP)` is declared: `string(cidr(...))` does not
        # compile here (the implementation would take both).
        function("string", _string, ("ip_to_string", T.STRING, [ip])),
        function("cidr", _cidr, ("string_to_cidr", cidr, [T.STRING])),
        function("isCIDR", _is(parse_prefix), ("is_cidr", T.BOOL, [T.STRING])),
        function(
            "containsIP",
            _contains_ip,
            ("cidr_contains_ip_string", T.BOOL, [cidr, T.STRING]),
            ("cidr_contains_ip_ip", T.BOOL, [cidr, ip]),
            member=True,
        ),
        function(
            "containsCIDR",
            _contains_cidr,
            ("cidr_contains_cidr_string", T.BOOL, [cidr, T.STRING]),
            ("cidr_contains_cidr", T.BOOL, [cidr, cidr]),
            member=True,
        ),
        function("ip", lambda c: IP(address=str(_network(c)[0])), ("cidr_ip", ip, [cidr]), member=True),
        function("prefixLength", lambda c: _network(c)[1], ("cidr_prefix_length", T.INT, [cidr]), member=True),
        function("masked", _masked, ("cidr_masked", cidr, [cidr]), member=True),
    ]
