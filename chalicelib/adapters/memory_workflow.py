"""The in-memory workflow engine: records the executions started and the waits completed, for
the tests of the use cases (which call the state machine's tasks themselves)."""

from __future__ import annotations

from chalicelib.adapters.stepfunctions import execution_name


class MemoryWorkflow:
    """Records the executions started and the waits completed; runs nothing (tests of the use
    cases call the state machine's tasks themselves)."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.completed: list[tuple[str, str]] = []
        self.ended: dict[str, str] = {}  # execution name -> how it ended (tests set it)

    def start(self, reference: str, attempt: int = 1) -> bool:
        name = execution_name(reference, attempt)
        if name in self.started:
            return False
        self.started.append(name)
        return True

    def status(self, reference: str, attempt: int = 1) -> str | None:
        name = execution_name(reference, attempt)
        if name not in self.started:
            return None
        return self.ended.get(name, "RUNNING")

    def running(self) -> set[str]:
        return {name for name in self.started if name not in self.ended}

    def stop(self, reference: str, attempt: int = 1) -> None:
        name = execution_name(reference, attempt)
        if name in self.started:
            self.ended.setdefault(name, "ABORTED")

    def end(self, reference: str, status: str, attempt: int = 1) -> None:
        """End an execution as Step Functions would (FAILED, ABORTED, ...): a test's fault."""
        self.ended[execution_name(reference, attempt)] = status

    def complete(self, token: str, outcome: str) -> bool:
        if any(done == token for done, _ in self.completed):
            return False  # that wait has ended
        self.completed.append((token, outcome))
        return True
