"""``make run``, the README's first command, ends with one clear summary line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_make_run_ends_with_a_summary(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = Path(sys.prefix)
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith("SIROCCO_")},
        "XDG_DATA_HOME": str(tmp_path),  # the default database of `sirocco run`
        "PYTHONWARNINGS": "ignore",
    }
    done = subprocess.run(
        # -o: take the installed venv as it is (installing is not what is tested here).
        ["make", "--no-print-directory", "-o", f"{venv}/.installed", "run", f"VENV={venv}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    count = len(list((ROOT / "examples").glob("*.yaml"))) + len(
        list((ROOT / "examples" / "reference").glob("*.yaml"))
    )
    assert lines[-1] == (
        f"make run: OK: {count} example files valid; examples/hello.yaml ran to SUCCESS "
        "(its output above)"
    )
    assert '"summary": "3 friends greeted"' in done.stdout
    assert "examples/hello.yaml: ok" not in done.stdout  # the validation lines stay quiet
    assert (tmp_path / "sirocco" / "sirocco.sqlite").exists()
