"""List the modules of src/percgrad that no unit test imports; exit 1 if there is any.

A unit test is a test module (``test_*.py``) under tests/ but outside tests/cli/, whose
end-to-end runs of the command line are deselected by ``pytest -m "not cli"``. A module counts as
imported when a unit test names it in an import statement (anywhere in the file, inside functions
too) or through ``importlib.import_module("...")``:

- ``import a.b.c`` and ``from a.b import c`` (c a module) name ``a.b.c``, and with it the packages
  ``a`` and ``a.b`` that Python runs first;
- ``from a.b import name`` (name not a module) names the package's face, ``a.b``;
- a package that is named brings the submodules its ``__init__`` imports (its public face, e.g.
  percgrad.catalog's activations, losses, inits...; percgrad's api), and so on down through
  packages, but never what a module imports in turn.

What a test reaches only through another module (or only through conftest.py and the helper
modules) does not count: the point is a test of the module itself. ``--verbose`` also lists, for
every module, the unit tests that import it.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
END_TO_END = TESTS / "cli"
PACKAGE = "percgrad"


def unit_test_files() -> list[Path]:
    """Every test module under tests/ that is not an end-to-end one (tests/cli/)."""
    return sorted(path for path in TESTS.rglob("test_*.py") if END_TO_END not in path.parents)


def imported_names(path: Path, graph: grimp.ImportGraph) -> set[str]:
    """The modules of the package that the file at ``path`` imports, as the rules above count."""
    modules = graph.modules
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    named: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                named.add(child if child in modules else node.module)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            named.add(node.args[0].value)
    found: set[str] = set()
    for name in named:
        parts = name.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
    todo = [name for name in named if name in modules]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        if is_package(name):
            todo.extend(sub for sub in graph.find_modules_directly_imported_by(name)
                        if sub.startswith(name + "."))
    return found & modules


def is_package(module: str) -> bool:
    """Whether ``module`` is a package of src/ (a folder with an __init__.py)."""
    return (ROOT / "src" / module.replace(".", "/") / "__init__.py").is_file()


def coverage() -> dict[str, list[str]]:
    """Each module of the package and the unit tests (paths relative to tests/) that import it."""
    graph = grimp.build_graph(PACKAGE)
    modules = set(graph.modules)
    importers: dict[str, list[str]] = defaultdict(list)
    for path in unit_test_files():
        for module in imported_names(path, graph):
            importers[module].append(str(path.relative_to(TESTS)))
    return {module: sorted(importers.get(module, [])) for module in sorted(modules)}


def main(argv: list[str]) -> int:
    table = coverage()
    untested = [module for module, tests in table.items() if not tests]
    if "--verbose" in argv or "-v" in argv:
        for module, tests in table.items():
            print(f"{module}: {', '.join(tests) if tests else '-'}")
        print()
    for module in untested:
        print(f"untested: {module}")
    print(f"{len(untested)} of {len(table)} modules imported by no unit test "
          f"({len(unit_test_files())} unit test files outside tests/cli)")
    return 1 if untested else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
