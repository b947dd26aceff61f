"""The layering, read from the source with `ast`: core is the ground floor, and the service
packages that trade (orders, strategy, stream, replicas) import one another without a cycle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[1] / "backend"
ABOVE_CORE = ("backend.services", "backend.api", "backend.app")
TRADING_PACKAGES = ("orders", "strategy", "stream", "replicas")


def _module_name(path: Path) -> str:
    top = next(parent for parent in path.parents if parent.name == "backend")
    parts = list(path.relative_to(top.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    """The absolute names an import statement reaches (`from a import b` reaches a and a.b)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        anchor = module.split(".")
        anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
        base = ".".join([*anchor, base] if base else anchor)
    yield base
    yield from (f"{base}.{alias.name}" for alias in node.names)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports run when the module loads: top level and inside module-level if/try blocks,
    but not under `if TYPE_CHECKING:` (never executed, so it cannot close an import cycle)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _module_level(block)
            for handler in node.handlers:
                yield from _module_level(handler.body)


def imports_of(root: Path, *, module_level_only: bool) -> dict[str, set[str]]:
    """Every module under `root` (a package directory) and the names it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        nodes = (
            _module_level(tree.body)
            if module_level_only
            else (n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom))
        )
        is_package = path.name == "__init__.py"
        found[module] = {name for node in nodes for name in _imported(node, module, is_package)}
    return found


def package_graph(
    imports: dict[str, set[str]], prefix: str, packages: tuple[str, ...]
) -> dict[str, set[str]]:
    """Edges between the `packages` under `prefix`, from the modules' imports."""

    def package_of(name: str) -> str | None:
        if not name.startswith(prefix + "."):
            return None
        head = name[len(prefix) + 1 :].split(".")[0]
        return head if head in packages else None

    graph: dict[str, set[str]] = {package: set() for package in packages}
    for module, names in imports.items():
        source = package_of(module)
        if source is None:
            continue
        for name in names:
            target = package_of(name)
            if target is not None and target != source:
                graph[source].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle once, as the path that closes it."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph.get(node, ())):
            if target in path:
                loop = path[path.index(target) :]
                if frozenset(loop) not in seen:
                    seen.add(frozenset(loop))
                    found.append([*loop, target])
            else:
                visit(target, [*path, target])

    for start in sorted(graph):
        visit(start, [start])
    return found


def test_core_imports_nothing_above_it() -> None:
    """Every import in backend/core, including TYPE_CHECKING and function-level ones."""
    offending = sorted(
        f"{module} imports {name}"
        for module, names in imports_of(BACKEND / "core", module_level_only=False).items()
        for name in names
        if name.startswith(ABOVE_CORE)
    )
    assert offending == []


def test_no_import_cycle_between_the_trading_packages() -> None:
    """Module-level imports only: those under `if TYPE_CHECKING:` are excluded, as are imports
    inside functions (neither runs when a module loads)."""
    imports = imports_of(BACKEND, module_level_only=True)
    graph = package_graph(imports, "backend.services", TRADING_PACKAGES)
    assert cycles(graph) == []


def test_the_scan_sees_a_cycle_and_a_core_import(tmp_path: Path) -> None:
    """The checks above are not vacuous: the same scan finds both faults in a planted tree."""
    root = tmp_path / "backend"
    for package in ("core", "services/orders", "services/strategy"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "core" / "wiring.py").write_text("def f():\n    from backend.api import deps\n")
    (root / "services" / "orders" / "link.py").write_text(
        "from backend.services.strategy.engine import Engine\n"
    )
    (root / "services" / "strategy" / "engine.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from ..orders import link\n"
        "if TYPE_CHECKING:\n"
        "    from backend.services.stream import hub\n"
    )
    core = imports_of(root / "core", module_level_only=False)
    assert "backend.api.deps" in core["backend.core.wiring"]
    graph = package_graph(
        imports_of(root, module_level_only=True),
        "backend.services",
        ("orders", "strategy", "stream"),
    )
    assert graph == {"orders": {"strategy"}, "strategy": {"orders"}, "stream": set()}
    assert cycles(graph) == [["orders", "strategy", "orders"]]


API = BACKEND / "api"
ROUTER_LINE_LIMIT = 120


def test_routers_take_services_from_deps_and_stay_thin() -> None:
    """Only api/deps reads the container; every file of the HTTP layer is under 120 lines."""
    sources = {
        path.relative_to(API): path.read_text(encoding="utf-8") for path in API.rglob("*.py")
    }
    walking = sorted(
        str(name)
        for name, text in sources.items()
        if name.parts[0] != "deps" and ("container." in text or "state.container" in text)
    )
    assert walking == []
    long = {
        str(name): lines
        for name, text in sources.items()
        if (lines := len(text.splitlines())) >= ROUTER_LINE_LIMIT
    }
    assert long == {}
