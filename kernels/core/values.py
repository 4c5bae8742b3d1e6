"""The value layer between Python and the JVM: what a Scala value is in Python, and a Python value in Scala.

Scala -> Python: strings, numbers and booleans as Python values; arrays and collections as Python
sequences (maps as dicts); a Dataset/DataFrame as a PySpark DataFrame over the same plan (no data
copied); anything else as a JvmObject whose methods can be called.
Python -> Scala: primitives and strings as Scala values; lists, tuples and dicts as Seq and Map;
a PySpark DataFrame as a DataFrame; a pandas DataFrame as a Spark DataFrame (through Arrow);
anything else as a `quire.bridge.PythonObject` whose members call back into Python.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# A Scala collection this large stays a lazy view instead of being copied into a list or dict.
EAGER_LIMIT = 10_000


@dataclass(frozen=True)
class ScalaDefinition:
    """A class, trait, object, type or method a Scala cell defined: a symbol other cells can name."""

    kind: str
    name: str
    signature: str

    def __repr__(self) -> str:
        if self.kind in ("def", "object"):
            return f"{self.kind} {self.name}: {self.signature}"
        return f"{self.kind} {self.name}"


def _is_java_object(value: Any) -> bool:
    return type(value).__module__.startswith("py4j.")


def _int_type(values: Sequence[int]) -> str:
    return "Int" if all(INT_MIN <= v <= INT_MAX for v in values) else "Long"


def _element_kind(values: Sequence[Any]) -> str | None:
    """The Scala element type when every element is the same primitive kind, else None (Any)."""
    if not values:
        return None
    if all(isinstance(v, bool) for v in values):
        return "Boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return _int_type(values)
    if all(isinstance(v, float) for v in values):
        return "Double"
    if all(isinstance(v, str) for v in values):
        return "String"
    return None


class JvmSequence(Sequence[Any]):
    """A JVM array or collection as a Python sequence; elements are converted when read. The collection's own
    methods stay callable (`seq.length()`, `seq.apply(i)`), as Polynote's notebooks call them."""

    def __init__(self, elements: Any, bridge: Bridge, scala_type: str = "", source: Any = None) -> None:
        self._elements = elements  # a py4j JavaArray of the elements
        self._bridge = bridge
        self.scala_type = scala_type
        self._source = source  # the JVM collection itself, when it is not the array of elements

    def __getattr__(self, name: str) -> Any:
        source = self.__dict__.get("_source")
        if source is None or name.startswith("_"):
            raise AttributeError(name)
        return getattr(JvmObject(source, self._bridge, self.scala_type), name)

    def __dir__(self) -> list[str]:
        """The sequence's Python names and, for a JVM collection, its own methods: what completion offers."""
        source = self.__dict__.get("_source")
        jvm = dir(JvmObject(source, self._bridge, self.scala_type)) if source is not None else []
        return sorted({*super().__dir__(), *jvm})

    def __len__(self) -> int:
        return len(self._elements)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self._bridge.to_python(self._elements[i]) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("sequence index out of range")
        return self._bridge.to_python(self._elements[index])

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        head = ", ".join(repr(v) for v in self[:20])
        return f"[{head}{', …' if len(self) > 20 else ''}]"


class JvmObject:
    """A live proxy for a JVM object: `obj.method(args)` calls it, results come back converted."""

    def __init__(self, target: Any, bridge: Bridge, scala_type: str = "") -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_bridge", bridge)
        object.__setattr__(self, "scala_type", scala_type)

    @property
    def java_object(self) -> Any:
        return self._target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        member = getattr(self._target, name)
        bridge = self._bridge

        def call(*args: Any) -> Any:
            result = member(*(bridge.to_jvm(a) for a in args))
            if isinstance(result, float) and bridge.returns_float(self._target, name):
                return _widened(result)
            return bridge.to_python(result)

        call.__name__ = name
        return call

    def __dir__(self) -> list[str]:
        return sorted({m.getName() for m in self._target.getClass().getMethods()})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JvmObject):
            return bool(self._target.equals(other._target))
        return NotImplemented

    def __hash__(self) -> int:
        return int(self._target.hashCode())

    def __repr__(self) -> str:
        return str(self._target.toString())


