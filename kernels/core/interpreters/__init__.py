"""The interpreter registry: one module per language, found by name, created on first use."""

from __future__ import annotations

from collections.abc import Callable

from kernels.core.errors import UnknownLanguage
from kernels.core.interpreters.base import Interpreter, InterpreterEnv
from kernels.core.spark import spark_available

InterpreterFactory = Callable[[InterpreterEnv], Interpreter]

# Language -> "module:Class"; modules are imported only when a cell of that language runs,
# so an idle kernel does not pay for DuckDB or jedi.
_BUILTIN: dict[str, str] = {
    "python": "kernels.core.interpreters.python:PythonInterpreter",
    "sql": "kernels.core.interpreters.sql:SqlInterpreter",
    "vega": "kernels.core.interpreters.vega:VegaInterpreter",
    "text": "kernels.core.interpreters.text:TextInterpreter",
}

# Scala runs in the Spark driver's JVM, so it is offered only where Java and pyspark are present.
_SCALA = "kernels.core.interpreters.scala:ScalaInterpreter"

# Languages of the product that a kernel may lack (Scala arrives with the Spark JVM).
KNOWN_LANGUAGES = ("python", "scala", "sql", "vega", "text")


def _import_factory(path: str) -> InterpreterFactory:
    import importlib

    module_name, _, attr = path.partition(":")
    factory: InterpreterFactory = getattr(importlib.import_module(module_name), attr)
    return factory


class Registry:
    """Language name -> interpreter factory; `register` adds a language."""

    def __init__(self, factories: dict[str, str | InterpreterFactory] | None = None) -> None:
        self._factories: dict[str, str | InterpreterFactory] = dict(_BUILTIN if factories is None else factories)
        if factories is None and spark_available():
            self._factories["scala"] = _SCALA

    def register(self, language: str, factory: str | InterpreterFactory) -> None:
        self._factories[language] = factory

    def languages(self) -> list[str]:
        return list(self._factories)

    def __contains__(self, language: object) -> bool:
        return language in self._factories

    def factory(self, language: str) -> InterpreterFactory:
        """The language's factory (its interpreter class, for the built-in ones), imported on first use."""
        factory = self._factories.get(language)
        if factory is None:
            raise UnknownLanguage(language, self.languages())
        if isinstance(factory, str):
            factory = _import_factory(factory)
            self._factories[language] = factory
        return factory

    def create(self, language: str, env: InterpreterEnv) -> Interpreter:
        return self.factory(language)(env)
