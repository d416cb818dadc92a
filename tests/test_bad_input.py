"""Bad settings, sources, subscriptions and inputs: refused with one line that says what to change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digests.cli import app
from digests.errors import ConfigError
from digests.services.digests import sync_settings_subscriptions
from digests.store import Database
from tests.conftest import REPO, make_settings


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped config folder that a test may break."""
    folder = tmp_path / "config"
    shutil.copytree(REPO / "config", folder, ignore=shutil.ignore_patterns("samples"))
    monkeypatch.setenv("SITREP_CONFIG_DIR", str(folder))
    monkeypatch.setenv("SITREP_DATABASE_URL", f"sqlite:///{tmp_path / 'bad.db'}")
    return folder


def _one_line(output: str) -> str:
    assert "Traceback" not in output
    return " ".join(output.split())


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ("[digets]\nmax_items = 3\n", "digets: unknown setting; did you mean 'digest'?"),
        ("[fetch]\nallow_private_adresses = true\n", "did you mean 'allow_private_addresses'?"),
        ("[collect]\nmax_concurrent_sources = 0\n", "collect.max_concurrent_sources: Input should be greater than"),
        ("[fetch]\nmax_concurrent = -1\n", "fetch.max_concurrent: Input should be greater than"),
        ("[fetch]\ntotal_timeout = -5\n", "fetch.total_timeout: Input should be greater than"),
        ("[collect]\nmax_failures = 0\n", "collect.max_failures"),
        ("[digest\n", "not valid TOML"),
    ],
)
def test_a_bad_settings_file_is_one_line_naming_the_file_and_the_key(config: Path, toml: str, said: str) -> None:
    (config / "settings.toml").write_text(toml)
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 2
    line = _one_line(result.stderr)
    assert said in line
    assert str(config / "settings.toml") in line


def test_a_typo_in_an_environment_variable_is_refused(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITREP_DIGEST__MAX_ITEMZ", "3")
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 2
    assert "digest.max_itemz: unknown setting; did you mean 'max_items'?" in _one_line(result.stderr)


def test_an_unknown_log_level_is_one_line(config: Path) -> None:
    result = CliRunner().invoke(app, ["--log-level", "LOUD", "status"])
    assert result.exit_code == 2
    assert "log_level: Value error, must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in _one_line(result.stderr)


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ('name = "A"\nlocation = "https://a.example/rss"\nenabeld = false\n', "did you mean 'enabled'?"),
        ('name = "A"\nlocation = "ftp://example.org/feed.xml"\n', "ftp:// is not supported"),
        ('name = "A"\nlocation = "https://a.example/rss"\ninterval_minutes = -1\n', "interval_minutes"),
    ],
)
def test_a_bad_source_entry_is_refused_and_named(config: Path, entry: str, said: str) -> None:
    (config / "sources.toml").write_text(f"[[source]]\n{entry}")
    result = CliRunner().invoke(app, ["sources", "list"])
    assert result.exit_code == 1
    line = _one_line(result.stderr)
    assert "sources.toml: source 1 is invalid" in line
    assert said in line


@pytest.mark.parametrize(
    ("subscription", "said"),
    [
        ({"countries": ["Atlantis"]}, "'Atlantis'"),
        ({"topics": ["astrology"]}, "Unknown topic 'astrology'"),
        ({"languages": ["klingon"]}, "klingon"),
    ],
)
async def test_a_settings_subscription_is_checked_like_a_command(
    tmp_path: Path, subscription: dict[str, object], said: str
) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 's.db'}",
        digest={"subscriptions": [{"name": "mine", "target": "terminal", **subscription}]},
    )
    database = Database(settings.database_url)
    await database.migrate()
    try:
        with pytest.raises(ConfigError, match=said) as refused:
            await sync_settings_subscriptions(database=database, settings=settings)
        assert "digest.subscriptions 'mine'" in str(refused.value)
    finally:
        await database.dispose()


