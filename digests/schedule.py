"""Schedules: cron expressions or daily times, evaluated in a subscription's own time zone."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from rapidfuzz import process

from digests.errors import SitrepError
from digests.text import cut

_DAILY = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


class ScheduleError(SitrepError):
    """A schedule or time zone that cannot be used; the message shows a valid example."""


def check_timezone(name: str) -> ZoneInfo:
    """Return the IANA time zone ``name``, or raise with the closest valid names."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:  # OSError: a name too long for a file
        close = [match for match, _, _ in process.extract(name, sorted(available_timezones()), limit=3)]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ScheduleError(
            f"unknown time zone {cut(name, 60)!r}: use an IANA name such as Europe/London.{hint}"
        ) from error


def parse_schedule(schedule: str, timezone: str) -> BaseTrigger:
    """Turn "0 8 * * 1-5" (cron) or "08:00, 18:30" (daily times) into a trigger in ``timezone``."""
    zone = check_timezone(timezone)
    text = schedule.strip()
    parts = [p for p in re.split(r"[,\s]+", text) if p] if ":" in text else []
    if parts and all(_DAILY.match(p) for p in parts):
        triggers: list[BaseTrigger] = []
        for part in parts:
            match = _DAILY.match(part)
            assert match is not None
            hour, minute = int(match.group(1)), int(match.group(2))
            if hour > 23 or minute > 59:
                raise ScheduleError(f"{cut(part, 40)!r} is not a time of day: use 24-hour times such as 08:00 or 18:30")
            triggers.append(CronTrigger(hour=hour, minute=minute, timezone=zone))
        return triggers[0] if len(triggers) == 1 else OrTrigger(triggers)
    if len(text.split()) != 5:
        raise ScheduleError(
            f"{cut(schedule, 80)!r} is not a schedule: use a cron expression such as '0 8 * * 1-5' "
            "(08:00 on weekdays) or daily times such as '08:00, 18:30'"
        )
    fields = text.split()
    try:
        return CronTrigger(
            minute=fields[0],
            hour=fields[1],
            day=fields[2],
            month=fields[3],
            day_of_week=_cron_weekdays(fields[4]),
            timezone=zone,
        )
    except ValueError as error:
        raise ScheduleError(
            f"{cut(schedule, 80)!r} is not a valid cron expression ({error}); "
            "for example '0 8 * * 1-5' is 08:00 on weekdays"
        ) from error


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _cron_weekdays(field: str) -> str:
    """Translate crontab weekdays (0 or 7 is Sunday) into names; APScheduler 3 counts from Monday."""
    if field == "*" or any(ch.isalpha() for ch in field):
        return field
    days: set[int] = set()
    for item in field.split(","):
        span, _, step_text = item.partition("/")
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            first_text, last_text = span.split("-", 1)
            first, last = int(first_text), int(last_text)
        else:
            first = last = int(span)
        step = int(step_text) if step_text else 1
        if not (0 <= first <= 7 and 0 <= last <= 7 and first <= last and step > 0):
            raise ValueError(f"weekday field {field!r} is out of range (0-7, 0 and 7 being Sunday)")
        days.update(day % 7 for day in range(first, last + 1, step))
    return "*" if len(days) == 7 else ",".join(_WEEKDAYS[day] for day in sorted(days))


def previous_fire_time(
    trigger: BaseTrigger, now: datetime, *, lookback: timedelta = timedelta(days=8)
) -> datetime | None:
    """Return the latest time ``trigger`` fired at or before ``now`` (within ``lookback``), or None."""
    for span in (timedelta(hours=1), timedelta(days=1), lookback):
        start = now - span
        fire = trigger.get_next_fire_time(None, start)
        latest = None
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        if latest is not None:
            return cast(datetime, latest)
    return None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": 1 / 60, "min": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}
MAX_SINCE_HOURS = 24 * 365 * 100


def parse_since(text: str, now: datetime) -> datetime:
    """Return the start of a window given as "90m", "24h", "7d", "2w", or an ISO date or time."""
    match = _DURATION.match(text)
    if match:
        hours = float(match.group(1)) * _UNITS[match.group(2).lower()]
        if hours > MAX_SINCE_HOURS:
            raise ScheduleError(f"{cut(text, 40)!r} reaches back too far: at most {MAX_SINCE_HOURS // 24 // 365} years")
        return now - timedelta(hours=hours)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise ScheduleError(
            f"{cut(text, 40)!r} is not a time span: use 24h, 90m, 7d, 2w or a date like 2026-11-20"
        ) from error
    return when if when.tzinfo else when.replace(tzinfo=now.tzinfo)


def next_fire_time(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """Return when ``trigger`` next fires after ``now``."""
    return cast("datetime | None", trigger.get_next_fire_time(None, now))
