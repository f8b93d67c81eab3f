"""Whole documents (workflow lists, ad-hoc action lists, workbooks) and each item's definition text.

What Mistral stores as an item's ``definition`` (and shows through its API):

* a workflow document with one workflow: the whole text; with several: each
  workflow dumped again as YAML on its own (``version`` + that workflow);
* an action document: the whole text, for every action in it;
* a workbook: for each workflow and action, its lines cut out of the
  workbook text (they carry no ``version``; :func:`read_workflows` and
  :func:`read_actions` accept that when told the workbook).

``version`` follows Mistral's schemas: workflow and action documents need a
non-empty string or a non-negative number (Mistral 23 accepts ``'v2.0'``,
which its own documentation uses); workbooks need 2.0.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import yaml

from sirocco.lang import checks
from sirocco.lang.actions import parse_action
from sirocco.lang.frozen import FrozenDict
from sirocco.lang.loading import LoadedDocument, Path
from sirocco.lang.problems import Report, kind_of
from sirocco.lang.specs import (
    ActionsDocument,
    ActionSpec,
    WorkbookSpec,
    WorkflowsDocument,
    WorkflowSpec,
)
from sirocco.lang.workflows import parse_workflow

__all__ = ["read_actions", "read_workbook", "read_workflows"]

_WORKBOOK_KEYS = ("version", "name", "description", "tags", "workflows", "actions")
_WORKBOOK_ITEM_NAME = re.compile(r"^[\w-]+$")


class _Dumper(yaml.SafeDumper):
    """Dumps plain data without anchors, as Mistral re-dumps a workflow."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def read_workflows(
    document: LoadedDocument, text: str, workbook: str | None
) -> tuple[WorkflowsDocument, Report]:
    """The workflows of a workflow document (names prefixed with ``workbook.`` when given)."""
    report = Report(document, prefix=("workflows",))
    found: dict[str, WorkflowSpec] = {}
    data = _top_mapping(report, document.data, "workflow names to workflows")
    if data is None:
        return WorkflowsDocument(workflows=FrozenDict()), report
    _check_version(report, data, required=workbook is None)
    names = [name for name in data if name != "version"]
    if not names:
        report.add((), "the document has no workflow (at least one is needed besides 'version')")
    _report_duplicates(report, document, (), "workflows", "workflow")
    for name in names:
        full_name = f"{workbook}.{name}" if workbook else str(name)
        spec = parse_workflow(
            report,
            ("workflows", name),
            name,
            data[name],
            full_name=full_name,
            workbook=workbook,
            duplicate_tasks=_duplicates_in(document, (name, "tasks")),
        )
        if spec is not None:
            found[full_name] = spec
    if len(names) > 1 and not report:
        for name in names:
            full_name = f"{workbook}.{name}" if workbook else str(name)
            found[full_name] = _with_definition(found[full_name], _dump(data, name))
    elif not report:
        found = {key: _with_definition(spec, text) for key, spec in found.items()}
    return WorkflowsDocument(workflows=FrozenDict(found)), report


def read_actions(
    document: LoadedDocument, text: str, workbook: str | None
) -> tuple[ActionsDocument, Report]:
    """The ad-hoc actions of an action document; each keeps the whole text as its definition."""
    report = Report(document, prefix=("actions",))
    data = _top_mapping(report, document.data, "action names to actions")
    if data is None:
        return ActionsDocument(actions=FrozenDict()), report
    _check_version(report, data, required=workbook is None)
    names = [name for name in data if name != "version"]
    if not names:
        report.add((), "the document has no action (at least one is needed besides 'version')")
    _report_duplicates(report, document, (), "actions", "action")
    found: dict[str, ActionSpec] = {}
    for name in names:
        full_name = f"{workbook}.{name}" if workbook and isinstance(name, str) else str(name)
        spec = parse_action(
            report, ("actions", name), name, data[name], full_name=full_name, workbook=workbook
        )
        if spec is not None:
            found[full_name] = _with_definition(spec, text)
    return ActionsDocument(actions=FrozenDict(found)), report


def read_workbook(document: LoadedDocument, text: str) -> tuple[WorkbookSpec | None, Report]:
    """A workbook: its workflows and actions named ``<workbook>.<name>``."""
    report = Report(document)
    data = _top_mapping(report, document.data, "workbook keywords")
    if data is None:
        return None, report
    checks.known_keys(report, (), data, _WORKBOOK_KEYS)
    if "version" not in data:
        report.add(("version",), "'version' is required (version: '2.0')", line=1)
    elif not _is_version_two(data["version"]):
        report.add(("version",), f"Unsupported DSL version: {data['version']!r} (use '2.0')")
    name = data.get("name")
    if "name" not in data:
        report.add(("name",), "'name' is required for a workbook", line=1)
    elif checks.nonempty_string(report, ("name",), name) and " " in str(name):
        report.add(("name",), f"the workbook name {name!r} must not contain spaces")
    values: dict[str, Any] = {"name": name if isinstance(name, str) else "", "definition": text}
    if "description" in data and checks.nonempty_string(
        report, ("description",), data["description"]
    ):
        values["description"] = data["description"]
    if "tags" in data and checks.unique_string_list(report, ("tags",), data["tags"]):
        values["tags"] = tuple(data["tags"])
    workbook = values["name"]
    workflows: dict[str, WorkflowSpec] = {}
    for item, body in _workbook_section(report, data, "workflows", "workflow"):
        spec = parse_workflow(
            report,
            ("workflows", item),
            item,
            body,
            full_name=f"{workbook}.{item}",
            workbook=workbook,
            duplicate_tasks=_duplicates_in(document, ("workflows", item, "tasks")),
        )
        if spec is not None:
            cut = _cut(text, "workflows:", item) or _dump({}, item, body)
            workflows[spec.name] = _with_definition(spec, cut)
    actions: dict[str, ActionSpec] = {}
    for item, body in _workbook_section(report, data, "actions", "action"):
        action = parse_action(
            report, ("actions", item), item, body, full_name=f"{workbook}.{item}", workbook=workbook
        )
        if action is not None:
            cut = _cut(text, "actions:", item) or _dump({}, item, body)
            actions[action.name] = _with_definition(action, cut)
    if report:
        return None, report
    values["workflows"] = FrozenDict(workflows)
    values["actions"] = FrozenDict(actions)
    return WorkbookSpec(**values), report


