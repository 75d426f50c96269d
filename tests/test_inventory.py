"""`data.inventory`: Gatekeeper's cluster/namespace layout keyed by groupVersion (semantics 1.8)."""

from __future__ import annotations

from typing import Any

import pytest

from gatekeeper_py.errors import ReviewError
from gatekeeper_py.inventory import Inventory


def obj(api_version: str, kind: str, name: str, namespace: str | None = None, **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **fields}


def test_new_inventory_is_empty() -> None:
    inventory = Inventory()
    assert inventory.tree == {}
    assert inventory.version == 0


def test_cluster_scoped_objects_go_under_cluster_by_group_version() -> None:
    inventory = Inventory()
    ns = obj("v1", "Namespace", "shop", labels={"team": "a"})
    role = obj("rbac.authorization.k8s.io/v1", "ClusterRole", "reader", rules=[])
    inventory.add(ns)
    inventory.add(role)
    assert inventory.tree == {
        "cluster": {
            "v1": {"Namespace": {"shop": ns}},
            "rbac.authorization.k8s.io/v1": {"ClusterRole": {"reader": role}},
        }
    }


def test_namespaced_objects_go_under_namespace_by_group_version() -> None:
    inventory = Inventory()
    cm = obj("v1", "ConfigMap", "settings", "shop", data={"k": "v"})
    deploy = obj("apps/v1", "Deployment", "web", "shop", spec={"replicas": 3})
    other = obj("apps/v1", "Deployment", "web", "other")
    for item in (cm, deploy, other):
        inventory.add(item)
    assert inventory.tree == {
        "namespace": {
            "shop": {"v1": {"ConfigMap": {"settings": cm}}, "apps/v1": {"Deployment": {"web": deploy}}},
            "other": {"apps/v1": {"Deployment": {"web": other}}},
        }
    }


def test_empty_namespace_means_cluster_scoped() -> None:
    inventory = Inventory()
    inventory.add(obj("v1", "PersistentVolume", "pv1", ""))
    assert list(inventory.tree) == ["cluster"]
    assert "pv1" in inventory.tree["cluster"]["v1"]["PersistentVolume"]


