"""The text importer: a live blog page as a reader's text dump (the demo's seed is one).

Line forms, in order:

    March 20, 2023 - Xi and Putin meet in Moscow as Russia's war in Ukraine continues   (title)
    By Kathleen Magramo, Eliza Mackintosh and Elise Hammond, CNN         (authors, organisation)
    Updated 12:03 a.m. ET, March 21, 2023                                (the header's update time)
    35 Posts                                                  (the page's count; only checked)
    Sort byDropdown arrow                                               (page chrome, ignored)

then posts, each starting at a time line:

    2:42 p.m. ET, March 20, 2023                                         (published time)
    Putin and Xi talks end after more than 4 hours, Russian state media says      (headline)
    From CNN's Sarah Dean in London                                (byline, optional)
    A view of Bakhmut on March 15.                                       (an image: a caption
    A view of Bakhmut on March 15. (Roman Chop/AP)                        repeated with its credit)
    Any other line is a body paragraph; "More context: …" asides keep their label in bold.
    CNN's Rob Picheta contributed reporting to this post.                (contributor line)

A time line may follow body text without a blank line between. Times are in the zone the
abbreviation names (ET, CT, MT, PT, UTC/GMT) and are stored in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dateline.errors import ImportFailed
from dateline.importers import ImportedBlog
from dateline.model import Blog, BlogStatus, Byline, Media, Person, Post, PostStatus
from dateline.render import zone

ZONES = {
    "ET": "America/New_York",
    "CT": "America/Chicago",
    "MT": "America/Denver",
    "PT": "America/Los_Angeles",
    "UTC": "UTC",
    "GMT": "UTC",
}
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("January", "February", "March", "April", "May", "June", "July", "August", "September",
         "October", "November", "December"),
        start=1,
    )
}  # fmt: skip
_TIME = re.compile(
    r"^(?P<hour>\d{1,2}):(?P<minute>\d{2}) (?P<meridiem>a\.m\.|p\.m\.) (?P<zone>[A-Z]{2,4}), "
    r"(?P<month>[A-Z][a-z]+) (?P<day>\d{1,2}), (?P<year>\d{4})$"
)
_LOOKS_LIKE_TIME = re.compile(r"^\d{1,2}:\d{2} [ap]\.m\. ")
_TITLE = re.compile(r"^(?P<date>[A-Z][a-z]+ \d{1,2}, \d{4}) - (?P<title>.+)$")
_AUTHORS = re.compile(r"^By (?P<people>.+)$")
_UPDATED = re.compile(r"^Updated (?P<time>.+)$")
_COUNT = re.compile(r"^(?P<count>\d+) Posts?$")
_BYLINE = re.compile(r"^From (?P<org>[^’']+)[’']s? (?P<names>.+?)(?: in (?P<location>[^,]+))?$")
_CONTRIBUTORS = re.compile(
    r"^(?:(?P<org>[^’']+)[’']s? )?(?P<names>.+?) contributed reporting to this post\.?$"
)
_CREDIT = re.compile(r"^(?P<caption>.+) \((?P<credit>[^()]+)\)$")
_ASIDE = re.compile(r"^(?P<label>[A-Z][^:.!?“”\"]{0,60}):\s+(?P<rest>\S.*)$")
# How newsrooms open an aside ("More context:", "What Ukraine is saying:"); a sentence such as
# "The 18 European nations include: …" is not one, so only these openings are set in bold.
_ASIDE_OPENINGS = (
    "more ", "some ", "what ", "why ", "how ", "who ", "catch up", "remember", "background",
    "context", "recall", "the backstory", "key ", "read more", "fact check", "analysis", "earlier",
)  # fmt: skip
# Markdown would read these paragraph openings as syntax; a backslash keeps them as text.
_MARKDOWN_START = re.compile(r"^(\d+[.)] |[#>+*-] |[-*_]{3,}\s*$|=+\s*$)")


def _blank(line: str) -> bool:
    return not line.replace("\u00a0", " ").strip()


def _names(text: str) -> list[str]:
    """ "A, B and C" → ["A", "B", "C"]"""
    parts = re.split(r",\s*|\s+and\s+", text.strip())
    return [p.strip() for p in parts if p.strip()]


def parse_time(line: str, number: int, timezone: str | None = None) -> tuple[datetime, str]:
    """ "2:57 p.m. ET, March 20, 2023" → (the UTC time, the zone's IANA name)."""
    match = _TIME.match(line.strip())
    expected = 'expected a time such as "2:57 p.m. ET, March 20, 2023"'
    if match is None:
        raise ImportFailed(f'{expected}, found "{line.strip()}"', line=number)
    abbreviation = match["zone"]
    tz_name = timezone or ZONES.get(abbreviation)
    if tz_name is None:
        known = ", ".join(ZONES)
        raise ImportFailed(
            f"time zone {abbreviation!r} is unknown (known: {known}); "
            "pass --timezone with an IANA name",
            line=number,
        )
    hour, minute = int(match["hour"]), int(match["minute"])
    month = _MONTHS.get(match["month"])
    if not 1 <= hour <= 12 or minute > 59 or month is None:
        raise ImportFailed(f'{expected}, found "{line.strip()}"', line=number)
    hour = hour % 12 + (12 if match["meridiem"] == "p.m." else 0)
    try:
        local = datetime(int(match["year"]), month, int(match["day"]), hour, minute)
    except ValueError as exc:
        raise ImportFailed(f'{exc}: "{line.strip()}"', line=number) from None
    return local.replace(tzinfo=zone(tz_name)).astimezone(UTC), tz_name


def _paragraph(text: str) -> str:
    aside = _ASIDE.match(text)
    label = aside["label"].lower() + " " if aside else ""
    if aside and len(label.split()) <= 6 and label.startswith(_ASIDE_OPENINGS):
        return f"**{aside['label']}:** {aside['rest']}"
    return "\\" + text if _MARKDOWN_START.match(text) else text


def _post(lines: list[tuple[int, str]], time_line: tuple[int, str], tz: str | None) -> Post:
    number, text = time_line
    published, _ = parse_time(text, number, tz)
    content = [(n, line.strip()) for n, line in lines if not _blank(line)]
    if not content:
        raise ImportFailed("a post needs a headline after its time line", line=number)
    headline = content[0][1]
    rest = content[1:]
    byline = Byline()
    if rest and (match := _BYLINE.match(rest[0][1])):
        people = tuple(Person(n) for n in _names(match["names"]))
        byline = Byline(people=people, location=match["location"])
        rest = rest[1:]
    paragraphs: list[str] = []
    media: list[Media] = []
    contributors: list[str] | None = None
    i = 0
    while i < len(rest):
        line = rest[i][1]
        following = rest[i + 1][1] if i + 1 < len(rest) else ""
        credited = _CREDIT.match(following)
        if credited and credited["caption"].strip() == line:
            media.append(Media(alt=line, caption=line, credit=credited["credit"].strip()))
            i += 2
            continue
        if match := _CONTRIBUTORS.match(line):
            contributors = _names(match["names"])
        else:
            paragraphs.append(_paragraph(line))
        i += 1
    return Post(
        blog_slug="",
        headline=headline,
        body="\n\n".join(paragraphs),
        byline=byline,
        contributors=contributors,
        media=media,
        status=PostStatus.PUBLISHED,
        published_at=published,
        created_at=published,
        updated_at=published,
    )


def parse_text(text: str, *, slug: str, timezone: str | None = None) -> ImportedBlog:
    if timezone is not None:
        zone(timezone)
    lines = text.replace("\r\n", "\n").split("\n")
    # Header lines are the first non-blank ones; remember their real line numbers.
    numbered = [(n, line) for n, line in enumerate(lines, 1) if not _blank(line)]
    if not numbered:
        raise ImportFailed("the file is empty", line=1)

    def header_match(i: int, pattern: re.Pattern[str], what: str) -> tuple[int, re.Match[str]]:
        if i >= len(numbered):
            raise ImportFailed(f"the file ends before {what}", line=len(lines))
        number, line = numbered[i]
        match = pattern.match(line.strip())
        if match is None:
            raise ImportFailed(f'expected {what}, found "{line.strip()}"', line=number)
        return number, match

    _, title_match = header_match(0, _TITLE, 'a title line "Month D, YYYY - Title"')
    _, by_match = header_match(1, _AUTHORS, 'an authors line "By A, B and C, ORG"')
    people, _, organisation = by_match["people"].rpartition(", ")
    if not people:
        people, organisation = organisation, ""
    position, updated_match = header_match(2, _UPDATED, 'an "Updated h:mm a.m. ET, …" line')
    updated, tz_name = parse_time(updated_match["time"], position, timezone)
    expected_count: int | None = None
    warnings: list[str] = []
    posts: list[Post] = []
    current: tuple[int, str] | None = None
    body: list[tuple[int, str]] = []
    for number in range(position + 1, len(lines) + 1):
        line = lines[number - 1].strip()
        if current is None and (count := _COUNT.match(line)):
            expected_count = int(count["count"])
            continue
        if _LOOKS_LIKE_TIME.match(line):
            if current is not None:
                posts.append(_post(body, current, timezone or tz_name))
            current, body = (number, line), []
            parse_time(line, number, timezone or tz_name)  # fail on the time line itself
            continue
        if current is None:
            if line and not line.startswith("Sort by"):
                raise ImportFailed(f'expected a post\'s time line, found "{line}"', line=number)
            continue
        body.append((number, lines[number - 1]))
    if current is not None:
        posts.append(_post(body, current, timezone or tz_name))
    if not posts:
        raise ImportFailed(
            "the file holds no posts (a post starts with a time line)", line=len(lines)
        )
    if expected_count is not None and expected_count != len(posts):
        warnings.append(
            f"the header says {expected_count} posts but the file holds {len(posts)}; "
            f"importing {len(posts)}"
        )
    posts.sort(key=lambda p: p.published_at or updated, reverse=True)
    for post in posts:
        post.blog_slug = slug
    start = min(p.published_at or updated for p in posts)
    blog = Blog(
        slug=slug,
        title=title_match["title"].strip(),
        timezone=tz_name,
        organisation=organisation.strip(),
        authors=[Person(n) for n in _names(people)],
        status=BlogStatus.LIVE,
        coverage_start=start,
        created_at=start,
        updated_at=updated,
        post_count=len(posts),
    )
    return ImportedBlog(blog=blog, posts=posts, warnings=warnings)