def _top_mapping(report: Report, data: Any, what: str) -> dict[Any, Any] | None:
    if isinstance(data, dict):
        return data
    report.add((), f"a definition must be a mapping of {what}, not {kind_of(data)}", line=1)
    return None


def _is_version_two(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return False
    try:
        return float(value) == 2.0
    except ValueError:
        return False


def _check_version(report: Report, data: dict[Any, Any], *, required: bool) -> None:
    if "version" not in data:
        if required:
            report.add(("version",), "'version' is required (version: '2.0')", line=1)
        return
    value = data["version"]
    if isinstance(value, bool) or not (
        (isinstance(value, str) and value) or (isinstance(value, (int, float)) and value >= 0)
    ):
        shown = checks.shown(value) if isinstance(value, (str, int, float)) else kind_of(value)
        report.add(("version",), f"Unsupported DSL version: {shown} (use '2.0')")


def _workbook_section(
    report: Report, data: dict[Any, Any], section: str, what: str
) -> list[tuple[str, Any]]:
    if section not in data:
        return []
    body = data[section]
    if not isinstance(body, dict) or not body:
        report.add(
            (section,),
            f"must be a non-empty mapping of {what} names to {what}s, not {kind_of(body)}",
        )
        return []
    _report_duplicates(report, report.document, (section,), section, what)
    items: list[tuple[str, Any]] = []
    for name, item in body.items():
        if name == "version":
            if item not in ("2.0", 2.0) or isinstance(item, bool):
                report.add(
                    (section, "version"),
                    f"Unsupported DSL version: {checks.shown(item)} (use '2.0')",
                )
            continue
        if not isinstance(name, str) or not _WORKBOOK_ITEM_NAME.match(name):
            report.add(
                (section, name),
                f"the {what} name {checks.shown(name)} may only use letters, digits, '_' and '-'",
            )
            continue
        if item is None:
            report.add((section, name), f"must be a mapping describing the {what}, not null")
            continue
        items.append((name, item))
    return items


def _report_duplicates(
    report: Report, document: LoadedDocument, mapping: Path, section: str, what: str
) -> None:
    for duplicate in document.duplicates:
        if duplicate.path == mapping and duplicate.key != "version":
            report.add(
                (section, duplicate.key),
                f"the {what} name is used twice (first at line {duplicate.first_line})",
                line=duplicate.line,
            )


def _duplicates_in(document: LoadedDocument, mapping: Path) -> dict[str, tuple[int, int]]:
    return {
        duplicate.key: (duplicate.line, duplicate.first_line)
        for duplicate in document.duplicates
        if duplicate.path == mapping and isinstance(duplicate.key, str)
    }


def _with_definition(spec: Any, definition: str) -> Any:
    return dataclasses.replace(spec, definition=definition)


def _dump(data: dict[Any, Any], name: str, body: Any = None) -> str:
    """``version`` and one workflow, dumped as Mistral re-dumps each workflow of a document."""
    content: dict[Any, Any] = {}
    if "version" in data:
        content["version"] = data["version"]
    content[name] = data.get(name, body)
    return yaml.dump(content, Dumper=_Dumper, sort_keys=False)


def _cut(text: str, section: str, name: str) -> str | None:
    """The lines of item ``name`` under ``section`` of a workbook text, dedented (Mistral's way).

    Starting after the first ``section`` in the text, the item starts at the
    first line that reads exactly ``name:``; it goes on while lines are more
    indented than that line, or blank, or comments.
    """
    start = text.find(section)
    if start < 0:
        return None
    lines = text[start:].split("\n")[1:]
    header = f"{name}:"
    found: list[str] = []
    indent = 0
    rest = iter(lines)
    for line in rest:
        if line.strip() == header:
            indent = line.index(header)
            found.append(line.lstrip() + "\n")
            break
    if not found:
        return None
    for line in rest:
        stripped = line.strip()
        if not stripped:
            found.append(line + "\n")
        elif stripped.startswith("#"):
            found.append((line if indent > line.index("#") else line[indent:]) + "\n")
        elif len(line) - len(line.lstrip()) > indent:
            found.append(line[indent:] + "\n")
        else:
            break
    return "".join(found).rstrip() + "\n"
