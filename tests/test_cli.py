"""The ``sitrep`` command line, run in-process the way a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digests.cli import app
from digests.settings import Settings, get_settings
from tests.conftest import SAMPLES


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_ingest_json_report(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    missing = str(tmp_path / "missing")
    result = runner.invoke(app, ["--database-url", url, "ingest", "--json", str(SAMPLES / "articles"), missing])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["new"], report["updated"], report["unchanged"]) == (5, 0, 0)
    assert report["errors"] == [f"{missing}: no such file or folder"]
    again = json.loads(
        runner.invoke(app, ["--database-url", url, "ingest", "--json", str(SAMPLES / "articles")]).stdout
    )
    assert (again["new"], again["unchanged"]) == (0, 5)


def test_ingest_table_report(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["--database-url", f"sqlite:///{tmp_path / 'a.db'}", "ingest", str(SAMPLES / "feed.xml")]
    )
    assert result.exit_code == 0, result.output
    assert "total" in result.stdout
    assert "articles/s" in result.stdout


def test_usage_errors_exit_2(runner: CliRunner) -> None:
    assert runner.invoke(app, ["ingest"]).exit_code == 2
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2


def test_every_command_has_help(runner: CliRunner) -> None:
    for command in (["--help"], ["ingest", "--help"], ["collect", "--help"], ["sources", "list", "--help"],
                    ["run", "--help"]):  # fmt: skip
        result = runner.invoke(app, command)
        assert result.exit_code == 0, command
        assert "Usage" in result.stdout


def test_collect_and_sources_list_use_the_database_url_from_the_environment(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITREP_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    collected = runner.invoke(app, ["collect", "--json"])
    assert collected.exit_code == 0, collected.output
    assert json.loads(collected.stdout)["new"] == 5  # the bundled samples, read once through both sources
    listed = runner.invoke(app, ["sources", "list", "--json"])
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {"Sample briefings", "Sample feed"}
    assert all(row["last_success_at"] and row["failures"] == 0 for row in rows.values())
    assert (tmp_path / "env.db").exists()


def test_unsupported_database_is_a_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--database-url", "mysql://x@y/z", "sources", "list"])
    assert result.exit_code == 1
    assert "not supported" in result.output


def test_settings_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert defaults.database_url == "sqlite+aiosqlite:///data/sitrep.db"
    assert "Beyond the Headlines" in defaults.sections.headings  # read from config/settings.toml
    monkeypatch.setenv("SITREP_FETCH__MAX_REDIRECTS", "2")
    monkeypatch.setenv("SITREP_DATABASE_URL", "sqlite:///env.db")
    assert Settings().fetch.max_redirects == 2
    assert get_settings().database_url == "sqlite:///env.db"
    assert get_settings(database_url="sqlite:///cli.db").database_url == "sqlite:///cli.db"
