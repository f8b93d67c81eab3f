"""The benchmark workflows, generated at any size (the shapes of shared/oracle/workloads)."""

from __future__ import annotations

from typing import Any


def chain(n: int) -> str:
    lines = ["version: '2.0'", f"chain{n}:", "  tasks:"]
    for i in range(1, n + 1):
        lines += [f"    t{i:06d}:", "      action: std.noop"]
        if i < n:
            lines += ["      on-success:", f"        - t{i + 1:06d}"]
    return "\n".join(lines) + "\n"


def items(n: int, concurrency: int = 0) -> str:
    name = f"items{n}" + (f"_c{concurrency}" if concurrency else "")
    limit = f"      concurrency: {concurrency}\n" if concurrency else ""
    return (
        "version: '2.0'\n"
        f"{name}:\n"
        "  input:\n    - xs\n"
        "  output:\n    count: <% len($.results) %>\n"
        "  tasks:\n"
        "    echo_each:\n"
        "      with-items: x in <% $.xs %>\n"
        f"{limit}"
        "      action: std.echo output=<% $.x %>\n"
        "      publish:\n        results: <% task().result %>\n"
    )


def fanout(n: int) -> str:
    lines = [
        "version: '2.0'",
        f"fanout{n}:",
        "  tasks:",
        "    start:",
        "      action: std.noop",
        "      on-success:",
    ]
    lines += [f"        - b{i:05d}" for i in range(1, n + 1)]
    for i in range(1, n + 1):
        lines += [f"    b{i:05d}:", "      action: std.noop", "      on-success:", "        - join"]
    lines += ["    join:", "      join: all", "      action: std.noop"]
    return "\n".join(lines) + "\n"


def publish_big(n: int, jinja: bool = False) -> str:
    """``n`` chained tasks, each echoes ``$.blob`` and publishes the result; ``jinja``:
    the same in Jinja (``{{ _.blob }}``, ``{{ task().result }}``)."""
    name = f"publish_big{'_jinja' if jinja else ''}{n}"
    last_len = f'"{{{{ _.v{n:04d} | length }}}}"' if jinja else f"<% len($.v{n:04d}) %>"
    echo = "{{ _.blob }}" if jinja else "<% $.blob %>"
    result = '"{{ task().result }}"' if jinja else "<% task().result %>"
    lines = [
        "version: '2.0'",
        f"{name}:",
        "  input:",
        "    - blob",
        "  output:",
        f"    vars: {n}",
        f"    last_len: {last_len}",
        "  tasks:",
    ]
    for i in range(1, n + 1):
        lines += [
            f"    t{i:04d}:",
            f"      action: std.echo output={echo}",
            "      publish:",
            f"        v{i:04d}: {result}",
        ]
        if i < n:
            lines += ["      on-success:", f"        - t{i + 1:04d}"]
    return "\n".join(lines) + "\n"


def chain10() -> str:
    return chain(10)


#: name -> (definition, input, executions to start, expected task executions per execution,
#:          check of the output)
def workload(name: str, scale: int = 1) -> dict[str, Any]:
    if name == "chain100":
        n = 100 * scale
        return {"text": chain(n), "input": {}, "runs": 1, "tasks": n, "output": None}
    if name == "items1000":
        n = 1000 * scale
        return {
            "text": items(n),
            "input": {"xs": list(range(n))},
            "runs": 1,
            "tasks": 1,
            "output": {"count": n},
        }
    if name == "items1000_c10":
        n = 1000 * scale
        return {
            "text": items(n, 10),
            "input": {"xs": list(range(n))},
            "runs": 1,
            "tasks": 1,
            "output": {"count": n},
        }
    if name == "fanout200":
        n = 200 * scale
        return {"text": fanout(n), "input": {}, "runs": 1, "tasks": n + 2, "output": None}
    if name == "par100":
        return {"text": chain(10), "input": {}, "runs": 100 * scale, "tasks": 10, "output": None}
    if name == "publish_big":
        n = 50 * scale
        return {
            "text": publish_big(n),
            "input": {"blob": "x" * 10240},
            "runs": 1,
            "tasks": n,
            "output": {"vars": n, "last_len": 10240},
        }
    if name == "publish_big_jinja":
        n = 50 * scale
        return {
            "text": publish_big(n, jinja=True),
            "input": {"blob": "x" * 10240},
            "runs": 1,
            "tasks": n,
            "output": {"vars": n, "last_len": 10240},
        }
    raise KeyError(name)


#: What bench/run.py runs by default (the peers' six).
NAMES = ["chain100", "items1000", "items1000_c10", "fanout200", "par100", "publish_big"]
#: More workloads bench/run.py knows (``--workloads publish_big_jinja``).
EXTRA_NAMES = ["publish_big_jinja"]
