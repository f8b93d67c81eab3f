"""A laid-out graph as SVG markup, written directly (a graph of 2,000 tasks is ~1 MB of
markup: a template engine call per node took most of the page's time).

Edges carry their kind as a class (colour and dash) and, in graphs of up to
:data:`LABELLED_EDGES` edges, as a text label; beyond that the labels cost the
browser more than they tell (each is drawn with a halo), and the legend says
which colour is which.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Protocol

from markupsafe import Markup

from sirocco.api.ui import layout

LABELLED_EDGES = 300


class Status(Protocol):
    """What a node shows of its task's latest run (``views.TaskStatus``)."""

    task_id: str
    state: str
    status: str
    sub_execution_id: str


def draw(
    drawn: layout.Layout, statuses: Mapping[str, Status], *, workflow_view: bool = False
) -> Markup:
    """The ``<svg>`` of ``drawn``; nodes show ``statuses`` (none on a workflow's page)."""
    width, height = drawn.width, drawn.height
    parts = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="Task graph">'
    ]
    labelled = len(drawn.routes) <= LABELLED_EDGES
    for route in drawn.routes:
        edge = route.edge
        kind = f"edge edge-{escape(edge.label)}"
        if not labelled:
            parts.append(f'<path class="{kind}" d="{route.path}"/>')
            continue
        title = (
            f"<title>{escape(edge.label)}: {escape(edge.condition)}</title>"
            if edge.condition
            else ""
        )
        parts.append(
            f'<g class="{kind}"><path d="{route.path}"/><text x="{route.label_x}" '
            f'y="{route.label_y}">{escape(edge.label)}</text>{title}</g>'
        )
    for placed in drawn.nodes:
        parts.append(_node(placed, statuses.get(placed.node.key), workflow_view))
    parts.append("</svg>")
    return Markup("".join(parts))


def _node(placed: layout.PlacedNode, status: Status | None, workflow_view: bool) -> str:
    node = placed.node
    classes = f"node kind-{node.kind}"
    if node.join:
        classes += " join"
    if node.with_items:
        classes += " with-items"
    classes += f" state-{escape(status.state) if status else 'NONE'}"
    notes = [f"join: {node.join}"] if node.join else []
    notes += ["with-items"] if node.with_items else []
    # A tooltip only where the box does not say it all (each costs the browser a node).
    title = f"<title>{escape(node.name)} ({', '.join(notes)})</title>" if notes else ""
    link = ""
    if status is not None:
        link = f' href="/ui/tasks/{escape(status.task_id)}" data-task-id="{escape(status.task_id)}"'
    if status is not None:
        line = status.status
    elif node.kind == "command":
        line = "engine command"
    elif workflow_view:
        line = _short(node.target, 22)
        if node.join:
            line += f" · join {node.join}"
        if node.with_items:
            line += " · items"
    else:
        line = "not started"
    sub = ""
    if node.kind == "workflow":
        if workflow_view:
            href = f"/ui/workflows/{node.target}"
        elif status is not None and status.sub_execution_id:
            href = f"/ui/executions/{status.sub_execution_id}"
        else:
            href = ""
        hidden = "" if href else ' display="none"'
        sub = (
            f'<a class="sub-link" href="{escape(href)}"{hidden}><text x="182" y="19" '
            'text-anchor="end">open ↳</text><title>Open the sub-workflow</title></a>'
        )
    return (
        f'<g class="{classes}" data-task="{escape(node.key)}" '
        f'transform="translate({placed.x},{placed.y})">{title}'
        f'<a class="task-link"{link}><rect width="{layout.NODE_WIDTH}" '
        f'height="{layout.NODE_HEIGHT}" rx="7"/><text class="node-name" x="10" y="19">'
        f'{escape(_short(node.name, 24))}</text><text class="node-status" x="10" y="37">'
        f"{escape(line)}</text></a>{sub}</g>"
    )


def _short(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
