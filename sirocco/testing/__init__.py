"""Sirocco's testing kit: run workflows in a test with no server, database or sleep.

The public surface (docs/testing.md shows it in use):

- ``load_workflows(text)``, ``load_actions(text)``: definitions from YAML text
  (``DefinitionError`` lists a text's problems);
- ``run_until_idle(workflow, ...)``: start a workflow and run it through the
  engine until nothing is running, due or pending; it returns a ``Run``;
- ``Run``: the records the run made (``run.workflow``, ``run.task(name)``,
  ``run.task_names()``, ``run.actions_of(task)``, ``run.problems``) and, on
  ``run.driver``, the ``Driver`` that sends more events and lets time pass;
- ``Fail``, ``Cancel``, ``Hold``: scripted action results;
- ``FakeClock``: the clock timers move (``advance``, ``move_to``).

Modules: ``clock`` (the fake clock), ``results`` (scripted and standard
action results), ``world`` (the in-memory runtime: records and a lookup over
them), ``driver`` (applies decisions, runs actions and timers),
``definitions`` (YAML text to specs).
"""

from sirocco.testing.clock import FakeClock
from sirocco.testing.definitions import DefinitionError, load_actions, load_workflows
from sirocco.testing.driver import ActionHandler, Driver, run_until_idle
from sirocco.testing.results import STANDARD_ACTIONS, Cancel, Fail, Hold, standard_result
from sirocco.testing.world import FakeLookup, Run

__all__ = [
    "STANDARD_ACTIONS",
    "ActionHandler",
    "Cancel",
    "DefinitionError",
    "Driver",
    "Fail",
    "FakeClock",
    "FakeLookup",
    "Hold",
    "Run",
    "load_actions",
    "load_workflows",
    "run_until_idle",
    "standard_result",
]
