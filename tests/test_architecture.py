"""The one direction of imports (ARCHITECTURE.md): `core/` imports neither the layers above it nor their
frameworks, so every behaviour there is plain Python that an asset or a route adapts."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).parents[1] / "lakehouse_assets" / "core"
ABOVE = ("api", "lakehouse_assets.defs", "lakehouse_assets.resources", "lakehouse_assets.definitions", "dagster",
         "fastapi", "starlette")  # fmt: skip


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_core_imports_nothing_above_it() -> None:
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 60
    wrong = {
        f"{p.relative_to(CORE)}: {name}"
        for p in modules
        for name in imported(p)
        if any(name == a or name.startswith(a + ".") for a in ABOVE)
    }
    assert not wrong, wrong


def test_every_core_package_keeps_its_errors_under_the_one_base() -> None:
    from lakehouse_assets.core.errors import LakehouseError

    for path in sorted(CORE.rglob("exceptions.py")):
        module = ".".join(path.relative_to(CORE.parents[1]).with_suffix("").parts)
        namespace = __import__(module, fromlist=["*"])
        classes = [v for v in vars(namespace).values() if isinstance(v, type) and v.__module__ == module]
        assert classes and all(issubclass(c, LakehouseError) for c in classes), module
