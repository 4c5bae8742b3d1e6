"""The house's layers, read from the source with `ast`: runs > notebooks > kernels > kernels.core, the platform's
apps below all three, no import cycle, and no first-party import hidden inside a function to get around one."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Where each first-party top-level package lives.
PACKAGES = {"runs": ROOT / "runs", "notebooks": ROOT / "notebooks", "kernels": ROOT / "kernels",
            "quire": ROOT / "platform" / "quire"}

# Each layer, most specific prefix first, and what it may not import. The project package itself (settings, URLs,
# routing, the ASGI and Celery apps, `quire.serve`) wires every app together and may import any of them.
FORBIDDEN: list[tuple[str, tuple[str, ...]]] = [
    ("kernels.core", ("kernels", "notebooks", "runs", "quire", "django", "channels", "celery", "rest_framework")),
    ("kernels", ("notebooks", "runs")),
    ("notebooks", ("runs",)),
    ("quire.accounts", ("kernels", "notebooks", "runs")),
    ("quire.teams", ("kernels", "notebooks", "runs")),
    ("quire.quotas", ("kernels", "notebooks", "runs")),
    ("quire.lib", ("kernels", "notebooks", "runs")),
]
# A layer may import itself: kernels.core's own modules import each other.
SELF = {"kernels.core": "kernels.core"}

# A function-level import of the project's own code needs a comment saying why it is not at the top (on its line
# or the comment lines right above it), and dodging an import cycle is not a reason: the cycle is the defect.
CYCLE_EXCUSE = re.compile(r"cycle|circular|imports this module|imports notebooks|imports kernels", re.IGNORECASE)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported (a submodule when `from package import submodule`)
    line: int
    at_top: bool  # executed when the module is imported (not in a function, not under TYPE_CHECKING)
    path: Path


def _module_name(path: Path) -> str:
    for package, folder in PACKAGES.items():
        if folder in path.parents or path == folder:
            parts = path.relative_to(folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            return ".".join((package, *parts))
    raise ValueError(path)


def _source_files() -> list[Path]:
    files = []
    for folder in PACKAGES.values():
        files += [p for p in folder.rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


MODULES = {_module_name(p): p for p in _source_files()}


def _first_party(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, path: Path, is_package: bool) -> None:
        self.module, self.path, self.is_package = module, path, is_package
        self.depth = 0  # functions around the current node
        self.guarded = 0  # `if TYPE_CHECKING:` blocks around it
        self.found: list[Import] = []

    def _add(self, target: str, node: ast.stmt) -> None:
        self.found.append(Import(self.module, target, node.lineno, self.depth == 0 and self.guarded == 0, self.path))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815  (the visitor's naming)

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        checking = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
        self.guarded += checking
        for child in node.body:
            self.visit(child)
        self.guarded -= checking
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package = self.module.split(".") if self.is_package else self.module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, *([base] if base else [])])
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            self._add(submodule if submodule in MODULES else base, node)


def _imports() -> list[Import]:
    found: list[Import] = []
    for module, path in MODULES.items():
        collector = _Collector(module, path, path.name == "__init__.py")
        collector.visit(ast.parse(path.read_text(), filename=str(path)))
        found += collector.found
    return found


IMPORTS = _imports()


def _layer(module: str) -> tuple[str, tuple[str, ...]] | None:
    for prefix, forbidden in FORBIDDEN:
        if module == prefix or module.startswith(prefix + "."):
            return prefix, forbidden
    return None


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _where(imp: Import) -> str:
    return f"{imp.path.relative_to(ROOT)}:{imp.line} imports {imp.target}"


def _wrong_layers(imports: list[Import]) -> list[str]:
    wrong = []
    for imp in imports:
        layer = _layer(imp.module)
        if layer is None:
            continue
        prefix, forbidden = layer
        if SELF.get(prefix) and _within(imp.target, SELF[prefix]):
            continue
        if any(_within(imp.target, name) for name in forbidden):
            wrong.append(_where(imp))
    return wrong


def test_each_layer_imports_only_the_layers_below_it() -> None:
    assert _wrong_layers(IMPORTS) == []


def _comment_above(text: str, line: int) -> str:
    """The comment on an import's line and on the comment lines right above it."""
    lines = text.splitlines()
    text = lines[line - 1].partition("#")[2]
    index = line - 2
    while index >= 0 and lines[index].strip().startswith("#"):
        text = lines[index].strip().lstrip("#") + " " + text
        index -= 1
    return text.strip()


def _hidden(imports: list[Import], read: Callable[[Path], str] = Path.read_text) -> list[str]:
    hidden = []
    for imp in imports:
        if imp.at_top or not _first_party(imp.target):
            continue
        reason = _comment_above(read(imp.path), imp.line)
        if not reason or CYCLE_EXCUSE.search(reason):
            hidden.append(f"{_where(imp)} in a function ({reason or 'no reason given'})")
    return hidden


def test_no_first_party_import_hides_in_a_function_without_a_reason() -> None:
    assert _hidden(IMPORTS) == []


def _graph() -> dict[str, set[str]]:
    """Module -> the first-party modules importing it runs (a module imports its packages' __init__ too)."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for imp in IMPORTS:
        if not imp.at_top or not _first_party(imp.target):
            continue
        parts = imp.target.split(".")
        for end in range(1, len(parts) + 1):
            name = ".".join(parts[:end])
            if name in MODULES and name != imp.module and not _within(imp.module, name):
                graph[imp.module].add(name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    assert _cycles(_graph()) == []


FAKE = """\
from notebooks.models import Notebook


def lazy():
    # Imported here: kernels.services imports this module.
    from kernels.services import live_session


def heavy():
    # pyspark takes seconds to import and most kernels never use it.
    from kernels.core import spark


def unexplained():
    from kernels import events
"""


def test_the_checks_see_a_wrong_layer_and_a_dodged_cycle() -> None:
    # The checks themselves catch what they are for, on a module placed in kernels/ (read from a copy).
    path = ROOT / "kernels" / "fake.py"
    collector = _Collector("kernels.fake", path, False)
    collector.visit(ast.parse(FAKE))
    found = [Import(i.module, i.target, i.line, i.at_top, path) for i in collector.found]
    assert _wrong_layers(found) == ["kernels/fake.py:1 imports notebooks.models"]
    assert _hidden(found, read=lambda _: FAKE) == [
        "kernels/fake.py:6 imports kernels.services in a function (Imported here: kernels.services imports this module.)",
        "kernels/fake.py:15 imports kernels.events in a function (no reason given)",
    ]


def test_the_cycle_check_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
