"""The import graph: every package ranked, nothing imports upward, no cycles anywhere.

Layers, lowest first (a module may import its own layer and the ones below):

0. zapi core -- every ``zapi`` module except the ones named below
1. ``toolgen``
2. ``runtime``
3. the Python API -- ``zapi/__init__``, ``zapi.api``, ``zapi.client``
4. ``samples`` -- the sample apps, the demo and sample plans (they use the API as a user would)
5. the command line -- ``zapi.cli.*`` and ``zapi.__main__``
6. ``bench``

Edges are read from the source (``ast``): module-level and function-level imports,
``if TYPE_CHECKING:`` blocks included for the ranks (a type-only upward import still
couples the layers) and left out of the cycle check (they never run).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("zapi", "toolgen", "runtime", "samples", "bench")
LAYER_NAMES = ["zapi core", "toolgen", "runtime", "Python API", "samples", "CLI", "bench"]


def layer(module: str) -> int:
    """The layer of a module name (see the module docstring)."""
    top = module.split(".")[0]
    if top == "zapi":
        if module in ("zapi", "zapi.api", "zapi.client"):
            return 3
        if module == "zapi.__main__" or module == "zapi.cli" or module.startswith("zapi.cli."):
            return 5
        return 0
    return {"toolgen": 1, "runtime": 2, "samples": 4, "bench": 6}[top]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {
    _module_name(f): f
    for pkg in PACKAGES
    for f in sorted((ROOT / pkg).rglob("*.py"))
    if "__pycache__" not in f.parts
}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(name: str) -> str | None:
    """The longest prefix of a dotted name that is one of our modules."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if (target := _resolve(alias.name)) is not None:
                yield target
        return
    base = node.module or ""
    if node.level:
        is_pkg = MODULES[module].name == "__init__.py"
        anchor = module.split(".")
        anchor = anchor if is_pkg else anchor[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        target = sub if sub in MODULES else _resolve(base)
        if target is not None:
            yield target


def imports(module: str, *, runtime_only: bool) -> set[str]:
    """Every module of ours that ``module`` imports, anywhere in its source."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if runtime_only and isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.update(_targets(module, node))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := dfs(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := dfs(start)) is not None:
            return cycle
    return None


class TestLayering:
    """Every package is ranked and nothing imports a higher layer; no exemptions."""

    @pytest.mark.parametrize("pkg", ["zapi", "toolgen", "runtime", "samples", "zapi.cli"])
    def test_each_package_imports_first(self, pkg: str) -> None:
        """Each package imports on its own in a fresh interpreter (no order-dependent loops)."""
        subprocess.run([sys.executable, "-c", f"import {pkg}"], check=True, cwd=ROOT)

    def test_every_module_is_ranked(self) -> None:
        """The walk found the packages (a test over nothing would pass vacuously)."""
        assert {"zapi.cli.app", "zapi.api", "runtime", "samples.demo", "toolgen.cards"} <= set(
            MODULES
        )
        assert {layer(m) for m in MODULES} == set(range(len(LAYER_NAMES)))

    def test_no_upward_imports(self) -> None:
        """No module imports a module of a higher layer."""
        bad = [
            f"{mod} ({LAYER_NAMES[layer(mod)]}) imports {dep} ({LAYER_NAMES[layer(dep)]})"
            for mod in sorted(MODULES)
            for dep in sorted(imports(mod, runtime_only=False))
            if layer(dep) > layer(mod)
        ]
        assert bad == []

    def test_the_cli_is_imported_by_nothing(self) -> None:
        """Only the CLI itself (and ``python -m zapi``) imports ``zapi.cli``."""
        bad = [
            f"{mod} imports {dep}"
            for mod in sorted(MODULES)
            for dep in imports(mod, runtime_only=False)
            if layer(dep) == 5 and layer(mod) != 5
        ]
        assert bad == []

    def test_the_cli_loads_its_commands_statically(self) -> None:
        """No importlib plugin loading in the CLI: every command module is a visible import."""
        for mod, path in MODULES.items():
            if layer(mod) == 5:
                text = path.read_text(encoding="utf-8")
                assert "import_module" not in text and "__import__" not in text, mod


class TestNoCycles:
    """The module graph over all packages is acyclic (module- and function-level imports)."""

    def test_finder_sees_a_cycle(self) -> None:
        """The cycle finder itself can fail."""
        assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
        assert find_cycle({"a": {"b"}, "b": set()}) is None

    @pytest.mark.parametrize("pkg", PACKAGES)
    def test_no_import_cycle(self, pkg: str) -> None:
        """No chain of imports leads from a module back to itself."""
        graph = {m: imports(m, runtime_only=True) for m in MODULES}
        mine = {m for m in MODULES if m.split(".")[0] == pkg}
        sub = {m: {d for d in deps if d in mine} for m, deps in graph.items() if m in mine}
        assert find_cycle(sub) is None

    def test_no_import_cycle_across_packages(self) -> None:
        """Nor does one run through several packages."""
        assert find_cycle({m: imports(m, runtime_only=True) for m in MODULES}) is None


def _third_party_importers(dist: str) -> set[str]:
    """Files of zapi/toolgen/runtime that import the top-level module ``dist``."""
    found = set()
    for mod, path in MODULES.items():
        if mod.split(".")[0] not in ("zapi", "toolgen", "runtime"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            if any(n.split(".")[0] == dist for n in names):
                found.add(path.relative_to(ROOT).as_posix())
    return found


def _boundary_table() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text.split("<!-- boundaries -->", 1)[1].split("<!-- /boundaries -->", 1)[0]
    rows = {}
    for line in table.strip().splitlines()[2:]:
        dep, where = (cell.strip() for cell in line.strip("|").split("|"))
        rows[dep.strip("`")] = {w.strip().strip("`") for w in where.split(",")}
    return rows


class TestBoundaries:
    """docs/ARCHITECTURE.md's boundary table is the truth about who imports what."""

    def test_table_is_read(self) -> None:
        assert {"dbos", "playwright", "ijson"} <= set(_boundary_table())

    @pytest.mark.parametrize("dep", sorted(_boundary_table()))
    def test_only_the_named_modules_import_it(self, dep: str) -> None:
        want = _boundary_table()[dep]
        have = _third_party_importers(dep)
        globbed = {w for w in want if w.endswith("/*")}
        covered = {h for h in have if any(h.startswith(g[:-1]) for g in globbed)}
        assert have - covered == want - globbed, f"{dep}: imported by {sorted(have)}"

    def test_httpx_errors_are_translated_in_transport_only(self) -> None:
        catching = set()
        for mod, path in MODULES.items():
            if mod.split(".")[0] not in ("zapi", "toolgen", "runtime"):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.ExceptHandler)
                    and node.type is not None
                    and "httpx." in ast.unparse(node.type)
                ):
                    catching.add(path.relative_to(ROOT).as_posix())
        assert catching == {"runtime/transport.py"}