class PythonHandle:
    """A Python object lent to Scala: py4j turns it into a java.util.function.BiFunction that
    `quire.bridge.PythonObject` calls with an operation name and arguments."""

    class Java:
        implements = ["java.util.function.BiFunction"]

    def __init__(self, value: Any, bridge: Bridge) -> None:
        self.value = value
        self._bridge = bridge

    def apply(self, op: str, args: Any) -> Any:
        bridge = self._bridge
        params = [bridge.to_python(a) for a in (args or [])]
        if op == "getattr":
            return bridge.handle(getattr(self.value, params[0]))
        if op == "setattr":
            setattr(self.value, params[0], params[1])
            return None
        if op == "call":
            name, rest = params[0], params[1:]
            target = self.value if name == "__call__" else getattr(self.value, name)
            return bridge.handle(target(*rest))
        if op == "callkw":
            name, names, rest = params[0], str(params[1]).split(","), params[2:]
            positional = [v for n, v in zip(names, rest, strict=False) if not n]
            keywords = {n: v for n, v in zip(names, rest, strict=False) if n}
            return bridge.handle(getattr(self.value, name)(*positional, **keywords))
        if op == "list":
            return bridge.to_jvm(list(self.value))
        if op == "dict":
            return bridge.to_jvm(dict(self.value))
        if op == "value":
            return bridge.to_jvm(self.value, proxy=False)
        if op == "str":
            return str(self.value)
        raise ValueError(f"unknown operation {op!r}")

    def andThen(self, after: Any) -> Any:  # noqa: N802 - BiFunction's default method, never called by the bridge
        raise NotImplementedError

    def toString(self) -> str:  # noqa: N802 - py4j calls it for the proxy's toString
        return str(self.value)

    def hashCode(self) -> int:  # noqa: N802
        return id(self.value) & 0x7FFFFFFF

    def equals(self, other: Any) -> bool:
        return other is self


