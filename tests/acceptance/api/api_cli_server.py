"""The running server the CLI tests talk to, and how they run the real ``mistral`` CLI."""

from __future__ import annotations

import io
import json
import logging
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mistralclient import shell

from sirocco.cli.embedded import Embedded


@dataclass
class Server:
    url: str
    embedded: Embedded
    folder: Path

    def mistral(self, *args: str) -> tuple[int, str, str]:
        """Run the ``mistral`` CLI (its own entry point, in this process) against the server."""
        out, err = io.StringIO(), io.StringIO()
        handler = logging.StreamHandler(err)
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = shell.main(["--os-mistral-url", self.url, *args])
        finally:
            root.removeHandler(handler)
        return int(code or 0), out.getvalue(), err.getvalue()

    def ok(self, *args: str) -> str:
        code, out, err = self.mistral(*args)
        assert code == 0, f"mistral {' '.join(args)} failed ({code}): {err}{out}"
        return out

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-f", "json"))

    def names(self, *args: str) -> list[str]:
        """The names a list command prints (the CLI shows one blank row for an empty list)."""
        return [item["Name"] for item in self.json(*args) if item["Name"]]

    def file(self, name: str, text: str) -> str:
        path = self.folder / name
        path.write_text(text)
        return str(path)
