"""Count the modules of a package that sit in an import cycle (a fact anyone can rerun).

    python bench/import_cycles.py                  # sirocco.engine
    python bench/import_cycles.py sirocco.runtime

Reads the import graph with grimp (which import-linter ships), keeps the
imports between modules of the package, and finds its strongly connected
components: every component of more than one module is a cycle. The
engine's layers contract (pyproject.toml) keeps its count at 0; before the
engine became a pipeline it was 7 (dispatch, joins, lifecycle, policies,
running, tasks, with_items).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grimp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def cycles(package: str) -> list[list[str]]:
    """The import cycles among the modules of ``package``, each sorted, largest first."""
    graph = grimp.build_graph(package.split(".")[0])
    modules = sorted(
        module for module in graph.modules if module == package or module.startswith(package + ".")
    )
    inside = set(modules)
    edges = {
        module: sorted(set(graph.find_modules_directly_imported_by(module)) & inside)
        for module in modules
    }
    found = [sorted(group) for group in _components(modules, edges) if len(group) > 1]
    return sorted(found, key=len, reverse=True)


def _components(modules: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            module, position = work.pop()
            if position == 0:
                index[module] = low[module] = len(index)
                stack.append(module)
                on_stack.add(module)
            targets = edges[module]
            if position < len(targets):
                work.append((module, position + 1))
                target = targets[position]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            for target in targets:
                if target in on_stack:
                    low[module] = min(low[module], low[target])
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                groups.append(group)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", nargs="?", default="sirocco.engine")
    args = parser.parse_args()
    found = cycles(args.package)
    print(f"modules of {args.package} in import cycles: {sum(len(group) for group in found)}")
    for group in found:
        print("  " + ", ".join(group))


if __name__ == "__main__":
    main()
