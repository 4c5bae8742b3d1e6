"""What Python code reads, found without running it. The kernel starts Spark's session for a cell that reads
`spark` (interpreters/python.py); the server gives a run whose first cell does so a kernel whose JVM is warm
(kernels/sessions.py). Plain Python, no imports beyond the standard library: the server imports it too."""

from __future__ import annotations

import ast

# The name a Python cell reads Spark's session by.
SPARK_SESSION_NAME = "spark"


def loaded_names(tree: ast.AST) -> set[str]:
    """Every name the code reads (functions' bodies too: they read globals when called)."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def reads_spark(source: str) -> bool:
    """Whether running this Python source starts Spark's session: it reads `spark`. False for code that does not
    parse, which fails before it starts anything."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return SPARK_SESSION_NAME in loaded_names(tree)
