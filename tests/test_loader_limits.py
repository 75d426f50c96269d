"""The loader refuses input that would crash or exhaust the process, with one clear error, and unwraps Lists."""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import pytest

from gatekeeper_py.errors import LoadError
from gatekeeper_py.loader import MAX_ALIAS_NODES, MAX_DEPTH, load_all, parse_text, read_file
from gatekeeper_py.model.suite import read_suite

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def laughs(levels: int) -> str:
    """A "billion laughs" document: each level names the one before nine times."""
    lines = [f"l0: &l0 [{','.join(['lol'] * 9)}]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def refusal(text: str, path: str = "bad.yaml") -> str:
    with pytest.raises(LoadError) as caught:
        parse_text(text, path)
    assert caught.value.source == path
    return str(caught.value)


# --- nesting ---


def test_deep_flow_nesting_is_refused_not_a_crash() -> None:
    # PyYAML's C composer recurses in C: 100,000 `[` used to kill the process with a segmentation fault.
    message = refusal("[" * 100_000)
    # PyYAML 6.0.4 and later refuse it themselves, at 1,000 levels, before our composer sees it.
    assert message in (
        f"bad.yaml: refused YAML: nested more than {MAX_DEPTH} levels deep (line 1, column 201)",
        "bad.yaml: invalid YAML/JSON at line 1, column 1001: exceeded maximum nesting depth",
    )


def test_deep_json_is_refused() -> None:
    deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    assert "nested more than" in refusal(deep, "deep.json")
    within_python = '{"a": ' * (MAX_DEPTH + 50) + "1" + "}" * (MAX_DEPTH + 50)
    assert refusal(within_python, "deep.json") == f"deep.json: refused: nested more than {MAX_DEPTH} levels deep"


def test_nesting_up_to_the_limit_is_read() -> None:
    yaml_doc = "a: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1)
    value = parse_text(yaml_doc, "ok.yaml")[0].obj["a"]
    depth = 1
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    assert (value, depth) == (1, MAX_DEPTH)
    json_doc = '{"a": ' * MAX_DEPTH + "1" + "}" * MAX_DEPTH
    assert parse_text(json_doc, "ok.json")[0].obj["a"]["a"]["a"]["a"] is not None


# --- aliases ---


def test_recursive_alias_is_refused() -> None:
    assert refusal("a: &a [*a]\n") == (
        "bad.yaml: refused YAML: alias *a refers to a collection that contains it (line 1, column 8)"
    )
    assert "refers to a collection that contains it" in refusal("m: &m {self: *m}\n")


def test_billion_laughs_is_refused_in_milliseconds() -> None:
    text = laughs(9)  # 9**9 "lol"s: 3 GB and 80 s before the limit
    assert len(text.encode()) < 500
    started = time.perf_counter()
    message = refusal(text)
    assert time.perf_counter() - started < 1.0
    assert f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes" in message
    assert "(line 6, column" in message  # the alias that passes the limit


def test_ordinary_aliases_and_merge_keys_are_expanded() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: &labels {app: web, tier: front}\n"
        "  annotations:\n    <<: *labels\n    note: copied\ndata: *labels\n"
    )
    obj = parse_text(text, "ok.yaml")[0].obj
    assert obj["data"] == {"app": "web", "tier": "front"}
    assert obj["metadata"]["annotations"] == {"app": "web", "tier": "front", "note": "copied"}
    assert parse_text(laughs(5), "ok.yaml")[0].obj["l4"][8][8][8][8][8] == "lol"  # 9**4 nodes: allowed


def test_an_undefined_alias_is_a_yaml_error() -> None:
    assert refusal("a: *nowhere\n").startswith("bad.yaml: invalid YAML/JSON")


# --- values JSON cannot hold ---


def test_integer_too_long_for_python_is_refused() -> None:
    digits = "9" * 5000
    assert refusal(f"n: {digits}\n") == (
        "bad.yaml: refused YAML: an integer of 5000 digits is too large (at most 4300) (line 1, column 4)"
    )
    assert refusal(f'{{"n": {digits}}}', "big.json") == (
        "big.json: refused: the document at line 1: an integer of 5000 digits is too large (at most 4300)"
    )
    assert parse_text(f"n: {'9' * 4300}\n", "ok.yaml")[0].obj["n"] == int("9" * 4300)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("a: !!binary aGVsbG8=\n", "bytes"),
        ("a: !!timestamp 2024-01-01\n", "date"),
        ("a: !!set {x: null}\n", "set"),
        ("? !!timestamp 2024-01-01\n: x\n", "mapping key of type date"),
    ],
)
def test_yaml_only_types_are_refused(text: str, kind: str) -> None:
    message = refusal(text)
    assert message.startswith("bad.yaml: refused: a ") and kind in message and "has no JSON equivalent" in message


