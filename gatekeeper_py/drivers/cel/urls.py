"""Kubernetes' URL library (k8s.io/apiserver/pkg/cel/library/urls.go), which parses with Go's
`url.ParseRequestURI`: an absolute URL or an absolute path, spaces allowed in the path and query (the escaped
path escapes them), a port of digits only. Its acceptance rules and error texts are reproduced in `parse`.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cel_expr_python import cel

from .declare import Function, NoSuchOverload, function
from .values import URL, URL_TYPE

T = cel.Type
_UNRESERVED = "-_.~"
_USERINFO = re.compile(r"[A-Za-z0-9\-._:~!$&'()*+,;=%@]*")
_HOST_SPECIAL = set("!$&'()*+,;=:[]<>\"")


@dataclass(frozen=True)
class Parts:
    scheme: str
    host: str
    path: str
    raw_path: str
    raw_query: str


def _error(text: str, msg: str) -> ValueError:
    return ValueError(f"parse {json.dumps(text, ensure_ascii=False)}: {msg}")


def _scheme(text: str) -> tuple[str, str]:
    for i, c in enumerate(text):
        if c.isascii() and c.isalpha():
            continue
        if (c.isascii() and c.isdigit()) or c in "+-.":
            if i == 0:
                return "", text
            continue
        if c == ":":
            if i == 0:
                raise ValueError("missing protocol scheme")
            return text[:i], text[i + 1 :]
        return "", text
    return "", text


def _unescape(text: str, host: bool) -> str:
    """Go's url.unescape in path or host mode: %XX sequences decoded, a bad one an error."""
    out, i = bytearray(), 0
    raw = text.encode()
    while i < len(raw):
        c = raw[i]
        if c == ord("%"):
            seq = raw[i : i + 3].decode(errors="replace")
            if len(seq) < 3 or not all(ch in "0123456789abcdefABCDEF" for ch in seq[1:]):
                raise ValueError(f"invalid URL escape {json.dumps(seq)}")
            out.append(int(seq[1:], 16))
            i += 3
            continue
        if host and c < 0x80 and not (chr(c).isalnum() or chr(c) in _UNRESERVED or chr(c) in _HOST_SPECIAL):
            raise ValueError(f"invalid character {json.dumps(chr(c))} in host name")
        out.append(c)
        i += 1
    return out.decode(errors="replace")


def _valid_port(port: str) -> bool:
    return port == "" or (port[0] == ":" and all(c in "0123456789" for c in port[1:]))


def _host(authority: str) -> str:
    host = authority[authority.rfind("@") + 1 :]
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise ValueError("missing ']' in host")
        if not _valid_port(host[end + 1 :]):
            raise ValueError(f"invalid port {json.dumps(host[end + 1 :])} after host")
    elif (colon := host.rfind(":")) != -1 and not _valid_port(host[colon:]):
        raise ValueError(f"invalid port {json.dumps(host[colon:])} after host")
    if "@" in authority and not _USERINFO.fullmatch(authority[: authority.rfind("@")]):
        raise ValueError("net/url: invalid userinfo")
    return _unescape(host, host=True)


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> Parts:
    """Go's url.ParseRequestURI; ValueError with Go's message."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise _error(text, "net/url: invalid control character in URL")
    if text == "":
        raise _error(text, "empty url")
    if text == "*":
        return Parts("", "", "*", "", "")
    try:
        scheme, rest = _scheme(text)
    except ValueError as exc:
        raise _error(text, str(exc)) from None
    if rest.endswith("?") and rest.count("?") == 1:
        rest, query = rest[:-1], ""
    else:
        rest, _, query = rest.partition("?")
    if not rest.startswith("/"):
        if scheme:  # a rootless path after a scheme is opaque
            return Parts(scheme.lower(), "", "", "", query)
        raise _error(text, "invalid URI for request")
    host = ""
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        try:
            host = _host(authority)
        except ValueError as exc:
            raise _error(text, str(exc)) from None
    try:
        path = _unescape(rest, host=False)
    except ValueError as exc:
        raise _error(text, str(exc)) from None
    return Parts(scheme.lower(), host, path, rest, query)


def _escape_path(path: str) -> str:
    """Go's url escaping of a path: everything but unreserved characters and `$&+,/:;=@` is escaped."""
    return quote(path, safe="$&+,/:;=@" + _UNRESERVED)


def _valid_encoded(raw: str) -> bool:
    allowed = set("!$&'()*+,;=:@[]%/" + _UNRESERVED)
    return all((c.isascii() and c.isalnum()) or c in allowed for c in raw)


def _escaped_path(parts: Parts) -> str:
    if parts.raw_path and _valid_encoded(parts.raw_path) and _escape_path(parts.path) != parts.raw_path:
        try:
            if _unescape(parts.raw_path, host=False) == parts.path:
                return parts.raw_path
        except ValueError:
            pass
    if parts.path == "*":
        return "*"
    return _escape_path(parts.path)


def _query(parts: Parts) -> dict[str, list[str]]:
    """Go's url.ParseQuery, keeping what parses (pairs with `;` or a bad escape are left out, as Go leaves them)."""
    out: dict[str, list[str]] = {}
    for pair in parts.raw_query.split("&"):
        if ";" in pair or not pair:
            continue
        key, _, value = pair.partition("=")
        try:
            key, value = (_unescape(s.replace("+", " "), host=False) for s in (key, value))
        except ValueError:
            continue
        out.setdefault(key, []).append(value)
    return out


def _split_host_port(host: str) -> tuple[str, str]:
    name, port = host, ""
    colon = host.rfind(":")
    if colon != -1 and _valid_port(host[colon:]):
        name, port = host[:colon], host[colon + 1 :]
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name, port


def _make(text: str) -> Any:
    try:
        parse(text)
    except ValueError as exc:
        raise ValueError(f"URL parse error during conversion from string: {exc}") from None
    return URL(url=text)


def _is_url(text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _parts(u: Any) -> Parts:
    """The parts the getters read. Kubernetes checks a URL with ParseRequestURI but reads it as url.Parse does,
    which first cuts off the #fragment (ParseRequestURI would leave it in the path or query)."""
    if isinstance(u, URL):
        return parse(u.url.partition("#")[0])
    raise NoSuchOverload


def functions() -> list[Function]:
    u = URL_TYPE
    return [
        function("url", _make, ("string_to_url", u, [T.STRING])),
        function("isURL", _is_url, ("is_url_string", T.BOOL, [T.STRING])),
        function("getScheme", lambda x: _parts(x).scheme, ("url_get_scheme", T.STRING, [u]), member=True),
        function("getHost", lambda x: _parts(x).host, ("url_get_host", T.STRING, [u]), member=True),
        function(
            "getHostname",
            lambda x: _split_host_port(_parts(x).host)[0],
            ("url_get_hostname", T.STRING, [u]),
            member=True,
        ),
        function(
            "getPort", lambda x: _split_host_port(_parts(x).host)[1], ("url_get_port", T.STRING, [u]), member=True
        ),
        function(
            "getEscapedPath", lambda x: _escaped_path(_parts(x)), ("url_get_escaped_path", T.STRING, [u]), member=True
        ),
        function(
            "getQuery",
            lambda x: _query(_parts(x)),
            ("url_get_query", T.Map(T.STRING, T.List(T.STRING)), [u]),
            member=True,
        ),
    ]