def test_titles_cannot_drive_the_terminal_and_are_cut_when_stored(tmp_path: Path) -> None:
    import sqlite3
    from xml.sax.saxutils import escape

    hostile = "Red \x1b[31malert\x1b[0m and a title \x1b]0;pwned\x07 with a bell \x9b2J"
    long_title = "Briefing " + "word " * 200_000
    items = "".join(
        f"<item><title>{escape(title)}</title><link>https://n.example/{n}</link><guid>g{n}</guid>"
        f"<description>{escape(body)}</description></item>"
        for n, (title, body) in enumerate(
            [
                (hostile, "Officials in Lima said the vote would go ahead. \x1b[2J The count starts on Monday."),
                (long_title, "Ministers met in Nairobi on Tuesday. They agreed a plan for geothermal power."),
            ]
        )
    )
    feed = tmp_path / "feed.xml"
    feed.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>')
    url = f"sqlite:///{tmp_path / 't.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["--database-url", url, "ingest", str(feed)]).exit_code == 0
    assert runner.invoke(app, ["--database-url", url, "summarize-pending"]).exit_code == 0
    with sqlite3.connect(tmp_path / "t.db") as connection:
        titles = [row[0] for row in connection.execute("SELECT title FROM articles")]
    assert max(len(title) for title in titles) <= 500
    assert not any(character in title for title in titles for character in "\x1b\x07\x9b")
    for output in ("rich", "text", "markdown", "json", "discord"):
        shown = runner.invoke(app, ["--database-url", url, "digest", "--format", output])
        assert shown.exit_code == 0, shown.output
        assert "alert" in shown.stdout
        assert not any(character in shown.stdout for character in "\x1b\x07\x9b"), output
    listed = runner.invoke(app, ["--database-url", url, "stories", "--format", "markdown"])
    assert not any(character in listed.stdout for character in "\x1b\x07\x9b")


def test_a_read_only_database_is_one_line_and_loses_nothing(tmp_path: Path) -> None:
    import sqlite3

    runner = CliRunner()
    writable = f"sqlite:///{tmp_path / 'ro.db'}"
    assert (
        runner.invoke(app, ["--database-url", writable, "ingest", str(REPO / "config/samples/feed.xml")]).exit_code == 0
    )
    read_only = f"sqlite:///file:{tmp_path / 'ro.db'}?mode=ro&uri=true"
    fresh = tmp_path / "fresh.txt"
    fresh.write_text("Kenya opens a geothermal plant\n\nNairobi said on Tuesday the plant adds 80 megawatts.\n")
    for command in (["status"], ["ingest", str(fresh)], ["collect"], ["sources", "list"]):
        result = runner.invoke(app, ["--database-url", read_only, *command])
        assert result.exit_code == 1, command
        line = _one_line(result.stderr)
        assert "the database refused the work: attempt to write a readonly database" in line, command
    with sqlite3.connect(tmp_path / "ro.db") as connection:
        assert connection.execute("SELECT count(*) FROM articles").fetchone()[0] > 0


def test_names_too_long_for_the_file_system_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'n.db'}"
    long_path = str(tmp_path / ("a" * 300))
    ingested = runner.invoke(app, ["--database-url", url, "ingest", long_path])
    assert ingested.exit_code == 1  # nothing could be read
    assert "File name too long" in _one_line(ingested.stdout)
    zone = runner.invoke(app, ["--database-url", url, "digest", "--timezone", "Europe/" + "b" * 300])
    assert zone.exit_code == 2
    assert "unknown time zone" in _one_line(zone.stderr)
    database = runner.invoke(app, ["--database-url", f"sqlite:///{tmp_path / ('d' * 300)}.db", "status"])
    assert database.exit_code in (1, 2)
    assert "Error" in _one_line(database.stderr)


def test_ingest_fails_when_nothing_could_be_read(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'i.db'}"
    assert runner.invoke(app, ["--database-url", url, "ingest", "/no/such"]).exit_code == 1
    partly = runner.invoke(app, ["--database-url", url, "ingest", "/no/such", str(REPO / "config/samples/feed.xml")])
    assert partly.exit_code == 0  # what could be read was read; the error is reported beside it
