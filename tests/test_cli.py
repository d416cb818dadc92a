"""The ``sitrep`` command line, run in-process the way a user runs it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digests.cli import app
from digests.settings import Settings, get_settings, reset_settings_cache
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


def test_summarize_and_tag_jsonl_with_bad_lines(runner: CliRunner, tmp_path: Path) -> None:
    briefing = (SAMPLES / "articles" / "japan-britain-cyber-minerals.txt").read_text().split("\n", 1)
    lines = [
        json.dumps({"id": "jp", "title": briefing[0], "text": briefing[1]}),
        "{not json",
        json.dumps({"id": "empty", "text": "  "}),
        json.dumps(["a", "list"]),
        json.dumps({"id": 7, "text": "Kenya will add geothermal power. The plan costs money. Nairobi agrees."}),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "summaries.jsonl"
    result = runner.invoke(app, ["summarize", "--in", str(source), "--out", str(out), "--sentences", "2"])
    assert result.exit_code == 0, result.output
    assert "line 2: not JSON" in result.stderr
    assert "line 3: no text" in result.stderr
    assert "line 4: not a JSON object" in result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["jp", 7]
    assert [s["heading"] for s in rows[0]["sections"]] == [
        "What's Happening?",
        "Why It's Important?",
        "What's Next?",
        "Beyond the Headlines",
    ]
    assert rows[0]["summary"].count(". ") <= 1
    assert rows[1]["sections"][0]["heading"] is None

    tags = tmp_path / "tags.jsonl"
    result = runner.invoke(app, ["tag", "--in", str(source), "--out", str(tags)])
    assert result.exit_code == 0, result.output
    tagged = [json.loads(line) for line in tags.read_text().splitlines()]
    assert tagged[0]["id"] == "jp"
    assert set(tagged[0]["countries"][:2]) == {"JP", "GB"}
    assert "cybersecurity" in tagged[0]["topics"]
    assert tagged[1] == {"id": 7, "countries": ["KE"], "topics": ["energy"]}


def test_summarize_missing_input_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["summarize", "--in", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_jsonl_tools_never_destroy_their_input(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "x.jsonl"
    original = json.dumps({"id": 1, "text": "Kenya will add geothermal power. Nairobi agrees."}) + "\n"
    source.write_text(original)
    for command in ("tag", "summarize"):
        result = runner.invoke(app, [command, "--in", str(source), "--out", str(source)])
        assert result.exit_code == 2
        assert "is the input file" in result.stderr
        assert source.read_text() == original
    missing = runner.invoke(app, ["summarize", "--in", str(source), "--out", str(tmp_path / "none" / "x.jsonl")])
    assert missing.exit_code == 2
    assert missing.stderr.count("\n") == 1
    assert "does not exist" in missing.stderr
    assert "Traceback" not in missing.output


def test_jsonl_bad_encoding_long_lines_and_ids(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITREP_COLLECT__MAX_FILE_BYTES", "2000")
    good = "Kenya will add geothermal power. The plan costs money. Nairobi agrees."
    lines = [
        json.dumps({"text": good}).encode(),
        json.dumps({"id": "line-3", "text": good}).encode(),
        json.dumps({"text": good}).encode(),  # would be line-3 too: refused
        b'{"id": "bad", "text": "caf\xe9 au lait"}',
        json.dumps({"id": "long", "text": "word " * 1000}).encode(),
        json.dumps({"id": 7, "text": good}).encode(),
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "tags.jsonl"
    result = runner.invoke(app, ["tag", "--in", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "line 3: the id 'line-3' was used on line 2 already" in result.stderr
    assert "line 4: not UTF-8" in result.stderr
    assert "line 5: longer than 2,000 bytes" in result.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["line-1", "line-3", 7]


def test_summarize_pending_command(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert runner.invoke(app, ["--database-url", url, "ingest", str(SAMPLES / "articles")]).exit_code == 0
    result = runner.invoke(app, ["--database-url", url, "summarize-pending", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["articles_tagged"] == 5
    assert report["sections_summarized"] >= 5


def test_digest_command_formats_and_filters(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    assert runner.invoke(app, ["--database-url", url, "ingest", str(SAMPLES / "articles")]).exit_code == 0
    early = runner.invoke(app, ["--database-url", url, "digest", "--format", "text"])
    assert "5 collected article(s) are still being summarized" in early.stdout
    assert "run `sitrep summarize-pending`" in early.stderr
    assert runner.invoke(app, ["--database-url", url, "summarize-pending"]).exit_code == 0
    result = runner.invoke(app, ["--database-url", url, "digest", "--since", "2h", "--format", "discord"])
    assert result.exit_code == 0, result.output
    messages = json.loads(result.stdout)
    assert messages[0]["allowed_mentions"] == {"parse": []}
    titles = [e["title"] for m in messages for e in m["embeds"]]
    assert len(titles) == 6  # the header and the five sample articles
    british = runner.invoke(app, ["--database-url", url, "digest", "--country", "British", "--format", "json"])
    items = [i["title"] for g in json.loads(british.stdout)["groups"] for i in g["items"]]
    assert items == ["Japan and Britain Deepen Cyber and Critical Minerals Ties"]
    text = runner.invoke(app, ["--database-url", url, "digest", "--topic", "Energy", "--format", "text"])
    assert "Kenya Expands Geothermal Power" in text.stdout
    assert "Japan and Britain" not in text.stdout
    unknown = runner.invoke(app, ["--database-url", url, "digest", "--country", "Brtain"])
    assert unknown.exit_code == 2
    assert "Did you mean United Kingdom (GB)" in unknown.stderr
    assert "Sitrep briefing" in runner.invoke(app, ["--database-url", url, "digest", "--format", "markdown"]).stdout
    # Without --max, a digest asked for now shows digest.max_items stories.
    monkeypatch.setenv("SITREP_DIGEST__MAX_ITEMS", "2")
    reset_settings_cache()
    capped = json.loads(runner.invoke(app, ["--database-url", url, "digest", "--format", "json"]).stdout)
    assert sum(len(g["items"]) for g in capped["groups"]) == 2
    # Building a digest records no delivery.
    with sqlite3.connect(tmp_path / "d.db") as connection:
        assert connection.execute("select count(*) from deliveries").fetchone() == (0,)


def test_failures_are_one_clear_line_with_a_documented_exit_code(runner: CliRunner, tmp_path: Path) -> None:
    from tests.conftest import POSTGRES_ADMIN_URL, _postgres_available

    url = f"sqlite:///{tmp_path / 'f.db'}"
    cases = [
        (["--database-url", url, "digest", "--since", "99999999d"], 2, "reaches back too far"),
        (["--database-url", url, "digest", "--country", "X" * 6000], 2, "Unknown country"),
        (["--database-url", url, "sources", "enable", "nothing"], 1, "There is no source named"),
    ]
    if _postgres_available():
        missing = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/sitrep_no_such_database"
        cases.append((["--database-url", missing, "sources", "list"], 1, 'database "sitrep_no_such_database"'))
    for arguments, code, message in cases:
        result = runner.invoke(app, arguments)
        assert result.exit_code == code, (arguments, result.output)
        assert message in result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert len(result.stderr) < 400
        assert "Traceback" not in result.output


def test_stories_lists_a_whole_window_for_an_audit(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    result = runner.invoke(
        app, ["--database-url", url, "stories", "--since", "7d", "--max", "100000", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_error_lines_print_brackets_as_they_are(runner: CliRunner, tmp_path: Path) -> None:
    # A refusal quotes what it refused; square brackets in it are text, not console markup to swallow.
    result = runner.invoke(
        app, ["--database-url", f"sqlite:///{tmp_path / 'b.db'}", "digest", "--topic", "[bold]wars[/bold] [[source]]"]
    )
    assert result.exit_code == 2
    assert "Unknown topic '[bold]wars[/bold] [[source]]'" in " ".join(result.stderr.split())
