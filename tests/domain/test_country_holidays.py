"""The business calendar loads one country's holidays, not the package's ~280 calendars (issue 17, memory).

Each check runs in a fresh interpreter: what a process has imported cannot be undone in this one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The days of 2024-2026 on which the company does not work, as a calendar built in the child says.
_DAYS_OFF = """
import json, sys
from datetime import date, timedelta
{build}
days = [date(2024, 1, 1) + timedelta(days=n) for n in range(3 * 366)]
off = [day.isoformat() for day in days if not works(day)]
loaded = sorted(name for name in sys.modules if name.startswith("holidays.countries"))
print(json.dumps({{"off": off, "loaded": loaded}}))
"""
_THE_CALENDAR = """
from domain.sla.calendar import BusinessCalendar
works = BusinessCalendar("Asia/Shanghai", "CN").is_working_day
"""
# What the bot does at start-up: the settings check the country, the composition builds the calendar.
_THE_BOT_START = """
from bot.config import load_settings
from domain.sla.calendar import BusinessCalendar
settings = load_settings(env_file=None)
works = BusinessCalendar(settings.timezone, settings.holiday_country).is_working_day
"""
_THE_WHOLE_PACKAGE = """
import holidays
works = holidays.country_holidays("CN").is_working_day
"""
# A holidays release whose country module needs the package's own names: the first load fails.
_A_MODULE_THAT_NEEDS_THE_PACKAGE = """
import holidays
real = holidays.country_holidays
def needs_the_package(country):
    package = sys.modules.get("holidays.countries")
    if package is not None and not hasattr(package, "China"):
        raise ImportError("cannot import name 'China' from 'holidays.countries'")
    return real(country)
holidays.country_holidays = needs_the_package
from domain.sla.calendar import BusinessCalendar
works = BusinessCalendar("Asia/Shanghai", "CN").is_working_day
"""


def _child(build: str) -> dict[str, list[str]]:
    """Runs the calendar check with the given set-up in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _DAYS_OFF.format(build=build)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answer: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_the_calendar_loads_only_its_own_country_and_reads_it_as_the_whole_package_does() -> None:
    calendar = _child(_THE_CALENDAR)
    package = _child(_THE_WHOLE_PACKAGE)
    assert calendar["loaded"] == ["holidays.countries", "holidays.countries.china"]
    assert len(package["loaded"]) > 200
    assert calendar["off"] == package["off"]
    # National Day 2025 (Oct 1-8) is off; its make-up Sunday, 2025-09-28, is a working day.
    assert {"2025-10-01", "2025-10-08"} <= set(calendar["off"])
    assert "2025-09-28" not in calendar["off"]


def test_the_settings_check_of_the_country_loads_no_calendar() -> None:
    assert _child(_THE_BOT_START)["loaded"] == ["holidays.countries", "holidays.countries.china"]


def test_a_country_module_that_needs_the_whole_package_gets_it() -> None:
    calendar = _child(_A_MODULE_THAT_NEEDS_THE_PACKAGE)
    package = _child(_THE_WHOLE_PACKAGE)
    assert len(calendar["loaded"]) > 200
    assert calendar["off"] == package["off"]
