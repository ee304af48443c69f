"""The package's import structure: no cycle, engine packages reached only through the lookup.

Every import in tuner/ counts (module level, function level, under TYPE_CHECKING), and so
does the package `__init__` an import runs on its way (`from tuner.workload.advise.model
import X` runs tuner/workload/advise/__init__.py first), except the root `tuner` package, the
public facade, which is always imported first, and a package the importing module is itself
inside (already initialized by then).
"""

from __future__ import annotations

import ast
from pathlib import Path

import tuner

ROOT = Path(tuner.__file__).parent
LOOKUP = "tuner.engines.lookup"
ENGINE_PACKAGES = ("tuner.engines.sqlite", "tuner.engines.postgres")
#: What a function may import inside itself: optional dependencies, and the lookup's engines.
OPTIONAL = ("psycopg", "psycopg_pool")


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _targets(importer: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The tuner modules an import statement runs, parent packages included."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = importer if _is_package(importer) else importer.rpartition(".")[0]
            parts = package.split(".")[:len(package.split(".")) - node.level + 1]
            base = ".".join(parts + ([base] if base else []))
        names = [base] + [f"{base}.{a.name}" for a in node.names]
    found = set()
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if not name.startswith("tuner") or importer.startswith(name + "."):
            continue
        found.add(name)
        parent = name.rpartition(".")[0]
        while parent and parent != "tuner":
            if not (importer == parent or importer.startswith(parent + ".")):
                found.add(parent)
            parent = parent.rpartition(".")[0]
    found.discard(importer)
    found.discard("tuner")
    return found


def _imports() -> dict[str, list[tuple[str, ast.AST, bool]]]:
    """module -> [(imported module, node, inside a function)]."""
    out: dict[str, list[tuple[str, ast.AST, bool]]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        local = {id(n) for f in ast.walk(tree)
                 if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for n in ast.walk(f)}
        edges = []
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(name, node):
                    edges.append((target, node, id(node) in local))
        out[name] = edges
    return out


IMPORTS = _imports()


def _cycle() -> list[str] | None:
    graph = {m: sorted({t for t, _, _ in edges}) for m, edges in IMPORTS.items()}
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        trail.append(m)
        for t in graph.get(m, []):
            if state.get(t) == 1:
                return trail[trail.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        state[m] = 2
        trail.pop()
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_package_has_no_import_cycle() -> None:
    assert len(MODULES) > 50
    assert _cycle() is None, " -> ".join(_cycle() or [])


def test_only_the_lookup_imports_an_engine_package() -> None:
    wrong = []
    for importer, edges in IMPORTS.items():
        for target, _, _ in edges:
            for package in ENGINE_PACKAGES:
                if _in(target, package) and not _in(importer, package) and importer != LOOKUP:
                    wrong.append(f"{importer} imports {target}")
    assert not wrong


def test_function_local_imports_are_only_for_optional_dependencies() -> None:
    wrong = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for f in ast.walk(tree):
            if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(f):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                           else [node.module or ""])
                for module in modules:
                    if module.split(".")[0] in OPTIONAL:
                        continue
                    if name == LOOKUP and module in ENGINE_PACKAGES:
                        continue
                    wrong.append(f"{name}: {ast.unparse(node)}")
    assert not wrong


def test_the_lookup_imports_engine_packages_lazily() -> None:
    eager = [t for t, _, local in IMPORTS[LOOKUP] if not local
             and any(_in(t, p) for p in ENGINE_PACKAGES)]
    assert not eager


def test_engine_packages_hold_the_same_parts() -> None:
    parts = [sorted(p.name for p in (ROOT / "engines" / d).glob("*.py"))
             for d in ("sqlite", "postgres")]
    assert parts[0] == parts[1]
    assert {"engine.py", "inspect.py", "normalize.py", "settings.py", "session.py",
            "backup.py", "history.py", "restore.py", "conn.py", "bench.py", "advise.py",
            "runtime.py", "demo.py"} <= set(parts[0])
