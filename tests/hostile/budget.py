"""How much work a request does, counted rather than timed: every Python line run, every jump
back (each turn of a loop) and every function started, in any module, while the request is
served. A count is the same on any machine, so a bound on it is a test that cannot be flaky,
and it catches a loop whose length the sender chose, which time alone hides until it is long.

Past the budget the request is stopped at once (a BaseException, so no `except Exception` in
the app can swallow it) and the test fails naming what was posted.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

TOOL = sys.monitoring.PROFILER_ID
EVENTS = sys.monitoring.events
COUNTED = EVENTS.LINE | EVENTS.JUMP | EVENTS.PY_START


class OverBudget(BaseException):
    """A request did more work than its budget."""


@dataclass
class Work:
    steps: int = 0


@contextlib.contextmanager
def counted(budget: int) -> Iterator[Work]:
    """Count the work done in the block; stop it with OverBudget past `budget` steps."""
    work = Work()
    over = False

    def step(*_: Any) -> None:
        nonlocal over
        work.steps += 1
        if work.steps > budget and not over:
            over = True  # raised once: the handlers unwinding it are not counted against it
            raise OverBudget(f"more than {budget} steps")

    sys.monitoring.use_tool_id(TOOL, "phb-work-budget")
    try:
        for event in (EVENTS.LINE, EVENTS.JUMP, EVENTS.PY_START):
            sys.monitoring.register_callback(TOOL, event, step)
        sys.monitoring.set_events(TOOL, COUNTED)
        yield work
    finally:
        sys.monitoring.set_events(TOOL, 0)
        for event in (EVENTS.LINE, EVENTS.JUMP, EVENTS.PY_START):
            sys.monitoring.register_callback(TOOL, event, None)
        sys.monitoring.free_tool_id(TOOL)
