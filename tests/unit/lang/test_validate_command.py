"""``sirocco validate FILE...``: one line per file and the exit code."""

from __future__ import annotations

import io
import pathlib

import pytest

from sirocco.cli.validate import validate_command


def write(folder: pathlib.Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def test_valid_files_of_every_kind(tmp_path: pathlib.Path) -> None:
    flows = write(
        tmp_path,
        "flows.yaml",
        "version: '2.0'\na:\n  tasks: {t: {action: std.noop}}\n"
        "b:\n  tasks: {t: {action: std.noop}}\n",
    )
    actions = write(
        tmp_path, "actions.yaml", "version: '2.0'\nhello:\n  base: std.echo output=hi\n"
    )
    book = write(
        tmp_path,
        "book.yaml",
        "version: '2.0'\nname: wb\nworkflows:\n  w:\n    tasks: {t: {action: std.noop}}\n"
        "actions:\n  a:\n    base: std.noop\n",
    )
    out = io.StringIO()
    assert validate_command([flows, actions, book], out=out) == 0
    assert out.getvalue().splitlines() == [
        f"{flows}: ok: 2 workflows, 0 actions",
        f"{actions}: ok: 0 workflows, 1 actions",
        f"{book}: ok: 1 workflows, 1 actions",
    ]


def test_an_invalid_file_gives_one_line_with_every_problem(tmp_path: pathlib.Path) -> None:
    good = write(tmp_path, "good.yaml", "version: '2.0'\nwf:\n  tasks: {t: {action: std.noop}}\n")
    bad = write(
        tmp_path,
        "bad.yaml",
        "version: '2.0'\nwf:\n  tasks:\n    t1:\n      on-success: t9\n      timeout: soon\n",
    )
    out = io.StringIO()
    assert validate_command([good, bad], out=out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{good}: ok: 1 workflows, 0 actions"
    assert lines[1] == (
        f"{bad}: error: line 5, workflow 'wf', task 't1', on-success: Task 't9' not found.; "
        "line 6, workflow 'wf', task 't1', timeout: must be a non-negative integer or an "
        "expression such as '<% $.x %>', not the text 'soon'"
    )
    assert len(lines) == 2


def test_invalid_yaml_and_missing_files(tmp_path: pathlib.Path) -> None:
    broken = write(tmp_path, "broken.yaml", "version: '2.0'\nwf: [\n")
    missing = str(tmp_path / "missing.yaml")
    out = io.StringIO()
    assert validate_command([broken, missing], out=out) == 1
    assert out.getvalue().splitlines() == [
        f"{broken}: error: line 3, Definition could not be parsed: while parsing a flow node: "
        "expected the node content, but found '<stream end>'",
        f"{missing}: error: cannot read the file: No such file or directory",
    ]


def test_it_prints_to_standard_output_by_default(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "x.yaml", "version: '2.0'\nwf:\n  tasks: {t: {action: std.noop}}\n")
    assert validate_command([path]) == 0
    assert capsys.readouterr().out == f"{path}: ok: 1 workflows, 0 actions\n"


def test_the_examples_are_all_valid() -> None:
    out = io.StringIO()
    root = pathlib.Path(__file__).resolve().parents[3] / "examples"
    paths = sorted(str(path) for path in root.glob("**/*.yaml"))
    assert len(paths) >= 25
    assert validate_command(paths, out=out) == 0
    assert all(": ok: " in line for line in out.getvalue().splitlines())
