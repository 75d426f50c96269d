"""`data.inventory`: objects templates can look up, laid out as Gatekeeper stores them.

Cluster-scoped: `cluster[groupVersion][Kind][name]`; namespaced: `namespace[ns][groupVersion][Kind][name]`.
Namespace objects held here also answer the matcher's namespace lookups.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ReviewError
from .jsonvalue import json_problem
from .loader import meta_string, object_id


def _location(obj: Any) -> list[str]:
    if not isinstance(obj, dict):
        raise ReviewError("inventory data must be a Kubernetes object")
    group_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(group_version, str) or not group_version or not isinstance(kind, str) or not kind:
        if not group_version or not kind:
            problem = f"has no {'version' if not group_version else 'kind'}"
        else:
            problem = f"has a{'n apiVersion' if not isinstance(group_version, str) else ' kind'} that is not a string"
        raise ReviewError(f"resource {object_id(obj) or '<unknown>'} {problem}")
    reason = json_problem(obj)
    if reason:
        raise ReviewError(f"resource {object_id(obj)} cannot be inventory data: {reason}")
    name = meta_string(obj, "name")  # Gatekeeper keeps unnamed objects under ""
    namespace = meta_string(obj, "namespace")
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
