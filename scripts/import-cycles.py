"""List import cycles between percgrad's modules (annotations-only imports aside), apart from the
one documented lazy hook reports.display → views.show; exit 1 if there is any."""

from __future__ import annotations

import sys

import grimp

HOOK = ("percgrad.reports.display", "percgrad.views.show")


def cycles() -> list[tuple[str, str]]:
    """Pairs of modules that import each other, directly or through others."""
    graph = grimp.build_graph("percgrad", exclude_type_checking_imports=True)
    graph.remove_import(importer=HOOK[0], imported=HOOK[1])
    found = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                found.add(tuple(sorted((module, imported))))
    return sorted(found)  # type: ignore[arg-type]


if __name__ == "__main__":
    pairs = cycles()
    for a, b in pairs:
        print(f"cycle: {a} ⇄ {b}")
    print(f"{len(pairs)} import cycle(s) besides the display hook")
    sys.exit(1 if pairs else 0)
