"""Limits on what a YAML document may cost to read: nesting depth and alias expansion.

PyYAML's C composer recurses once per nesting level in C, so 100,000 `[` crash the process, and aliases let a
few hundred bytes stand for billions of nodes ("billion laughs"), which cost memory and minutes once anything
walks the result. `BoundedComposer` composes in Python over the (C or Python) parser's events and refuses a
document that nests deeper than MAX_DEPTH, whose aliases would add more than MAX_ALIAS_NODES nodes when
expanded, or whose alias refers to the collection it is inside (a recursive structure JSON cannot hold); an
integer too long for Python to convert is refused too.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .loader import MAX_ALIAS_NODES, MAX_DEPTH, too_many_digits


class LimitError(yaml.YAMLError):
    """A document that parses but is refused: too deep, too many alias expansions, or recursive."""

    def __init__(self, reason: str, mark: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.problem_mark = mark

    def __str__(self) -> str:
        mark = self.problem_mark
        return f"{self.reason} (line {mark.line + 1}, column {mark.column + 1})" if mark else self.reason


class BoundedComposer(Composer):
    """PyYAML's composer with the limits above. Put it before the parser class in a loader's bases."""

    _depth = 0
    _alias_nodes = 0
    _sizes: dict[int, int]

    def compose_document(self) -> Node | None:
        self._depth, self._alias_nodes, self._sizes = 0, 0, {}
        try:
            return super().compose_document()
        finally:
            self._sizes = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if self.check_event(AliasEvent):
            node = self.anchors.get(event.anchor)
            if node is not None:
                self._count_alias(node, event)
            return super().compose_node(parent, index)  # also reports an undefined alias
        if not self.check_event(SequenceStartEvent, MappingStartEvent):
            node = super().compose_node(parent, index)
            self._sizes[id(node)] = 1
            return node
        if self._depth >= MAX_DEPTH:
            raise LimitError(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._sizes[id(node)] = 1 + sum(self._sizes[id(child)] for child in _children(node))
        return node

    def _count_alias(self, node: Node, event: Any) -> None:
        size = self._sizes.get(id(node))
        if size is None:  # the anchored collection is still being composed: the alias is inside it
            raise LimitError(f"alias *{event.anchor} refers to a collection that contains it", event.start_mark)
        self._alias_nodes += size
        if self._alias_nodes > MAX_ALIAS_NODES:
            raise LimitError(
                f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes (a 'billion laughs' document?)",
                event.start_mark,
            )


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def bounded_loader(base: type) -> type:
    """A subclass of the PyYAML loader class `base` (SafeLoader, CSafeLoader, ...) that composes with
    BoundedComposer."""

    class _Bounded(BoundedComposer, base):  # type: ignore[misc,valid-type]
        def __init__(self, stream: Any) -> None:
            base.__init__(self, stream)
            Composer.__init__(self)

        def construct_yaml_int(self, node: ScalarNode) -> int:
            """An integer Python refuses to convert (over 4,300 digits) is refused input, not a crash."""
            try:
                return super().construct_yaml_int(node)
            except ValueError:
                raise LimitError(too_many_digits(node.value), node.start_mark) from None

    _Bounded.add_constructor("tag:yaml.org,2002:int", _Bounded.construct_yaml_int)
    _Bounded.__name__ = _Bounded.__qualname__ = f"Bounded{base.__name__}"
    return _Bounded
