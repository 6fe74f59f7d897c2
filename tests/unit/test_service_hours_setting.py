"""SERVICE_HOURS: the team's hours as the fact sheet writes them, read once in settings/, and refused at
start-up when they name no span or no zone (a silent fallback would count every hour as business time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.service_hours import ServiceHours as HandoffHours
from settings import SettingsError, load
from settings.service_hours import DEFAULT_SERVICE_HOURS, service_hours


def test_the_default_is_the_fact_sheets_hours_in_new_york(tmp_path: Path) -> None:
    hours = load({}, var_dir=tmp_path).analytics.service_hours
    assert hours.timezone == "America/New_York"
    weekdays = {day: (8 * 60, 20 * 60) for day in range(5)}
    assert hours.by_weekday == {**weekdays, 5: (9 * 60, 14 * 60)}
    assert load({}, var_dir=tmp_path).for_inbox().service_hours == hours


def test_the_bot_and_the_analytics_read_the_fact_sheet_alike() -> None:
    fact_sheet = "Mon-Fri 8am-8pm ET, Sat 9am-2pm ET; claims and roadside 24/7"
    assert service_hours(fact_sheet).by_weekday == HandoffHours.parse(fact_sheet).by_weekday
    assert service_hours(fact_sheet) == service_hours(DEFAULT_SERVICE_HOURS)


def test_another_team_in_another_zone(tmp_path: Path) -> None:
    found = load({"SERVICE_HOURS": "Mon-Thu 9am-5:30pm America/Chicago, Fri 9am-1pm"}, var_dir=tmp_path)
    hours = found.analytics.service_hours
    assert hours.timezone == "America/Chicago"
    assert hours.by_weekday == {**{d: (540, 1050) for d in range(4)}, 4: (540, 780)}


@pytest.mark.parametrize(
    "raw, says",
    [
        ("whenever we feel like it", "expected opening hours"),
        ("Mon-Fri 8am-8pm", "name one time zone"),
        ("Mon-Fri 8am-8pm ET, Sat 9am-2pm PT", "name one time zone"),
        ("Mon-Fri 8am-8pm Mars/Olympus_Mons", "not a time zone"),
        ("Mon-Fri 8pm-8am ET", "closes before it opens"),
    ],
)
def test_hours_that_cannot_be_counted_stop_start_up(tmp_path: Path, raw: str, says: str) -> None:
    with pytest.raises(SettingsError) as error:
        load({"SERVICE_HOURS": raw}, var_dir=tmp_path)
    assert "SERVICE_HOURS" in str(error.value) and says in str(error.value)
