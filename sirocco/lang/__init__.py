"""Mistral's workflow language v2: YAML text in, an immutable spec tree out.

The tree is made of the values of :mod:`sirocco.lang.specs`.

Every function raises :class:`sirocco.errors.DefinitionError` listing every
problem of the text, each with its line, its path and a readable message.
"""

from sirocco.lang import specs
from sirocco.lang.parser import (
    clear_cache,
    parse_actions,
    parse_document,
    parse_workbook,
    parse_workflows,
)
from sirocco.lang.problems import DefinitionProblem

__all__ = [
    "DefinitionProblem",
    "clear_cache",
    "parse_actions",
    "parse_document",
    "parse_workbook",
    "parse_workflows",
    "specs",
]
