"""`data.inventory`: objects templates can look up, laid out as Gatekeeper stores them.

Cluster-scoped: `cluster[groupVersion][Kind][name]`; namespaced: `namespace[ns][groupVersion][Kind][name]`.
Namespace objects held here also answer the matcher's namespace lookups.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ReviewError
from .loader import object_id


def _location(obj: Any) -> list[str]:
    if not isinstance(obj, dict):
        raise ReviewError("inventory data must be a Kubernetes object")
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    group_version, kind, name = obj.get("apiVersion"), obj.get("kind"), meta.get("name")
    if not group_version or not kind or not name:
        missing = "version" if not group_version else "kind" if not kind else "name"
        raise ReviewError(f"resource {object_id(obj) or '<unknown>'} has no {missing}")
    namespace = meta.get("namespace")
    if namespace:
        return ["namespace", namespace, group_version, kind, name]
    return ["cluster", group_version, kind, name]


class Inventory:
    """The `data.inventory` tree; `version` changes with every update."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}
        self.version = 0

    def add(self, obj: dict[str, Any]) -> None:
        *parents, name = _location(obj)
        node = self.tree
        for key in parents:
            node = node.setdefault(key, {})
        node[name] = copy.deepcopy(obj)
        self.version += 1

    def remove(self, obj: dict[str, Any]) -> None:
        *parents, name = _location(obj)
        trail = [self.tree]
        for key in parents:
            if key not in trail[-1]:
                return
            trail.append(trail[-1][key])
        trail[-1].pop(name, None)
        for node, key in zip(reversed(trail[:-1]), reversed(parents), strict=True):
            if not node[key]:
                del node[key]
        self.version += 1

    def namespace(self, name: str) -> dict[str, Any] | None:
        """The Namespace object `name`, if it is in the inventory."""
        return self.tree.get("cluster", {}).get("v1", {}).get("Namespace", {}).get(name)