def test_stdin_that_is_not_utf8_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"kind: \xff\xfe\n")))
    with pytest.raises(LoadError, match=r"^<stdin>: cannot read: not UTF-8 text"):
        read_file("-")


# --- one bad file does not stop the rest ---


def test_each_bad_file_is_one_error_and_the_rest_is_read(tmp_path: Path) -> None:
    (tmp_path / "a-deep.yaml").write_text("[" * 100_000)
    (tmp_path / "b-laughs.yaml").write_text(laughs(9))
    (tmp_path / "c-recursive.yaml").write_text("a: &a [*a]\n")
    (tmp_path / "d-big.json").write_text('{"n": ' + "1" * 5000 + "}")
    (tmp_path / "e-good.yaml").write_text(CM.format(name="good"))
    docs, errors = load_all([tmp_path])
    assert [d.obj["metadata"]["name"] for d in docs] == ["good"]
    assert [Path(e.source or "").name for e in errors] == [
        "a-deep.yaml",
        "b-laughs.yaml",
        "c-recursive.yaml",
        "d-big.json",
    ]


def test_suite_files_are_bounded_too(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text("apiVersion: test.gatekeeper.sh/v1alpha1\nkind: Suite\n" + laughs(9))
    with pytest.raises(LoadError, match="cannot read suite: aliases expand to more than"):
        read_suite(suite)
    suite.write_text("[" * 10_000)  # the Suite loader's scanner is PyYAML's Python one: slower per byte
    with pytest.raises(LoadError, match="cannot read suite: nested more than"):
        read_suite(suite)


# --- empty directories ---


def test_a_directory_without_manifests_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.md").write_text("# not a manifest\n")
    docs, errors = load_all([tmp_path / "empty", tmp_path / "notes"])
    assert docs == []
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'empty'}: no manifest files (.yaml, .yml, .json) found",
        f"{tmp_path / 'notes'}: no manifest files (.yaml, .yml, .json) found",
    ]


def test_a_file_with_only_empty_documents_is_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "blank.yaml").write_text("---\n# nothing yet\n")
    assert load_all([tmp_path]) == ([], [])


# --- Lists ---

LIST = """\
apiVersion: v1
kind: List
metadata: {}
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: first
- apiVersion: v1
  kind: Secret
  metadata:
    name: second
"""


def test_a_list_stands_for_its_items_each_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(CM.format(name="before") + "---\n" + LIST)
    docs, errors = load_all([path])
    assert errors == []
    assert [(d.obj["kind"], d.obj["metadata"]["name"]) for d in docs] == [
        ("ConfigMap", "before"),
        ("ConfigMap", "first"),
        ("Secret", "second"),
    ]
    assert [d.source for d in docs] == [
        f"{path} (document 1)",
        f"{path} (document 2, item 1)",
        f"{path} (document 2, item 2)",
    ]
    assert [d.line for d in docs] == [1, 10, 14]


def test_typed_list_items_get_the_list_kind_and_api_version() -> None:
    pod_list = {
        "apiVersion": "v1",
        "kind": "PodList",
        "items": [{"metadata": {"name": "a"}}, {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "b"}}],
    }
    docs = parse_text(json.dumps(pod_list), "pods.json", unwrap_lists=True)
    assert [d.obj for d in docs] == [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}},
    ]
    assert [d.source for d in docs] == ["pods.json (item 1)", "pods.json (item 2)"]


def test_what_is_not_a_list_stays_an_object() -> None:
    text = (
        "apiVersion: example.com/v1\nkind: AllowList\nmetadata: {name: a}\nspec: {}\n---\n"
        "apiVersion: v1\nkind: List\nitems: []\n---\n"
        "apiVersion: v1\nkind: PodList\nitems: null\n"
    )
    docs = parse_text(text, "x.yaml", unwrap_lists=True)
    assert [d.obj["kind"] for d in docs] == ["AllowList"]
    assert [d.obj["kind"] for d in parse_text(LIST, "x.yaml")] == ["List"]  # unwrapping is asked for
