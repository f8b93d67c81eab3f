"""YAQL and Jinja expressions as Mistral evaluates them, with Mistral's functions.

Public interface:

- :func:`evaluate` evaluates the expressions inside a value against a data context;
- :func:`has_expressions` tells whether a value holds any expression;
- :func:`validate` and :func:`validate_value` report syntax problems;
- :class:`Functions` is what the engine supplies for ``task()``, ``tasks()``,
  ``execution()``, ``executions()`` and ``global()``;
- :class:`Budget` is what the evaluations may spend (sizes, and time with a
  clock the caller gives).

Each expression is parsed or compiled once and cached by its text.
"""

from sirocco.expressions.budget import Budget, LimitExceeded
from sirocco.expressions.evaluation import evaluate, has_expressions, validate, validate_value
from sirocco.expressions.functions import Functions

__all__ = [
    "Budget",
    "Functions",
    "LimitExceeded",
    "evaluate",
    "has_expressions",
    "validate",
    "validate_value",
]
