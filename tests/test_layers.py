"""Imports point down: core, contract, plumbing, services, operator tools.

Checked on the source, lazy imports inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("bot", "fetcher", "parser", "poster", "storage")
OURS = ("etstats", "etstats_cli", "services")
CORE = (
    "etstats.statsfile",
    "etstats.period",
    "etstats.text",
    "etstats.players",
    "etstats.sessions",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_imports(path: Path) -> set[str]:
    """Every module of ours that `path` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in OURS}


def allowed(importer: str, imported: str) -> bool:
    """The floor rule: may `importer` import `imported`?"""
    if importer.startswith(CORE):
        return imported.startswith(CORE)
    if importer.startswith("etstats.contract") or importer == "etstats":
        return imported.startswith((*CORE, "etstats.contract"))
    if importer.startswith("services.common"):
        return imported.startswith(("etstats.", "services.common"))
    if importer.startswith("services."):
        own = ".".join(importer.split(".")[:2])
        return imported.startswith(("etstats.", "services.common", own)) or imported == own
    return importer.startswith("etstats_cli")  # operator tools sit on top


MODULES = sorted(
    p for package in OURS for p in (ROOT / package).rglob("*.py") if "_pb2" not in p.name
)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down(path: Path) -> None:
    importer = module_name(path)
    upward = sorted(name for name in our_imports(path) if not allowed(importer, name))
    assert upward == [], f"{importer} imports from a floor above it"


def test_the_rule_catches_upward_imports() -> None:
    assert not allowed("etstats.statsfile.parser", "services.common.bus")
    assert not allowed("etstats.period", "etstats.contract.rounds")
    assert not allowed("services.common.control", "services.fetcher.sync")
    assert not allowed("services.poster.render", "services.storage.queries")
    assert not allowed("services.fetcher.sync", "etstats_cli.stack")
    assert allowed("services.fetcher.sync", "services.fetcher.known")
    assert allowed("etstats_cli.ops", "services.common.control")
