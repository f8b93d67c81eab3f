"""A layered (Sugiyama-style) drawing of a task graph, computed once in Python.

Steps: edges that close a cycle are turned around (found by a depth-first
walk), each node goes on the layer after its deepest predecessor (longest
path), nodes in a layer are ordered by the mean position of their neighbours
(a few sweeps down and up, which removes most crossings), and a layer wider
than :data:`ROW_SIZE` nodes wraps onto several rows. Each step is linear in
nodes and edges, so a graph of thousands of tasks is laid out in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sirocco.api.ui.graph import Edge, Graph, Node

NODE_WIDTH = 190
NODE_HEIGHT = 46
GAP_X = 30
GAP_Y = 64
MARGIN = 20
ROW_SIZE = 24
SWEEPS = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacedNode:
    """A node and the top-left corner of its box."""

    node: Node
    x: int
    y: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """An edge as an SVG path, and where its label goes."""

    edge: Edge
    path: str
    label_x: int
    label_y: int
    backwards: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """A laid-out graph: the size of the drawing, its boxes and its routes."""

    width: int
    height: int
    nodes: tuple[PlacedNode, ...]
    routes: tuple[Route, ...]


def lay_out(graph: Graph) -> Layout:
    """Place every node of ``graph`` and route every edge."""
    keys = [node.key for node in graph.nodes]
    known = set(keys)
    edges = [edge for edge in graph.edges if edge.source in known and edge.target in known]
    backwards = _backward_edges(keys, edges)
    forward = [
        (edge.target, edge.source) if id(edge) in backwards else (edge.source, edge.target)
        for edge in edges
        if edge.source != edge.target
    ]
    layers = _ordered_layers(keys, forward)
    positions = _coordinates(layers)
    width = max((x for x, _ in positions.values()), default=0) + NODE_WIDTH + MARGIN
    height = max((y for _, y in positions.values()), default=0) + NODE_HEIGHT + MARGIN
    placed = tuple(
        PlacedNode(node=node, x=positions[node.key][0], y=positions[node.key][1])
        for node in graph.nodes
    )
    routes = tuple(_route(edge, positions, id(edge) in backwards) for edge in edges)
    return Layout(width=width + MARGIN, height=height, nodes=placed, routes=routes)


def _backward_edges(keys: Sequence[str], edges: Sequence[Edge]) -> set[int]:
    """The ids of the edges that close a cycle (iterative depth-first walk)."""
    outgoing: dict[str, list[Edge]] = {key: [] for key in keys}
    for edge in edges:
        outgoing[edge.source].append(edge)
    state: dict[str, int] = {}  # 1: on the walk's path, 2: done
    backwards: set[int] = set()
    for root in keys:
        if root in state:
            continue
        state[root] = 1
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            key, position = stack[-1]
            if position == len(outgoing[key]):
                state[key] = 2
                stack.pop()
                continue
            stack[-1] = (key, position + 1)
            edge = outgoing[key][position]
            seen = state.get(edge.target)
            if seen == 1:
                backwards.add(id(edge))
            elif seen is None:
                state[edge.target] = 1
                stack.append((edge.target, 0))
    return backwards


def _ordered_layers(keys: Sequence[str], links: Sequence[tuple[str, str]]) -> list[list[str]]:
    """Layers by longest path, each ordered by the barycentre of its neighbours."""
    successors: dict[str, list[str]] = {key: [] for key in keys}
    predecessors: dict[str, list[str]] = {key: [] for key in keys}
    for source, target in links:
        successors[source].append(target)
        predecessors[target].append(source)
    waiting = {key: len(predecessors[key]) for key in keys}
    layer_of = {key: 0 for key in keys}
    ready = [key for key in keys if waiting[key] == 0]
    while ready:
        key = ready.pop()
        for target in successors[key]:
            layer_of[target] = max(layer_of[target], layer_of[key] + 1)
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    layers: list[list[str]] = [[] for _ in range(max(layer_of.values(), default=-1) + 1)]
    for key in keys:  # definition order is the first guess
        layers[layer_of[key]].append(key)
    position = {key: index for row in layers for index, key in enumerate(row)}
    for sweep in range(SWEEPS):
        downwards = sweep % 2 == 0
        sequence = range(1, len(layers)) if downwards else range(len(layers) - 2, -1, -1)
        neighbours = predecessors if downwards else successors
        for number in sequence:
            layers[number] = _by_barycentre(layers[number], neighbours, position)
            position.update((key, index) for index, key in enumerate(layers[number]))
    return layers


def _by_barycentre(
    layer: list[str], neighbours: Mapping[str, list[str]], position: Mapping[str, int]
) -> list[str]:
    def weight(item: tuple[int, str]) -> float:
        index, key = item
        around = [position[other] for other in neighbours[key] if other in position]
        return sum(around) / len(around) if around else float(index)

    return [key for _, key in sorted(enumerate(layer), key=weight)]


def _coordinates(layers: list[list[str]]) -> dict[str, tuple[int, int]]:
    """Top-left corners: each layer centred, wrapped onto rows of ROW_SIZE."""
    rows = [
        layer[start : start + ROW_SIZE]
        for layer in layers
        for start in range(0, len(layer), ROW_SIZE)
    ]
    widest = max((len(row) for row in rows), default=0)
    full_width = widest * (NODE_WIDTH + GAP_X) - GAP_X
    positions: dict[str, tuple[int, int]] = {}
    for number, row in enumerate(rows):
        row_width = len(row) * (NODE_WIDTH + GAP_X) - GAP_X
        left = MARGIN + (full_width - row_width) // 2
        top = MARGIN + number * (NODE_HEIGHT + GAP_Y)
        for index, key in enumerate(row):
            positions[key] = (left + index * (NODE_WIDTH + GAP_X), top)
    return positions


def _route(edge: Edge, positions: Mapping[str, tuple[int, int]], backwards: bool) -> Route:
    source_x, source_y = positions[edge.source]
    target_x, target_y = positions[edge.target]
    if backwards or target_y <= source_y:
        # Out of the source's right side, round and into the target's right side.
        start_x, start_y = source_x + NODE_WIDTH, source_y + NODE_HEIGHT // 2
        end_x, end_y = target_x + NODE_WIDTH, target_y + NODE_HEIGHT // 2
        bulge = max(start_x, end_x) + 40 + abs(start_y - end_y) // 8
        path = (
            f"M{start_x},{start_y} C{bulge},{start_y} {bulge},{end_y} {end_x},{end_y}"
            f" M{end_x + 7},{end_y - 4} L{end_x},{end_y} L{end_x + 7},{end_y + 4}"
        )
        return Route(
            edge=edge,
            path=path,
            label_x=bulge - 10,
            label_y=(start_y + end_y) // 2,
            backwards=True,
        )
    start_x, start_y = source_x + NODE_WIDTH // 2, source_y + NODE_HEIGHT
    end_x, end_y = target_x + NODE_WIDTH // 2, target_y
    middle = (start_y + end_y) // 2
    # The arrowhead is part of the path: SVG markers cost Chromium ~0.5 ms an edge to draw.
    path = (
        f"M{start_x},{start_y} C{start_x},{middle} {end_x},{middle} {end_x},{end_y}"
        f" M{end_x - 4},{end_y - 7} L{end_x},{end_y} L{end_x + 4},{end_y - 7}"
    )
    return Route(
        edge=edge,
        path=path,
        label_x=(start_x + end_x) // 2,
        label_y=middle,
        backwards=False,
    )
