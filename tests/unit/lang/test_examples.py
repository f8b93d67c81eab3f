"""Every example file is valid (``examples/`` and ``examples/reference/``); the conformance cases.

``tests/acceptance/test_examples.py`` runs the ones in ``examples/``.
"""

from __future__ import annotations

import pathlib
import re

import pytest
import yaml

from sirocco import lang
from sirocco.lang import specs

ROOT = pathlib.Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("**/*.yaml"))
REFERENCE = ROOT / "examples" / "reference"
CONFORMANCE = pathlib.Path("/work/shared/conformance/cases")


def test_there_are_examples_and_reference_snippets() -> None:
    assert len(EXAMPLES) >= 25
    assert len(list(REFERENCE.glob("*.yaml"))) >= 15


def test_the_reference_readme_names_every_snippet() -> None:
    readme = (REFERENCE / "README.md").read_text()
    assert sorted(re.findall(r"`(\w+\.yaml)`", readme)) == sorted(
        path.name for path in REFERENCE.glob("*.yaml")
    )


@pytest.mark.parametrize(
    "path", EXAMPLES, ids=[str(path.relative_to(ROOT / "examples")) for path in EXAMPLES]
)
def test_every_documentation_example_is_valid(path: pathlib.Path) -> None:
    document = lang.parse_document(path.read_text(), source=str(path))
    assert isinstance(
        document, (specs.WorkflowsDocument, specs.ActionsDocument, specs.WorkbookSpec)
    )


def test_a_few_documentation_examples_read_as_expected() -> None:
    join = lang.parse_workflows((REFERENCE / "doc_join.yaml").read_text())
    full = join.workflows["full_join"].tasks["wait_for_all_registrations"]
    assert (full.join, join.workflows["full_join"].inbound[full.name]) == (
        "all",
        (
            "register_vm_in_load_balancer",
            "register_vm_in_dns",
            "try_to_do_something_without_registration",
        ),
    )
    assert join.workflows["discriminator"].tasks["wait_for_any_registration"].join == 1
    items = lang.parse_workflows((REFERENCE / "doc_with_items.yaml").read_text())
    create = items.workflows["create_vms"].tasks["create_servers"]
    assert [(item.variable, item.items) for item in create.with_items] == [
        ("vm_name", "<% $.vm_names %>")
    ]
    assert create.input == {
        "name": "<% $.vm_name %>",
        "image": "<% $.image_ref %>",
        "flavor": "<% $.flavor_ref %>",
    }
    book = lang.parse_workbook((REFERENCE / "doc_workbook.yaml").read_text())
    assert book.actions["my_workbook.local_action"].base_input == {
        "output": "<% $.str1 %><% $.str2 %>"
    }


CASES = sorted(CONFORMANCE.glob("*.yaml")) if CONFORMANCE.is_dir() else []


@pytest.mark.skipif(not CASES, reason="the shared conformance cases are not here")
@pytest.mark.parametrize("path", CASES, ids=[path.name for path in CASES])
def test_conformance_case_definitions(path: pathlib.Path) -> None:
    case = yaml.safe_load(path.read_text())
    expect_error = "create_error" in case.get("expect", {})
    for key, parse in (
        ("workflow", lang.parse_workflows),
        ("actions", lang.parse_actions),
        ("workbook", lang.parse_workbook),
    ):
        if key not in case:
            continue
        if expect_error:
            with pytest.raises(Exception, match="line"):
                parse(case[key])
        else:
            parse(case[key])
