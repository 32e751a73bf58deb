"""The package's shape stays as docs/DESIGN.md draws it: no circle between modules, no module
over 400 lines, and nothing in the library starting the command-line program."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "semlink"
MAX_LINES = 400


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    """The import graph of ``semlink`` (imports only type checkers see left out)."""
    return grimp.build_graph("semlink", exclude_type_checking_imports=True)


def test_no_module_imports_one_that_imports_it_back(graph: grimp.ImportGraph) -> None:
    cycles = [
        (module, imported, graph.find_shortest_chain(imported, module))
        for module in sorted(graph.modules)
        for imported in graph.find_modules_directly_imported_by(module)
        if imported != module and graph.chain_exists(imported, module)
    ]
    assert cycles == []


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_library_never_starts_the_command_line_program() -> None:
    starts = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if '"semlink.cli"' in p.read_text() and "cli" not in p.parts
    ]
    assert starts == []
