"""Every command, option and setting: a bad value is one line (exit 1 or 2) and never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner

from digests.cli import app
from digests.errors import ConfigError
from digests.settings import Settings, get_settings, reset_settings_cache

# `run` serves until stopped and `prepare` exports a model: both are driven elsewhere (tests/test_process.py).
LONG_RUNNING = {"run", "prepare"}
HOSTILE = [
    "",
    " ",
    "-1",
    "0",
    "99999999999999999999999",
    "1e309",
    "nan",
    "x" * 5000,
    "\x1b[31mred\x1b]0;pwned\x07",
    "[[source]] [bold]x[/bold]",
    "../../../../etc/passwd",
    "a" * 300,
    "2026-13-45",
    "Atlantis",
]


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command under ``group`` (typer's own click), by its path of names."""
    for name, command in sorted(group.commands.items()):
        if name in LONG_RUNNING:
            continue
        path = (*prefix, name)
        if hasattr(command, "commands"):
            if command.invoke_without_command:
                yield path, command
            yield from _commands(command, path)
        else:
            yield path, command


def _is_option(parameter: Any) -> bool:
    return bool(parameter.param_type_name == "option")


COMMANDS = list(_commands(typer.main.get_command(app)))
BY_PATH = dict(COMMANDS)
CASES = [
    (path, option)
    for path, command in COMMANDS
    for option in command.params
    if _is_option(option) and not option.is_flag and option.name != "help"
]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("properties")
    url = f"sqlite:///{folder / 'p.db'}"
    assert CliRunner().invoke(app, ["--database-url", url, "status"]).exit_code == 0  # migrated once
    return url


def _invoke(arguments: list[str], database_url: str) -> Any:
    result = CliRunner().invoke(app, ["--database-url", database_url, *arguments])
    said = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in said, arguments
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), (arguments, repr(result.exception))
    assert result.exit_code in (0, 1, 2), (arguments, result.exit_code, said[-500:])
    return result


def test_every_command_is_covered() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"ingest", "digest", "stories", "sources list", "summarize", "tag", "status"} <= names
    assert len(CASES) >= 12


@pytest.mark.parametrize(("path", "option"), CASES, ids=lambda c: c if isinstance(c, str) else None)
def test_every_option_answers_hostile_values_in_one_line(
    path: tuple[str, ...], option: Any, database_url: str, tmp_path: Path
) -> None:
    flag = option.opts[0]
    required = [
        arg
        for other in BY_PATH[path].params
        if _is_option(other) and other.required and other is not option
        for arg in (other.opts[0], str(tmp_path / "missing.jsonl"))
    ]
    for value in HOSTILE:
        _invoke([*path, *required, flag, value], database_url)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_values_for_random_options(data: st.DataObject, database_url: str) -> None:
    path, option = data.draw(st.sampled_from(CASES))
    value = data.draw(st.one_of(st.text(max_size=300), st.integers().map(str), st.floats().map(str)))
    required = [
        arg
        for other in BY_PATH[path].params
        if _is_option(other) and other.required and other is not option
        for arg in (other.opts[0], "/no/such/input.jsonl")
    ]
    _invoke([*path, *required, option.opts[0], value], database_url)


def _setting_keys(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _setting_keys(annotation, (*prefix, name))
        else:
            yield (*prefix, name)


SETTING_KEYS = list(_setting_keys(Settings))


@pytest.mark.parametrize("key", SETTING_KEYS, ids=".".join)
def test_every_setting_refuses_hostile_values_in_one_line(
    key: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    variable = "SITREP_" + "__".join(part.upper() for part in key)
    for value in [*HOSTILE, "[1, 2]", '{"a": 1}', "true"]:
        monkeypatch.setenv(variable, value)
        reset_settings_cache()
        built: Settings | str
        try:
            built = get_settings()
        except ConfigError as error:
            built = str(error)
        if isinstance(built, str):
            assert "\n" not in built
            assert key[0] in built
            continue
        if key == ("database_url",) or key[-1] in ("sources_file", "topics_file", "encoder", "model_cache"):
            # Accepted as text: the commands that use it must still fail in one line.
            result = CliRunner().invoke(app, ["sources", "list", "--json"])  # the variable is set above
            assert "Traceback" not in result.output
            assert result.exit_code in (0, 1, 2)
        assert isinstance(built, Settings)
    monkeypatch.delenv(variable)
    reset_settings_cache()


def test_settings_keys_are_walked() -> None:
    assert ("fetch", "allowed_private") in SETTING_KEYS
    assert ("digest", "subscriptions") in SETTING_KEYS
    assert len(SETTING_KEYS) > 60
