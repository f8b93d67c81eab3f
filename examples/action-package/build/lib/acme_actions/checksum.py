"""``acme.checksum``: a synchronous action that returns a value or an error result."""

from __future__ import annotations

import hashlib
from typing import Any

from mistral_lib import actions


class Checksum(actions.Action):
    """Returns the hex digest of ``text`` with ``algorithm`` (sha256, sha1, md5, ...)."""

    def __init__(self, text: str, algorithm: str = "sha256") -> None:
        # The constructor's parameters are the action's input: `text` is required,
        # `algorithm` optional. Mistral and Sirocco show them as: text, algorithm="sha256"
        super().__init__()
        self.text = text
        self.algorithm = algorithm

    def run(self, context: Any) -> Any:
        if self.algorithm not in hashlib.algorithms_available:
            # An error result: the task fails and `task().result` is this data,
            # which an `on-error` branch can read.
            return actions.Result(error={"unknown_algorithm": self.algorithm})
        digest = hashlib.new(self.algorithm, self.text.encode()).hexdigest()
        # Any JSON value is a successful result (so is Result(data=...)).
        return {"algorithm": self.algorithm, "digest": digest}

    def test(self, context: Any) -> Any:
        # What older Mistral called instead of run() in a dry run. The Action of
        # mistral-lib 3 no longer declares it, and Sirocco never calls it.
        return {"algorithm": self.algorithm, "digest": "0" * 64}
