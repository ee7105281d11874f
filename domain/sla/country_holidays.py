"""One country's public holidays from the `holidays` package, without loading its ~280 other calendars.

The package's `holidays.countries` imports every country module as soon as any one of them is
imported: about 8 MiB in each running bot for calendars it never reads (issue 17, memory). While
nothing has imported that package yet, an unexecuted module made from its own import spec stands in
for it, so that the one country's module imports alone. The package's lazy loaders
(`holidays.country_holidays`, `holidays.CN`) import a country by its full module name and work as
before. Should a release make a country module need names from the package itself, the stand-in is
taken out again and the whole package loads, as without this module.
"""

from __future__ import annotations

import importlib.util
import sys

import holidays
from holidays.registry import EntityLoader

_PACKAGE = "holidays.countries"


def country_holidays(country: str) -> holidays.HolidayBase:
    """The holidays of one country (ISO 3166-1 alpha-2 code); NotImplementedError if the package has none."""
    stand_in = _PACKAGE not in sys.modules and _stand_in()
    try:
        return holidays.country_holidays(country)
    except ImportError:
        if not stand_in:
            raise
        # The country's module needs the whole package: load it as the package means it to load.
        for name in [name for name in sys.modules if name == _PACKAGE or name.startswith(_PACKAGE + ".")]:
            del sys.modules[name]
        return holidays.country_holidays(country)


def supports(country: str) -> bool:
    """Whether the package has a calendar for the code (alpha-2, alpha-3 or alias), from its registry.

    `holidays.list_supported_countries()` would import every country module to list subdivisions.
    """
    return country.upper() in frozenset(EntityLoader.get_country_codes())


def _stand_in() -> bool:
    """Puts the unexecuted package module in place; False if the package cannot be found."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        return False
    sys.modules[_PACKAGE] = importlib.util.module_from_spec(spec)
    return True
