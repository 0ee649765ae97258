"""Times as live pages print them: "2:57 p.m. ET, March 20, 2023", a clock without a date, or
"3 min ago", read into UTC with the rules of the zone each line names (the text importer's time
lines; what the text importer does with them is in `text.py`).

Zones. Each time line's own abbreviation decides its zone (ZONES below): an abbreviation names a
region, and the wall time is converted with that region's rules on that date, so "CET" written in
July is Paris summer time and "EDT" written in January is New York winter time, as the newsroom
meant. GMT is read as UTC (offset zero all year); a British summer time says BST. Some
abbreviations are ambiguous (IST is India, Ireland or Israel; CST is US Central or China): the
table picks one, and `timezone` (--timezone) changes that for every abbreviation the given zone
itself uses on that date (Asia/Shanghai for CST, Asia/Jerusalem for IST or IDT), including ones
not in the table. `timezone` is also the blog's display zone (else the header's zone). A wall
time that happens twice (clocks going back) is the first one unless the abbreviation names the
second ("1:30 a.m. EST" after EDT ends); one that never happened (clocks going forward) is read
with the offset in force before the change, unless the abbreviation names the later one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dateline.errors import ImportFailed
from dateline.render import zone

ZONES: dict[str, str] = {
    **dict.fromkeys(("ET", "EDT", "EST"), "America/New_York"),
    **dict.fromkeys(("CT", "CDT", "CST"), "America/Chicago"),
    **dict.fromkeys(("MT", "MDT", "MST"), "America/Denver"),
    **dict.fromkeys(("PT", "PDT", "PST"), "America/Los_Angeles"),
    **dict.fromkeys(("AKT", "AKDT", "AKST"), "America/Anchorage"),
    **dict.fromkeys(("HT", "HST"), "Pacific/Honolulu"),
    **dict.fromkeys(("UTC", "GMT", "Z"), "UTC"),
    "BST": "Europe/London",
    **dict.fromkeys(("WET", "WEST"), "Europe/Lisbon"),
    **dict.fromkeys(("CET", "CEST"), "Europe/Paris"),
    **dict.fromkeys(("EET", "EEST"), "Europe/Athens"),
    "MSK": "Europe/Moscow",
    "IST": "Asia/Kolkata",
    "PKT": "Asia/Karachi",
    "HKT": "Asia/Hong_Kong",
    "SGT": "Asia/Singapore",
    "JST": "Asia/Tokyo",
    "KST": "Asia/Seoul",
    **dict.fromkeys(("AEST", "AEDT"), "Australia/Sydney"),
    **dict.fromkeys(("ACST", "ACDT"), "Australia/Adelaide"),
    "AWST": "Australia/Perth",
    **dict.fromkeys(("NZST", "NZDT"), "Pacific/Auckland"),
}
YEARS = range(1900, 3000)
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")  # fmt: skip
_LABEL = r"(?:(?P<label>Updated|Published|Posted):? )?"
_DATE = (
    r"(?:(?:[A-Z][a-z]{1,8}\.?,? )?(?P<month>[A-Za-z]{3,9}\.?) (?P<day>\d{1,2}),? (?P<year>\d{4})"
    r"|(?P<day2>\d{1,2}) (?P<month2>[A-Za-z]{3,9}\.?),? (?P<year2>\d{4}))"
)
_TIME = re.compile(
    _LABEL + r"(?P<hour>\d{1,2}):(?P<minute>\d{2}) ?(?P<meridiem>[AaPp])\.?[Mm]\.? "
    r"(?P<zone>[A-Z]{1,5})(?:,? " + _DATE + ")?"
)
# What makes a line a time line (and so a refused file when it does not parse): a clock with
# a.m./p.m., then a capitalised zone that ends the line or is followed by a comma or a date.
# "10:30 a.m. ET: The Senate opens" and "9:15 a.m. EU leaders met" stay body text.
_TIME_START = re.compile(
    r"(?:(?:Updated|Published|Posted):? )?\d{1,2}:\d{2} ?[AaPp]\.?[Mm]\.? [A-Z]{1,5}"
    r"(?:$|,| [A-Z][a-z]{1,8}\.?,? (?:[A-Z][a-z]{2,8}\.? )?\d| \d{1,2} [A-Z])"
)
_UNIT = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|wks?|[smhdw])\b\.?"
_RELATIVE = re.compile(
    _LABEL + rf"(?:(?P<parts>(?:(?:\d{{1,4}}|an?) ?{_UNIT} )+)ago|just now)", re.IGNORECASE
)
_RELATIVE_PART = re.compile(rf"(\d{{1,4}}|an?) ?({_UNIT})", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}  # by the unit's first letter
EXPECTED_TIME = 'expected a time such as "2:57 p.m. ET, March 20, 2023"'


def quote(text: str) -> str:
    return f'"{text}"' if len(text) <= 80 else f'"{text[:77]}…"'


def is_time(text: str) -> bool:
    return _TIME_START.match(text) is not None or (
        len(text) <= 60 and _RELATIVE.fullmatch(text) is not None
    )


def month_number(name: str) -> int | None:
    key = name.lower().rstrip(".")
    key = "sep" if key == "sept" else key
    for number, full in enumerate(_MONTHS, 1):
        if key == full or (len(key) == 3 and full.startswith(key)):
            return number
    return None


def to_utc(wall: datetime, tz_name: str, abbreviation: str) -> datetime:
    """A local wall time → UTC. In a fold or a gap, fold=0 unless the abbreviation names the
    other offset (EST after EDT ends, EDT in the skipped hour)."""
    tz = zone(tz_name)
    first, second = wall.replace(tzinfo=tz), wall.replace(tzinfo=tz, fold=1)
    chosen = second if second.tzname() == abbreviation != first.tzname() else first
    return chosen.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Clock:
    """A time line's wall clock before its date is known ("2:57 p.m. ET")."""

    hour: int
    minute: int
    tz_name: str
    abbreviation: str

    def on(self, day: date) -> datetime:
        wall = datetime(day.year, day.month, day.day, self.hour, self.minute)
        return to_utc(wall, self.tz_name, self.abbreviation)


