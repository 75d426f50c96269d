"""Kubernetes' semver library at version 1 (k8s.io/apiserver/pkg/cel/library/semverlib.go), on the rules and
error texts of the Go package it uses (blang/semver v4): `major.minor.patch`, no leading zeros, optional
pre-release and build parts; with `normalize` a leading `v`, leading zeros and missing minor/patch are accepted.
Versions compare by precedence (build metadata ignored), so equality is precedence equality, as in Kubernetes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel

from .declare import Function, NoSuchOverload, function
from .values import SEMVER, Semver

T = cel.Type
_ALPHANUM = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...]

    def text(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return core + ("-" + ".".join(str(p) for p in self.pre) if self.pre else "")


def _numeric(text: str, what: str) -> int:
    if not all(c in "0123456789" for c in text):
        raise ValueError(f"Invalid character(s) found in {what} number {json.dumps(text)}")
    if len(text) > 1 and text[0] == "0":
        raise ValueError(f"{what.capitalize()} number must not contain leading zeroes {json.dumps(text)}")
    if not text or int(text) >= 2**64:
        raise ValueError(f"strconv.ParseUint: parsing {json.dumps(text)}: invalid syntax")
    return int(text)


def parse(text: str) -> Version:
    """blang/semver's Parse; ValueError with its message."""
    if not text:
        raise ValueError("Version string empty")
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise ValueError("No Major.Minor.Patch elements found")
    major, minor = _numeric(parts[0], "major"), _numeric(parts[1], "minor")
    patch_text, _, build = parts[2].partition("+")
    patch_text, dash, pre_text = patch_text.partition("-")
    patch = _numeric(patch_text, "patch")
    pre: list[int | str] = []
    for item in pre_text.split(".") if dash else []:
        if not item:
            raise ValueError("Prerelease is empty")
        if all(c in "0123456789" for c in item):
            if len(item) > 1 and item[0] == "0":
                raise ValueError(f"Numeric PreRelease version must not contain leading zeroes {json.dumps(item)}")
            pre.append(int(item))
        elif set(item) <= _ALPHANUM:
            pre.append(item)
        else:
            raise ValueError(f"Invalid character(s) found in prerelease {json.dumps(item)}")
    for item in build.split(".") if "+" in parts[2] else []:
        if not item:
            raise ValueError("Build meta data is empty")
        if not set(item) <= _ALPHANUM:
            raise ValueError(f"Invalid character(s) found in build meta data {json.dumps(item)}")
    return Version(major, minor, patch, tuple(pre))


def normalize_and_parse(text: str) -> Version:
    """Kubernetes' normalizeAndParse: a leading `v` dropped, leading zeros removed, missing parts filled with 0."""
    text = text.removeprefix("v")
    parts = text.split(".", 2)
    for i, part in enumerate(parts):
        if len(part) > 1:
            stripped = part.lstrip("0")
            if not stripped or not stripped[0].isdigit():
                stripped = "0" + stripped
            parts[i] = stripped
    if len(parts) < 3:
        if any(c in parts[-1] for c in "+-"):
            raise ValueError("short version cannot contain PreRelease/Build meta data")
        parts += ["0"] * (3 - len(parts))
    return parse(".".join(parts))


def _parsed(text: str, normalize: bool = False) -> Version:
    return normalize_and_parse(text) if normalize else parse(text)


def _make(text: str, normalize: bool = False) -> Any:
    return Semver(version=_parsed(text, normalize).text())


def _is_semver(text: str, normalize: bool = False) -> bool:
    try:
        _parsed(text, normalize)
    except ValueError:
        return False
    return True


def _version(v: Any) -> Version:
    if isinstance(v, Semver):
        return parse(v.version)
    raise NoSuchOverload


def _pre_key(item: int | str) -> tuple[int, int | str]:
    return (0, item) if isinstance(item, int) else (1, item)


def compare(a: Any, b: Any) -> int:
    x, y = _version(a), _version(b)
    core_x, core_y = (x.major, x.minor, x.patch), (y.major, y.minor, y.patch)
    if core_x != core_y:
        return -1 if core_x < core_y else 1
    if not x.pre or not y.pre:
        return (not x.pre) - (not y.pre)
    kx, ky = [_pre_key(p) for p in x.pre], [_pre_key(p) for p in y.pre]
    return (kx > ky) - (kx < ky)


def functions() -> list[Function]:
    s = SEMVER
    return [
        function(
            "semver", _make, ("string_to_semver", s, [T.STRING]), ("string_bool_to_semver", s, [T.STRING, T.BOOL])
        ),
        function(
            "isSemver",
            _is_semver,
            ("is_semver_string", T.BOOL, [T.STRING]),
            ("is_semver_string_bool", T.BOOL, [T.STRING, T.BOOL]),
        ),
        function(
            "isGreaterThan", lambda a, b: compare(a, b) > 0, ("semver_is_greater_than", T.BOOL, [s, s]), member=True
        ),
        function("isLessThan", lambda a, b: compare(a, b) < 0, ("semver_is_less_than", T.BOOL, [s, s]), member=True),
        function("compareTo", compare, ("semver_compare_to", T.INT, [s, s]), member=True),
        function("major", lambda v: _version(v).major, ("semver_major", T.INT, [s]), member=True),
        function("minor", lambda v: _version(v).minor, ("semver_minor", T.INT, [s]), member=True),
        function("patch", lambda v: _version(v).patch, ("semver_patch", T.INT, [s]), member=True),
    ]
