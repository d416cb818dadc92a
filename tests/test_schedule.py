"""Schedules in their own time zones, with controlled time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from digests.schedule import ScheduleError, check_timezone, parse_schedule, parse_since, previous_fire_time


def test_tokyo_morning_digest_fires_at_23_utc_the_day_before() -> None:
    trigger = parse_schedule("0 8 * * *", "Asia/Tokyo")
    after = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    fire = trigger.get_next_fire_time(None, after)
    assert fire.astimezone(UTC) == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
    assert previous_fire_time(trigger, after).astimezone(UTC) == datetime(2026, 11, 26, 23, 0, tzinfo=UTC)


def test_daily_times_and_daylight_saving() -> None:
    trigger = parse_schedule("08:00, 18:30", "Europe/London")
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, summer).astimezone(UTC) == datetime(2026, 7, 1, 17, 30, tzinfo=UTC)
    winter = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, winter).astimezone(UTC) == datetime(2026, 12, 1, 18, 30, tzinfo=UTC)
    new_york = parse_schedule("0 7 * * 1-5", "America/New_York")
    saturday = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert new_york.get_next_fire_time(None, saturday).astimezone(UTC) == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "zone", "message"),
    [
        ("0 25 * * *", "UTC", "not a valid cron expression"),
        ("every morning", "UTC", "0 8 \\* \\* 1-5"),
        ("25:00", "UTC", "not a time of day"),
        ("0 8 * * *", "Mars/Olympus", "unknown time zone"),
        ("0 8 * * *", "Europe/Londn", "Europe/London"),
    ],
)
def test_bad_schedules_explain_with_an_example(schedule: str, zone: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(schedule, zone)


def test_previous_fire_time_for_frequent_and_rare_schedules() -> None:
    now = datetime(2026, 11, 27, 10, 7, tzinfo=UTC)
    assert previous_fire_time(parse_schedule("*/5 * * * *", "UTC"), now) == datetime(2026, 11, 27, 10, 5, tzinfo=UTC)
    weekly = previous_fire_time(parse_schedule("0 9 * * 1", "UTC"), now)  # Mondays
    assert weekly == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_parse_since() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2w", now) == now - timedelta(weeks=2)
    assert parse_since("2026-11-20", now) == datetime(2026, 11, 20, tzinfo=UTC)
    with pytest.raises(ScheduleError, match="24h"):
        parse_since("yesterday", now)
    assert str(check_timezone("Asia/Tokyo")) == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(-5, "0 s"), (40, "40 s"), (61, "1 min"), (720, "12 min"), (3 * 3600 + 300, "3 h 05 min"), (52 * 3600, "2 d 4 h")],
)
def test_time_until_the_next_digest_reads_as_a_person_says_it(seconds: float, said: str) -> None:
    from digests.jobs import until

    assert until(seconds) == said


def test_a_webhook_on_another_host_names_the_setting_that_allows_it() -> None:
    from digests.errors import SitrepError
    from digests.senders import check_webhook_url

    with pytest.raises(SitrepError, match="SITREP_DIGEST__ALLOW_ANY_WEBHOOK_HOST=true"):
        check_webhook_url("http://127.0.0.1:8080/api/webhooks/1/token")
    assert check_webhook_url("http://127.0.0.1:8080/api/webhooks/1/token", allow_any_host=True)