@dataclass(frozen=True, slots=True)
class Stamp:
    label: str  # "updated", "published", "posted" or ""
    moment: datetime | None  # UTC; None for a clock without a date
    clock: Clock | None
    tz_name: str | None  # None for a relative time


class TimeReader:
    """Reads time lines in the zone rules above; `day` is the date a clock without one is
    checked against (the text importer moves it as it reads)."""

    def __init__(self, timezone: str | None, captured_at: datetime | None):
        self.timezone = timezone
        self.captured_at = captured_at
        self.day: date | None = None

    def time(self, text: str, number: int) -> Stamp:
        relative = _RELATIVE.fullmatch(text) if len(text) <= 60 else None
        if relative is not None:
            return self._relative(relative, text, number)
        match = _TIME.fullmatch(text)
        if match is None:
            raise ImportFailed(f"{EXPECTED_TIME}, found {quote(text)}", line=number)
        label = (match["label"] or "").lower()
        hour, minute = int(match["hour"]), int(match["minute"])
        if not 1 <= hour <= 12 or minute > 59:
            raise ImportFailed(f"{EXPECTED_TIME}, found {quote(text)}", line=number)
        hour = hour % 12 + (12 if match["meridiem"] in "Pp" else 0)
        if match["year"] is None and match["year2"] is None:
            tz_name = self._zone(match["zone"], self.day, number)
            return Stamp(label, None, Clock(hour, minute, tz_name, match["zone"]), tz_name)
        month = month_number(match["month"] or match["month2"])
        year = int(match["year"] or match["year2"])
        if month is None:
            raise ImportFailed(f"{EXPECTED_TIME}, found {quote(text)}", line=number)
        if year not in YEARS:
            raise ImportFailed(f"the year {year} is out of range (1900–2999)", line=number)
        try:
            wall = datetime(year, month, int(match["day"] or match["day2"]), hour, minute)
        except ValueError as exc:
            raise ImportFailed(f"{exc}: {quote(text)}", line=number) from None
        tz_name = self._zone(match["zone"], wall.date(), number)
        return Stamp(label, to_utc(wall, tz_name, match["zone"]), None, tz_name)

    def _relative(self, match: re.Match[str], text: str, number: int) -> Stamp:
        if self.captured_at is None:
            raise ImportFailed(
                f"{quote(text)} is a relative time; pass --captured-at with the time the page "
                "was saved, such as 2023-09-20T14:05:00-04:00",
                line=number,
            )
        seconds = 0
        for amount, unit in _RELATIVE_PART.findall(match["parts"] or ""):
            count = int(amount) if amount.isdigit() else 1
            seconds += count * _SECONDS[unit[0].lower()]
        try:
            moment = self.captured_at.astimezone(UTC) - timedelta(seconds=seconds)
        except OverflowError:
            moment = datetime.min.replace(tzinfo=UTC)
        if moment.year not in YEARS:
            raise ImportFailed(f"{quote(text)} falls before the year 1900", line=number)
        return Stamp((match["label"] or "").lower(), moment, None, None)

    def _zone(self, abbreviation: str, day: date | None, number: int) -> str:
        """The IANA zone a time line's abbreviation means (see the module's docstring)."""
        if self.timezone is not None:
            wall = datetime.combine(day or date(2000, 1, 1), datetime.min.time())
            uses = {wall.replace(tzinfo=zone(self.timezone), fold=f).tzname() for f in (0, 1)}
            if day is None:  # no date yet: any abbreviation the zone uses in the year
                uses |= {wall.replace(month=7, tzinfo=zone(self.timezone)).tzname()}
            if abbreviation in uses:
                return self.timezone
        if abbreviation in ZONES:
            return ZONES[abbreviation]
        raise ImportFailed(
            f"time zone {abbreviation!r} is unknown (known: {', '.join(ZONES)}); pass "
            "--timezone with an IANA zone that uses it, such as 'Asia/Jerusalem' for IDT",
            line=number,
        )
