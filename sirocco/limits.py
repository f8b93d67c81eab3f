"""The limits that keep one workflow from taking the service down, as one frozen value.

Every layer reads the part it enforces: the expression evaluators the sizes
and times of one evaluation, the engine the with-items cap and the
sub-workflow depth, the runtime and the API the size of stored fields and of
request bodies, the ``std.javascript`` action its time and memory. The
process settings (``sirocco.settings``) build it from ``SIROCCO_*``
variables and command-line options; the defaults below are what a process
uses when nothing is set. A limit of ``-1`` means no limit.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """What one evaluation, task, execution, request and action may use.

    Attributes:
        expression_max_items: the most items any collection an expression
            iterates or builds may have (YAQL's ``limit_iterators``).
        expression_max_bytes: the largest value (string, number, collection's
            own size) one step of an expression may produce, in bytes (YAQL's
            ``memory_quota``); strings a Jinja template renders count too.
        expression_timeout: seconds one expression may evaluate.
        step_expression_timeout: seconds all expressions of one engine step
            (the events of one execution applied together) may evaluate.
        with_items_max_items: the most items one with-items task may have.
        subworkflow_max_depth: how deep sub-workflows may nest below the root
            execution (the root's children are at depth 1).
        field_size_limit_kb: the largest input, output, params, published
            data or action result one execution record may store, in KiB
            (Mistral's ``execution_field_size_limit_kb``).
        request_max_bytes: the largest HTTP request body the API reads.
        javascript_timeout: seconds one ``std.javascript`` call may run.
        javascript_max_memory_mb: MiB of heap one ``std.javascript`` call may use.
    """

    expression_max_items: int = 1_000_000
    expression_max_bytes: int = 16 * MIB
    expression_timeout: float = 10.0
    step_expression_timeout: float = 60.0
    with_items_max_items: int = 1_000_000
    subworkflow_max_depth: int = 100
    field_size_limit_kb: int = 1024
    request_max_bytes: int = 64 * MIB
    javascript_timeout: float = 10.0
    javascript_max_memory_mb: int = 256


DEFAULT = Limits()