class Bridge:
    """Conversions for one JVM: needs the gateway, the Spark session, and the bridge's Scala helpers."""

    def __init__(self, *, spark: Any, values_module: Any) -> None:
        from pyspark.java_gateway import ensure_callback_server_started

        self.spark = spark
        self.gateway = spark.sparkContext._gateway
        self.jvm = spark._jvm
        self.values = values_module  # quire.bridge.Values
        # Scala calling into a Python object needs py4j's callback server.
        ensure_callback_server_started(self.gateway)
        self._dataset_class = self.jvm.java.lang.Class.forName("org.apache.spark.sql.Dataset")
        self._float_methods: dict[tuple[str, str], bool] = {}

    # ------------------------------------------------------------------ JVM -> Python

    def to_python(self, value: Any, scala_type: str = "") -> Any:
        if not _is_java_object(value):
            return value  # py4j already converted strings, numbers and booleans
        from py4j.java_collections import JavaArray, JavaList, JavaMap, JavaSet

        if isinstance(value, JavaArray):
            return JvmSequence(value, self, scala_type)
        if isinstance(value, JavaList | JavaSet):
            return JvmSequence(self.values.elements(value), self, scala_type, source=value)
        if isinstance(value, JavaMap):
            return {self.to_python(k): self.to_python(v) for k, v in value.items()}
        if self._dataset_class.isInstance(value):
            from pyspark.sql import DataFrame

            return DataFrame(value.toDF(), self.spark)
        handle = self.values.handleOf(value)
        if isinstance(handle, PythonHandle):  # a Python object that went to Scala and came back
            return handle.value
        shape = self.values.shape(value)
        if shape in ("seq", "array"):
            return JvmSequence(self.values.elements(value), self, scala_type, source=value)
        if shape == "map":
            elements = self.values.elements(value)
            if len(elements) <= EAGER_LIMIT:
                return {self.to_python(pair[0]): self.to_python(pair[1]) for pair in elements}
            return JvmSequence(elements, self, scala_type)
        return JvmObject(value, self, scala_type)

    def returns_float(self, target: Any, name: str) -> bool:
        """Whether `name` on `target`'s class returns a Float (asked of the JVM once per class and name)."""
        key = (str(target.getClass().getName()), name)
        if key not in self._float_methods:
            self._float_methods[key] = bool(self.values.returnsFloat(target, name))
        return self._float_methods[key]

    # ------------------------------------------------------------------ Python -> JVM

    def handle(self, value: Any) -> PythonHandle | None:
        """What a PythonObject member access or call answers: another PythonObject (None stays null)."""
        return None if value is None else PythonHandle(value, self)

    def to_jvm(self, value: Any, *, proxy: bool = True) -> Any:
        """A value py4j can pass: primitives as they are, collections as java.util ones, others as proxies."""
        from py4j.java_collections import ListConverter, MapConverter

        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, JvmObject):
            return value.java_object
        if _is_java_object(value):
            return value
        if isinstance(value, JvmSequence):
            value = list(value)
        if _is_spark_frame(value):
            return value._jdf
        if isinstance(value, list | tuple):
            return ListConverter().convert([self.to_jvm(v, proxy=proxy) for v in value], self.gateway._gateway_client)
        if isinstance(value, dict):
            converted = {self.to_jvm(k, proxy=proxy): self.to_jvm(v, proxy=proxy) for k, v in value.items()}
            return MapConverter().convert(converted, self.gateway._gateway_client)
        if _is_pandas_frame(value):
            return self.spark.createDataFrame(value)._jdf
        if not proxy:
            return repr(value)
        return PythonHandle(value, self)

    def to_scala(self, value: Any) -> tuple[str, str, Any]:
        """(Scala type, converter in quire.bridge.Values or "", JVM value) for binding a Python value."""
        if isinstance(value, bool):
            return "Boolean", "", value
        if isinstance(value, int):
            return _int_type([value]), "", value
        if isinstance(value, float):
            return "Double", "", value
        if isinstance(value, str):
            return "String", "", value
        if value is None:
            return "Any", "", None
        if _is_spark_frame(value):
            return "org.apache.spark.sql.DataFrame", "", value._jdf
        if _is_pandas_frame(value):
            return "org.apache.spark.sql.DataFrame", "", self.spark.createDataFrame(value)._jdf
        if isinstance(value, JvmObject | JvmSequence):
            target = value.java_object if isinstance(value, JvmObject) else None
            return value.scala_type or "Any", "", target if target is not None else self.to_jvm(list(value))
        if _is_java_object(value):
            return "Any", "", value
        if isinstance(value, list | tuple):
            kind = _element_kind(list(value))
            converter = {"Int": "ints", "Long": "longs", "Double": "doubles", "String": "strings", "Boolean": "booleans"}
            if kind is None:
                return "Seq[Any]", "seqOf", self.to_jvm(list(value))
            return f"Seq[{kind}]", converter[kind], self.to_jvm(list(value))
        if isinstance(value, dict):
            keys, items = _element_kind(list(value)) or "Any", _element_kind(list(value.values())) or "Any"
            if "Double" in (keys, items) and any(isinstance(v, float) and math.isnan(v) for v in value.values()):
                items = "Any"
            return f"Map[{keys}, {items}]", "mapOf", self.to_jvm(value)
        return "quire.bridge.PythonObject", "proxy", PythonHandle(value, self)


def _widened(value: float) -> float:
    """The exact value of the Float whose shortest decimal text py4j sent (a Float's text names one Float)."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _is_spark_frame(value: Any) -> bool:
    return any(
        f"{c.__module__}.{c.__qualname__}" in ("pyspark.sql.dataframe.DataFrame", "pyspark.sql.classic.dataframe.DataFrame")
        for c in type(value).__mro__
    )


def _is_pandas_frame(value: Any) -> bool:
    return f"{type(value).__module__}.{type(value).__qualname__}" == "pandas.core.frame.DataFrame"


def is_spark_frame(value: Any) -> bool:
    return _is_spark_frame(value)
