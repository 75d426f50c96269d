"""Kubernetes' format library (k8s.io/apiserver/pkg/cel/library/format.go): `format.dns1123Label()` and the other
named formats, `format.named(name)` and `<format>.validate(text)`, with the validation messages of
k8s.io/apimachinery's validation package.

`validate` and `format.named` return optionals, which a Python function cannot return through cel-expr-python. So
the expression is rewritten before it is compiled (`rewrite`): `R.validate(A)` becomes a binding of
`R.gatekeeper_internal_validate(A)` (the list of messages) turned into `optional.none()` when empty and
`optional.of(...)` otherwise, and `format.named(A)` likewise from a list of zero or one format.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Callable
from typing import Any

from cel_expr_python import cel

from .calls import rewrite_calls
from .declare import Function, NoSuchOverload, function
from .rewrite import BOUND_PREFIX
from .urls import parse as parse_url
from .values import FORMAT, NamedFormat

T = cel.Type

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + r"(\." + _LABEL + ")*"
_DNS1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QUALIFIED + ")?"
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end"
    " with an alphanumeric character"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start"
    " and end with an alphanumeric character"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character,"
    " and end with an alphanumeric character"
)
_QUALIFIED_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start"
    " and end with an alphanumeric character"
)
_UUID = re.compile(r"(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?")


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's RegexError wording."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def _matches(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


def dns1123_label(text: str) -> list[str]:
    errors = [_max_len(63)] if len(text) > 63 else []
    if not _matches(_LABEL, text):
        errors.append(
            "must not contain dots"
            if _matches(_SUBDOMAIN, text)
            else _regex_error(_LABEL_MSG, _LABEL, "my-name", "123-abc")
        )
    return errors


def dns1123_subdomain(text: str) -> list[str]:
    errors = [_max_len(253)] if len(text) > 253 else []
    if not _matches(_SUBDOMAIN, text):
        errors.append(_regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN, "example.com"))
    return errors


def dns1035_label(text: str) -> list[str]:
    errors = [_max_len(63)] if len(text) > 63 else []
    if not _matches(_DNS1035, text):
        errors.append(_regex_error(_DNS1035_MSG, _DNS1035, "my-name", "abc-123"))
    return errors


def qualified_name(text: str) -> list[str]:
    errors: list[str] = []
    parts = text.split("/")
    if len(parts) > 2:
        example = _regex_error(_QUALIFIED_MSG, _QUALIFIED, "MyName", "my.name", "123-abc")
        return [f"a qualified name {example} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    name = parts[-1]
    if len(parts) == 2:
        if not parts[0]:
            errors.append("prefix part must be non-empty")
        else:
            errors += ["prefix part " + m for m in dns1123_subdomain(parts[0])]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + _max_len(63))
    if not _matches(_QUALIFIED, name):
        errors.append("name part " + _regex_error(_QUALIFIED_MSG, _QUALIFIED, "MyName", "my.name", "123-abc"))
    return errors


def label_value(text: str) -> list[str]:
    errors = [_max_len(63)] if len(text) > 63 else []
    if not _matches(_LABEL_VALUE, text):
        errors.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE, "MyValue", "my_value", "12345"))
    return errors


def _prefix(validate: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """apimachinery's name validation with `prefix`: a trailing dash is masked (as apimachinery masks it, the last
    two characters become one `a`), since a generated suffix follows it."""

    def check(text: str) -> list[str]:
        return validate(text[:-2] + "a" if len(text) > 1 and text.endswith("-") else text)

    return check


def _uri(text: str) -> list[str]:
    try:
        parse_url(text)
    except ValueError as exc:
        return [str(exc)]
    return []


def _byte(text: str) -> list[str]:
    try:
        base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return ["invalid base64"]
    return []


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _date(text: str) -> list[str]:
    return [] if _is_date(text) else ["invalid date"]


def _datetime(text: str) -> list[str]:
    found = _DATETIME.fullmatch(text)
    ok = found is not None and _is_date(found.group(1))
    ok = ok and int(found.group(2)) < 24 and int(found.group(3)) < 60 and int(found.group(4) or 0) < 60  # type: ignore[union-attr]
    return [] if ok else ["invalid datetime"]


FORMATS: dict[str, Callable[[str], list[str]]] = {
    "dns1123Label": dns1123_label,
    "dns1123Subdomain": dns1123_subdomain,
    "dns1035Label": dns1035_label,
    "qualifiedName": qualified_name,
    "dns1123LabelPrefix": _prefix(dns1123_label),
    "dns1123SubdomainPrefix": _prefix(dns1123_subdomain),
    "dns1035LabelPrefix": _prefix(dns1035_label),
    "labelValue": label_value,
    "uri": _uri,
    "uuid": lambda s: [] if _UUID.fullmatch(s) else ["does not match the UUID format"],
    "byte": _byte,
    "date": _date,
    "datetime": _datetime,
}

VALIDATE = BOUND_PREFIX + "validate"
NAMED = BOUND_PREFIX + "format_named"


def _validate(f: Any, text: str) -> list[str]:
    if not isinstance(f, NamedFormat) or f.name not in FORMATS:
        raise NoSuchOverload
    return FORMATS[f.name](text)


def functions() -> list[Function]:
    named = [
        function(f"format.{name}", lambda name=name: NamedFormat(name=name), (f"format_{name}", FORMAT, []))
        for name in FORMATS
    ]
    return [
        *named,
        function(VALIDATE, _validate, ("format_validate", T.List(T.STRING), [FORMAT, T.STRING]), member=True),
        function(
            NAMED,
            lambda name: [NamedFormat(name=name)] if name in FORMATS else [],
            ("format_named", T.List(FORMAT), [T.STRING]),
        ),
    ]


# --- the rewrite ---

_VALIDATE_CALL = re.compile(r"\.\s*validate\s*\(")
_NAMED_CALL = re.compile(r"(?<![\w.])format\s*\.\s*named\s*\(")


def rewrite(expression: str) -> str:
    """The expression with `format.named(...)` and `.validate(...)` returning optionals, as explained above."""
    if "validate" not in expression and "named" not in expression:
        return expression

    def validate(receiver: str, arguments: str, bound: str) -> str:
        value = f"{receiver}.{VALIDATE}{arguments}"
        return f"cel.bind({bound}, {value}, size({bound}) == 0 ? optional.none() : optional.of({bound}))"

    def named(_: str, arguments: str, bound: str) -> str:
        value = f"{NAMED}{arguments}"
        return f"cel.bind({bound}, {value}, size({bound}) == 0 ? optional.none() : optional.of({bound}[0]))"

    expression = rewrite_calls(expression, _VALIDATE_CALL, validate, "format")
    return rewrite_calls(expression, _NAMED_CALL, named, "format_named", member=False)
