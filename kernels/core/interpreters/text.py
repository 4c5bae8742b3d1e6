"""Text cells: kept in the notebook, never executed."""

from __future__ import annotations

from typing import ClassVar

from kernels.core.interpreters.base import Interpreter, InterpreterEnv, RunContext, RunResult, RunStatus
from kernels.core.scope import Scope


class TextInterpreter(Interpreter):
    language: ClassVar[str] = "text"
    executes: ClassVar[bool] = False

    def __init__(self, env: InterpreterEnv) -> None:
        self.env = env

    def run(self, code: str, scope: Scope, context: RunContext) -> RunResult:
        return RunResult(status=RunStatus.DONE)
