"""Scenario fixtures for engine tests: a notebook session on a real Engine, a real kernel subprocess."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from kernels.core import protocol
from kernels.core.client import LocalKernel, spawn_local_kernel
from kernels.core.engine import Engine


@dataclass
class CellRun:
    """Everything one execute() emitted, with accessors for what tests look at."""

    events: list[protocol.Message]

    @property
    def state(self) -> str:
        return [e for e in self.events if isinstance(e, protocol.CellStatus)][-1].state

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return [e.output for e in self.events if isinstance(e, protocol.Output)]

    @property
    def result(self) -> protocol.CellResult:
        return next(e for e in self.events if isinstance(e, protocol.CellResult))

    @property
    def symbols(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.result.symbols}

    @property
    def stdout(self) -> str:
        return "".join(o["text"] for o in self.outputs if o["output_type"] == "stream" and o["name"] == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(o["text"] for o in self.outputs if o["output_type"] == "stream" and o["name"] == "stderr")

    @property
    def error(self) -> dict[str, Any]:
        return next(o for o in self.outputs if o["output_type"] == "error")

    def data(self, kind: str = "execute_result") -> dict[str, Any]:
        return next(o["data"] for o in self.outputs if o["output_type"] == kind)


@dataclass
class NotebookSession:
    """A notebook being edited in the browser: cells with ids in an order, run on a real Engine."""

    engine: Engine
    cells: dict[str, tuple[str, str]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, cell_id: str, source: str, *, language: str = "python", at: int | None = None) -> None:
        self.cells[cell_id] = (language, source)
        if cell_id not in self.order:
            self.order.insert(len(self.order) if at is None else at, cell_id)

    def run(self, cell_id: str, source: str | None = None) -> CellRun:
        if source is not None:
            self.cells[cell_id] = (self.cells[cell_id][0], source)
        language, code = self.cells[cell_id]
        events: list[protocol.Message] = []
        self.engine.execute(
            exec_id=f"x{next(self._ids)}", cell_id=cell_id, language=language, source=code,
            order=list(self.order), emit=events.append,
        )
        return CellRun(events)

    def add_and_run(self, cell_id: str, source: str, *, language: str = "python") -> CellRun:
        self.add(cell_id, source, language=language)
        return self.run(cell_id)

    def move(self, cell_id: str, to: int) -> None:
        self.order.remove(cell_id)
        self.order.insert(to, cell_id)

    def delete(self, cell_id: str) -> None:
        self.order.remove(cell_id)
        del self.cells[cell_id]
        self.engine.forget(cell_id)


@pytest.fixture
def notebook() -> Iterator[NotebookSession]:
    engine = Engine()
    yield NotebookSession(engine)
    engine.shutdown()


@pytest.fixture
def small_output_notebook() -> Iterator[NotebookSession]:
    """A session whose per-cell output limit is 1 KB, to see truncation without big data."""
    engine = Engine(output_limit=1024)
    yield NotebookSession(engine)
    engine.shutdown()


@pytest.fixture
def kernel() -> Iterator[LocalKernel]:
    """A real kernel subprocess on a socketpair."""
    local = spawn_local_kernel()
    yield local
    if local.process.poll() is None:
        try:
            local.close(timeout=10)
        except Exception:
            local.process.kill()


@pytest.fixture
def time_limited_kernel() -> Iterator[LocalKernel]:
    """A kernel whose cells may run one second each."""
    local = spawn_local_kernel(time_limit=1.0)
    yield local
    if local.process.poll() is None:
        local.process.kill()
        local.process.wait()


class ScopedNotebook(NotebookSession):
    """A notebook on a shared engine: its cell ids are prefixed so tests never see each other's cells."""

    prefix: str = ""

    def _id(self, cell_id: str) -> str:
        return f"{self.prefix}-{cell_id}"

    def add(self, cell_id: str, source: str, *, language: str = "python", at: int | None = None) -> None:
        super().add(self._id(cell_id), source, language=language, at=at)

    def run(self, cell_id: str, source: str | None = None) -> CellRun:
        return super().run(self._id(cell_id), source)

    def move(self, cell_id: str, to: int) -> None:
        super().move(self._id(cell_id), to)

    def delete(self, cell_id: str) -> None:
        super().delete(self._id(cell_id))

    def cell(self, cell_id: str) -> str:
        return self._id(cell_id)


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[Engine]:
    """One engine, so one Spark driver JVM with one Scala compiler, for the whole test session."""
    from kernels.core.spark import spark_available

    if not spark_available():
        pytest.skip("Spark needs Java and pyspark")
    engine = Engine(config={"sparkConfig": {"spark.master": "local[2]", "spark.sql.shuffle.partitions": "2"}})
    yield engine
    engine.shutdown()


@pytest.fixture
def spark_kernel(spark_engine: Engine, request: pytest.FixtureRequest) -> Iterator[ScopedNotebook]:
    """A fresh notebook on the session's Spark engine (Scala cells, Spark SQL, `spark` bound)."""
    session = ScopedNotebook(spark_engine)
    session.prefix = request.node.name.replace("[", "-").replace("]", "")[:40]
    yield session
    for cell_id in list(session.order):
        spark_engine.forget(cell_id)
