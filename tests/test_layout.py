"""The layering the architecture promises: the domain never imports Discord or the bot."""

from __future__ import annotations

import ast

from tests.conftest import REPO


def test_digests_never_imports_discord_or_the_bot() -> None:
    offenders = []
    for path in sorted((REPO / "digests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in ("discord", "bot")]
    assert offenders == []


def test_the_bot_is_registered_as_a_front_door() -> None:
    from bot.client import run_bot
    from digests.app import front_door

    assert front_door("discord") is run_bot
