"""The layering the architecture promises: each package imports only the floors below it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

# Floors from the bottom up; a package may import only packages on lower floors (and itself).
FLOORS: list[set[str]] = [
    {"errors", "text", "kinds"},
    {"settings", "tomlfile"},
    {"collect", "store", "inference"},
    {"summarize", "tagging", "stories"},
    {"compose", "schedule"},
    {"render"},
    {"senders"},
    {"services"},
    {"jobs"},
    {"app"},
    {"cli"},
]
FLOOR = {name: level for level, names in enumerate(FLOORS) for name in names}


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _package(path: Path) -> str:
    return path.relative_to(REPO / "digests").with_suffix("").parts[0]


def _modules(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def test_every_package_has_a_floor() -> None:
    packages = {_package(p) for p in _modules("digests") if p.name != "__init__.py" or p.parent != REPO / "digests"}
    assert packages - {"__init__"} <= set(FLOOR)


def test_digests_never_imports_discord_or_the_bot() -> None:
    offenders = [
        f"{path.relative_to(REPO)}: {name}"
        for path in _modules("digests")
        for name in _imports(path)
        if name.split(".")[0] in ("discord", "bot")
    ]
    assert offenders == []


def test_only_the_store_imports_sqlalchemy() -> None:
    offenders = [
        f"{path.relative_to(REPO)}: {name}"
        for folder in ("digests", "bot")
        for path in _modules(folder)
        for name in _imports(path)
        if name.split(".")[0] in ("sqlalchemy", "alembic") and not path.is_relative_to(REPO / "digests" / "store")
    ]
    assert offenders == []


def test_orm_models_never_leave_the_store() -> None:
    """Callers hold plain records (``digests/store/records.py``); only repository functions touch rows."""
    offenders = [
        f"{path.relative_to(REPO)}: {name}"
        for folder in ("digests", "bot")
        for path in _modules(folder)
        for name in _imports(path)
        if name == "digests.store.models" and not path.is_relative_to(REPO / "digests" / "store")
    ]
    assert offenders == []


def test_each_package_imports_only_lower_floors() -> None:
    offenders = []
    for path in _modules("digests"):
        if path.parent == REPO / "digests" and path.name == "__init__.py":
            continue
        own = _package(path)
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "digests" or len(parts) < 2 or parts[1] == own:
                continue
            if FLOOR[parts[1]] >= FLOOR[own]:
                offenders.append(f"{path.relative_to(REPO)} ({own}) imports {name}")
    assert offenders == []


def test_the_bot_reaches_the_store_only_through_services() -> None:
    offenders = [
        f"{path.relative_to(REPO)}: {name}"
        for path in _modules("bot")
        for name in _imports(path)
        if name.startswith(("digests.store", "digests.inference", "digests.jobs"))
    ]
    assert offenders == []


def test_the_bot_is_registered_as_a_front_door() -> None:
    from bot.client import run_bot
    from digests.app import front_door

    assert front_door("discord") is run_bot
