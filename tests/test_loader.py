"""Reading manifests from files, directories and stdin (semantics 5.1: a k8s YAML-or-JSON document stream)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from gatekeeper_py.errors import LoadError
from gatekeeper_py.loader import (
    Document,
    load_all,
    manifest_files,
    object_id,
    parse_text,
    read_file,
    read_paths,
)

CM_A = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: shop\ndata:\n  k: v\n"
CM_B = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def names(docs: list[Document]) -> list[str]:
    return [doc.obj["metadata"]["name"] for doc in docs]


# --- parsing ---


def test_multi_document_yaml_skips_empty_documents(tmp_path: Path) -> None:
    text = f"---\n{CM_A}---\n---\n# only a comment\n---\n{CM_B}---\n"
    docs = read_file(write(tmp_path / "two.yaml", text))
    assert names(docs) == ["a", "b"]
    assert docs[0].obj == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "shop"},
        "data": {"k": "v"},
    }


def test_null_and_empty_mapping_documents_are_skipped() -> None:
    docs = parse_text(f"null\n---\n{{}}\n---\n~\n---\n{CM_B}", "x.yaml")
    assert names(docs) == ["b"]
    assert docs[0].count == 1


def test_only_empty_documents_give_nothing() -> None:
    assert parse_text("", "x.yaml") == []
    assert parse_text("---\n---\n# nothing\n", "x.yaml") == []
    assert parse_text("  \n", "x.json") == []


def test_json_file(tmp_path: Path) -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}, "data": {"k": 'é "q"'}}
    docs = read_file(write(tmp_path / "cm.json", json.dumps(obj, indent=2)))
    assert [doc.obj for doc in docs] == [obj]
    assert docs[0].source == str(tmp_path / "cm.json")


def test_json_indented_with_tabs_and_exponent_numbers() -> None:
    # Go's json.MarshalIndent(v, "", "\t") writes tabs, which YAML forbids as indentation.
    text = '{\n\t"kind": "Thing",\n\t"spec": {\n\t\t"ratio": 1.5e3,\n\t\t"count": 1e2,\n\t\t"n": 7\n\t}\n}\n'
    [doc] = parse_text(text, "x.json")
    assert doc.obj == {"kind": "Thing", "spec": {"ratio": 1500.0, "count": 100.0, "n": 7}}


def test_json_stream_of_several_objects() -> None:
    docs = parse_text('{"kind": "A", "metadata": {"name": "a"}}\n{"kind": "B", "metadata": {"name": "b"}} {}', "s.json")
    assert names(docs) == ["a", "b"]
    assert [doc.source for doc in docs] == ["s.json (document 1)", "s.json (document 2)"]


def test_invalid_json_names_file_and_line() -> None:
    with pytest.raises(LoadError) as info:
        parse_text('{\n  "kind": "A",\n  "metadata": {"name": "a",}\n}\n', "bad.json")
    err = info.value
    assert err.source == "bad.json"
    assert "line 3" in err.reason
    assert str(err).startswith("bad.json: invalid YAML/JSON at line 3")


def test_timestamps_stay_strings() -> None:
    [doc] = parse_text(
        "kind: T\ncreated: 2024-01-01\nat: 2024-01-01T10:20:30Z\nspaced: 2001-12-14 21:59:43.10 -5\n", "t.yaml"
    )
    assert doc.obj == {
        "kind": "T",
        "created": "2024-01-01",
        "at": "2024-01-01T10:20:30Z",
        "spaced": "2001-12-14 21:59:43.10 -5",
    }


def test_other_scalars_keep_their_yaml_types() -> None:
    [doc] = parse_text("i: 3\nf: 2.5\nb: true\nn: null\ns: '2024-01-01'\nq: \"80\"\n", "t.yaml")
    assert doc.obj == {"i": 3, "f": 2.5, "b": True, "n": None, "s": "2024-01-01", "q": "80"}


def test_mapping_keys_become_strings_at_every_depth() -> None:
    text = "kind: T\nports:\n  80: http\n  443: https\nnested:\n- 1: one\n  2.5: x\n  null: z\n- true: yes\n"
    [doc] = parse_text(text, "t.yaml")
    assert doc.obj == {
        "kind": "T",
        "ports": {"80": "http", "443": "https"},
        "nested": [{"1": "one", "2.5": "x", "null": "z"}, {"true": True}],
    }
    assert all(isinstance(key, str) for key in doc.obj["ports"])


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "kind: A\nmetadata:\n  name: x\n  labels: [a, b\nspec: {}\n")
    with pytest.raises(LoadError) as info:
        read_file(path)
    err = info.value
    assert err.source == str(path)
    assert "invalid YAML/JSON at line" in err.reason
    assert str(path) in str(err)


def test_invalid_yaml_reports_the_line_of_the_problem() -> None:
    with pytest.raises(LoadError, match="line 3, column"):
        parse_text("a: 1\nb: 2\n c: 3\n", "bad.yaml")


# --- Document.source and object_id ---


def test_document_source_names_file_and_document_number() -> None:
    single = parse_text(CM_A, "one.yaml")
    assert [doc.source for doc in single] == ["one.yaml"]
    multi = parse_text(f"{CM_A}---\n{CM_B}", "dir/many.yaml")
    assert [doc.source for doc in multi] == ["dir/many.yaml (document 1)", "dir/many.yaml (document 2)"]
    assert [(doc.index, doc.count) for doc in multi] == [(0, 2), (1, 2)]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}}, "Pod/ns/p"),
        ({"kind": "Namespace", "metadata": {"name": "ns"}}, "Namespace/ns"),
        ({"kind": "Pod", "metadata": {"generateName": "p-", "namespace": "ns"}}, "Pod/ns/p-"),
        ({"kind": "Pod", "metadata": {"name": "p", "namespace": ""}}, "Pod/p"),
        ({"kind": "Pod"}, "Pod/<no name>"),
        ({"kind": "Pod", "metadata": "not a mapping"}, "Pod/<no name>"),
        ({"metadata": {"name": "x"}}, "<no kind>/x"),
        ({}, "<no kind>/<no name>"),
        (["not", "a", "mapping"], ""),
        ("text", ""),
        (None, ""),
    ],
)
def test_object_id(obj: object, expected: str) -> None:
    assert object_id(obj) == expected


# --- files, directories, stdin ---


def test_missing_file_is_a_load_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(LoadError) as info:
        list(read_paths([missing]))
    assert "no such file" in info.value.reason.lower()
    assert info.value.source == str(missing)
    with pytest.raises(LoadError) as direct:
        read_file(missing)
    assert "no such file" in direct.value.reason.lower()
    assert direct.value.source == str(missing)


@pytest.mark.parametrize("name", ["notes.txt", "manifest.yaml.bak", "Makefile"])
def test_file_with_wrong_extension_given_directly_is_rejected(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, CM_A)
    with pytest.raises(LoadError) as info:
        manifest_files(path)
    assert "not a manifest file" in info.value.reason
    assert info.value.source == str(path)
    with pytest.raises(LoadError, match="not a manifest file"):
        list(read_paths([path]))


def test_allowed_extensions_any_case(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yml", "c.json", "d.YAML"):
        path = write(tmp_path / name, "{}")
        assert manifest_files(path) == [path]


def test_directories_are_walked_recursively_keeping_manifests_sorted(tmp_path: Path) -> None:
    root = tmp_path / "manifests"
    write(root / "z.yaml", "kind: Z\nmetadata:\n  name: z\n")
    write(root / "a.yml", "kind: A\nmetadata:\n  name: a\n")
    write(root / "sub" / "deeper" / "m.json", '{"kind": "M", "metadata": {"name": "m"}}')
    write(root / "sub" / "b.yaml", "kind: B\nmetadata:\n  name: b\n")
    write(root / "README.md", "# not a manifest\n")
    write(root / "sub" / "notes.txt", "kind: Nope\n")
    write(root / "sub" / "x.yaml.orig", "kind: Nope\n")
    (root / "empty-dir").mkdir()

    files = manifest_files(root)
    assert files == sorted(files)
    assert [f.relative_to(root).as_posix() for f in files] == ["a.yml", "sub/b.yaml", "sub/deeper/m.json", "z.yaml"]
    assert names(list(read_paths([root]))) == ["a", "b", "m", "z"]


KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"


def test_directory_with_kustomization_is_read_through_its_resources_in_order(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    write(shared / "one.yaml", "kind: One\nmetadata:\n  name: one\n")
    write(shared / "nested" / "two.yaml", "kind: Two\nmetadata:\n  name: two\n")
    write(shared / "nested" / "not-listed.yaml", "kind: Nope\nmetadata:\n  name: nope\n")
    write(shared / "nested" / "kustomization.yaml", KUSTOMIZATION + "resources:\n- two.yaml\n")
    profile = tmp_path / "profile"
    write(profile / "own.yaml", "kind: Own\nmetadata:\n  name: own\n")
    write(profile / "ignored.yaml", "kind: Nope\nmetadata:\n  name: ignored\n")
    write(
        profile / "kustomization.yaml",
        KUSTOMIZATION + "resources:\n- own.yaml\n- ../shared/one.yaml\n- ../shared/nested\n",
    )

    assert names(list(read_paths([profile]))) == ["own", "one", "two"]
    # Walking a parent directory follows the kustomization it meets, too.
    assert names(list(read_paths([tmp_path]))) == ["own", "one", "two", "two", "one"]


def test_kustomization_cycle_is_followed_once(tmp_path: Path) -> None:
    write(tmp_path / "a" / "kustomization.yaml", KUSTOMIZATION + "resources:\n- x.yaml\n- ../b\n")
    write(tmp_path / "a" / "x.yaml", "kind: X\nmetadata:\n  name: x\n")
    write(tmp_path / "b" / "kustomization.yaml", KUSTOMIZATION + "resources:\n- ../a\n")
    assert names(list(read_paths([tmp_path / "a"]))) == ["x"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("resources:\n- missing.yaml\n", "resource 'missing.yaml': no such file or directory"),
        ("resources:\n- https://example.com/x.yaml\n", "remote resource 'https://example.com/x.yaml' is not supported"),
        ("resources: []\npatches:\n- path: p.yaml\n", "unsupported kustomization fields ['patches']"),
        ("resources: x.yaml\n", "resources must be a list of relative paths"),
    ],
)
def test_bad_kustomization_is_one_error_naming_the_file_and_the_rest_loads(
    tmp_path: Path, body: str, reason: str
) -> None:
    kustomization = write(tmp_path / "bad" / "kustomization.yaml", KUSTOMIZATION + body)
    good = write(tmp_path / "good.yaml", CM_B)
    docs, errors = load_all([tmp_path / "bad", good])
    assert names(docs) == ["b"]
    assert [str(e) for e in errors] == [
        f"{kustomization}: {reason}" + ("" if "fields" not in reason else ": only resources are followed")
    ]
    with pytest.raises(LoadError, match=r"kustomization\.yaml"):
        manifest_files(tmp_path / "bad")


def test_empty_directory_gives_no_files(tmp_path: Path) -> None:
    assert manifest_files(tmp_path) == []
    assert list(read_paths([tmp_path])) == []


def test_read_paths_keeps_the_order_given(tmp_path: Path) -> None:
    second = write(tmp_path / "a.yaml", CM_A)
    first = write(tmp_path / "b.yaml", CM_B)
    docs = list(read_paths([first, str(second)]))
    assert names(docs) == ["b", "a"]
    assert [doc.path for doc in docs] == [str(first), str(second)]


def test_stdin_via_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{CM_A}---\n{CM_B}"))
    docs = read_file("-")
    assert names(docs) == ["a", "b"]
    assert [doc.source for doc in docs] == ["<stdin> (document 1)", "<stdin> (document 2)"]


def test_stdin_mixed_with_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"kind": "S", "metadata": {"name": "from-stdin"}}'))
    path = write(tmp_path / "f.yaml", CM_A)
    docs = list(read_paths([path, "-"]))
    assert names(docs) == ["a", "from-stdin"]
    assert docs[1].source == "<stdin>"


def test_invalid_stdin_names_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("kind: [unclosed\n"))
    with pytest.raises(LoadError) as info:
        read_file("-")
    assert info.value.source == "<stdin>"
    assert "invalid YAML/JSON" in info.value.reason


def test_file_that_is_not_utf8_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"kind: caf\xe9\n")
    with pytest.raises(LoadError) as info:
        read_file(path)
    assert "cannot read file" in info.value.reason
    assert info.value.source == str(path)


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("1e3", 1000.0),
        ("-1E-3", -0.001),
        ("1.5", 1.5),
        ("1:20", "1:20"),
        ("=", "="),
        ("012", 10),
        ("0x1F", 31),
        ("1_000", 1000),
        ("2024-01-01", "2024-01-01"),
        ("yes", True),
        ("'1e3'", "1e3"),
    ],
)
def test_plain_scalars_resolve_like_kubernetes_yaml(scalar: str, expected: object) -> None:
    [doc] = parse_text(f"value: {scalar}\n", "x.yaml")
    assert doc.obj["value"] == expected
    assert type(doc.obj["value"]) is type(expected)


def test_hidden_entries_are_skipped_in_directory_walks(tmp_path: Path) -> None:
    """A mounted ConfigMap holds its files twice more under `..data` and `..<timestamp>`; editors leave dot-files."""
    write(tmp_path / "policy.yaml", CM_B)
    write(tmp_path / "..data" / "policy.yaml", CM_B)
    write(tmp_path / "..2026_11_23" / "policy.yaml", CM_B)
    write(tmp_path / ".policy.yaml.swp.yaml", CM_A)
    assert names(list(read_paths([tmp_path]))) == ["b"]