def test_the_whole_object_is_stored_as_a_copy() -> None:
    inventory = Inventory()
    original = obj("v1", "ConfigMap", "settings", "shop", data={"k": "v"}, spec={"n": [1, 2]})
    original["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    inventory.add(original)
    stored = inventory.tree["namespace"]["shop"]["v1"]["ConfigMap"]["settings"]
    assert stored == original
    assert stored["metadata"]["managedFields"] == [{"manager": "kubectl"}]

    original["data"]["k"] = "changed"
    original["spec"]["n"].append(3)
    original["metadata"]["name"] = "renamed"
    assert stored["data"] == {"k": "v"}
    assert stored["spec"] == {"n": [1, 2]}
    assert stored["metadata"]["name"] == "settings"


def test_adding_the_same_object_again_replaces_it() -> None:
    inventory = Inventory()
    inventory.add(obj("v1", "ConfigMap", "settings", "shop", data={"v": "1"}))
    inventory.add(obj("v1", "ConfigMap", "settings", "shop", data={"v": "2"}))
    assert inventory.tree["namespace"]["shop"]["v1"]["ConfigMap"] == {
        "settings": obj("v1", "ConfigMap", "settings", "shop", data={"v": "2"})
    }


def test_remove_prunes_empty_parents() -> None:
    inventory = Inventory()
    cm = obj("v1", "ConfigMap", "settings", "shop")
    inventory.add(cm)
    inventory.remove(cm)
    assert inventory.tree == {}

    ns = obj("v1", "Namespace", "shop")
    inventory.add(ns)
    inventory.remove(ns)
    assert inventory.tree == {}


def test_remove_keeps_non_empty_siblings() -> None:
    inventory = Inventory()
    a = obj("v1", "ConfigMap", "a", "shop")
    b = obj("v1", "ConfigMap", "b", "shop")
    secret = obj("v1", "Secret", "s", "shop")
    deploy = obj("apps/v1", "Deployment", "web", "other")
    for item in (a, b, secret, deploy):
        inventory.add(item)

    inventory.remove(a)
    assert inventory.tree["namespace"]["shop"]["v1"] == {"ConfigMap": {"b": b}, "Secret": {"s": secret}}
    inventory.remove(b)
    assert inventory.tree["namespace"]["shop"]["v1"] == {"Secret": {"s": secret}}
    inventory.remove(secret)
    assert inventory.tree == {"namespace": {"other": {"apps/v1": {"Deployment": {"web": deploy}}}}}


def test_remove_uses_only_the_location_not_the_contents() -> None:
    inventory = Inventory()
    inventory.add(obj("v1", "ConfigMap", "settings", "shop", data={"k": "v"}))
    inventory.remove(obj("v1", "ConfigMap", "settings", "shop"))
    assert inventory.tree == {}


def test_removing_an_unknown_object_changes_nothing() -> None:
    inventory = Inventory()
    kept = obj("v1", "ConfigMap", "kept", "shop")
    inventory.add(kept)
    inventory.remove(obj("v1", "ConfigMap", "missing", "shop"))
    inventory.remove(obj("v1", "ConfigMap", "kept", "elsewhere"))
    inventory.remove(obj("apps/v1", "Deployment", "web"))
    assert inventory.tree == {"namespace": {"shop": {"v1": {"ConfigMap": {"kept": kept}}}}}


def test_namespace_lookup() -> None:
    inventory = Inventory()
    shop = obj("v1", "Namespace", "shop", labels={"team": "a"})
    inventory.add(shop)
    inventory.add(obj("v1", "ConfigMap", "other", "other"))
    assert inventory.namespace("shop") == shop
    assert inventory.namespace("other") is None
    assert inventory.namespace("missing") is None
    assert Inventory().namespace("shop") is None


def test_namespace_lookup_ignores_namespace_kinds_of_other_groups() -> None:
    inventory = Inventory()
    inventory.add(obj("example.com/v1", "Namespace", "shop"))
    assert inventory.namespace("shop") is None


@pytest.mark.parametrize(
    ("thing", "words"),
    [
        ({"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "shop"}}, "has no version"),
        ({"apiVersion": "", "kind": "ConfigMap", "metadata": {"name": "x"}}, "has no version"),
        ({"apiVersion": "v1", "metadata": {"name": "x"}}, "has no kind"),
        ({"apiVersion": 5, "kind": "ConfigMap", "metadata": {"name": "x"}}, "has an apiVersion that is not a string"),
        ({"apiVersion": "v1", "kind": ["ConfigMap"], "metadata": {"name": "x"}}, "has a kind that is not a string"),
    ],
)
def test_objects_without_version_kind_or_name_are_rejected(thing: dict[str, Any], words: str) -> None:
    inventory = Inventory()
    with pytest.raises(ReviewError, match=words):
        inventory.add(thing)
    with pytest.raises(ReviewError, match=words):
        inventory.remove(thing)
    assert inventory.tree == {}
    assert inventory.version == 0


def test_error_names_the_object() -> None:
    with pytest.raises(ReviewError) as info:
        Inventory().add({"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "shop"}})
    assert str(info.value) == "resource ConfigMap/shop/x has no version"


def test_non_mappings_are_rejected() -> None:
    with pytest.raises(ReviewError, match="Kubernetes object"):
        Inventory().add(["not", "an", "object"])  # type: ignore[arg-type]


def test_version_increases_on_each_change() -> None:
    inventory = Inventory()
    cm = obj("v1", "ConfigMap", "settings", "shop")
    seen = [inventory.version]
    inventory.add(cm)
    seen.append(inventory.version)
    inventory.add(obj("v1", "Namespace", "shop"))
    seen.append(inventory.version)
    inventory.add(cm)
    seen.append(inventory.version)
    inventory.remove(cm)
    seen.append(inventory.version)
    assert seen == sorted(set(seen))
    assert len(seen) == 5


def test_objects_without_a_name_are_kept_under_the_empty_name_like_gatekeeper() -> None:
    inventory = Inventory()
    unnamed = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-", "namespace": "shop"}}
    inventory.add(unnamed)
    assert inventory.tree == {"namespace": {"shop": {"v1": {"Pod": {"": unnamed}}}}}


def test_non_finite_numbers_are_refused_as_inventory() -> None:
    with pytest.raises(ReviewError, match="not finite"):
        Inventory().add(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": float("nan")}}
        )
