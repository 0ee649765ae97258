"""The text importer: a live blog page as a reader's text dump (the demo's seed is one).

The header, in order (blank lines and page chrome anywhere are skipped):

    Live Updates                          optional; also a prefix of the title ("Live updates: …")
    March 20, 2023 - Xi and Putin meet in Moscow - CNN
                                          the title; the leading date and a trailing " - ORG" are
                                          dropped (ORG is the authors line's organisation or a
                                          name such as "CNN", "BBC News")
    By Kathleen Magramo and Elise Hammond, CNN     authors and organisation (optional)
    Updated 12:03 a.m. ET, March 21, 2023          the header's time: "Updated", "Published" or
    Published 6:00 a.m. ET, March 20, 2023          both, in any order (the later is the blog's
                                                    updated time); one is required
    What we covered here                  optional: the lines after it, up to the first post,
    • Xi arrived in Moscow on Monday.     become the blog's summary (Markdown, bullets kept)
    35 Posts                              the page's count; a mismatch is only a warning

then posts, each starting at a time line:

    Pinned                                optional flag lines ("Pinned", "Key event") just before
                                          a post's time line or just after it mark that post
    2:42 p.m. ET, March 20, 2023          published time (see Times)
    Updated 3:05 p.m. ET, March 20, 2023  optional, right after the time line: updated time
    Putin and Xi talks end after more than 4 hours      headline (required)
    From CNN's Sarah Dean in London       byline (optional), also "From CNN staff" (no people),
                                          "By Jane Doe, CNN" and "From CNN’s Jane Doe and
                                          John Roe in Kyiv, Ukraine" (the location is what
                                          follows the last " in ")
    A view of Bakhmut on March 15.                      an image: a caption repeated with its
    A view of Bakhmut on March 15. (Roman Chop/AP)       credit (no file: url is None)
    CNN's Rob Picheta contributed reporting to this post.      contributor line
    Any other line is a body paragraph. "More context: …" asides keep their label in bold.
    Lines starting with •, -, *, – are bullets: a run of them (blank lines between allowed) is
    one Markdown list. Two or more numbered lines in sequence ("1. ", "2. ") are an ordered
    list; a lone "1. …" line, like other lines Markdown would read as syntax, is escaped.

Times. A time line is a clock, a zone and an optional date: "2:57 p.m. ET, March 20, 2023",
"12:03 AM ET, Wed September 20, 2023", "2:57 pm EDT, Mar 20, 2023", "9:15 a.m. GMT, 21 March
2023"; "Updated", "Published" or "Posted" may come first. The weekday is not checked; 24-hour
clocks ("14:57") are not read. Years outside 1900–2999 are refused. A line that starts with a
clock but goes on with text ("10:30 a.m. ET: The Senate opens") is body text. A relative time
("Just now", "3 min ago", "1 hr 12 min ago", "2 hrs ago", "1 day ago") is counted back from
`captured_at`, the moment the page was saved (the command line's --captured-at); without it the
file is refused. A time without a date ("2:57 p.m. ET") takes its date from the post before it
(the header's time for the first), stepping back a day when it would otherwise be later than
that post, as on a page listed newest first; when reading the file backwards needs fewer such
steps, it is read as listed oldest first instead.

Zones: each time line's own abbreviation decides its zone, across daylight saving, and
`timezone` (--timezone) settles ambiguous ones and is the blog's display zone (else the header's
zone): see `clocks.py`.

Page chrome (_CHROME: "Sort by", "3 New Updates", "Show more", "Link Copied!", "Share",
"Advertisement", …) is dropped wherever it is. Bylines, credits, contributor lines and asides
are only recognised on lines of up to 500 characters; longer lines are body text.

Text. A leading byte-order mark is dropped; lines end with LF, CR LF or CR; runs of spaces of
any kind (non-breaking, thin, tabs) become one space; bylines and contributor lines take curly
or straight apostrophes. Control characters are kept: the newsroom refuses them.

What it loses: image files and links (only captions and credits remain), emphasis and links in
the text, tags, embedded posts and videos, earlier versions of a post, and page chrome; a
relative time is only as precise as the page's figure ("2 hrs ago" may be 2:59 ago).

The file is read in two passes. The first reads the header and every time line and checks the
whole file, so a file that cannot be read is refused (`ImportFailed` naming the line) before
anything is written. The second builds posts one at a time, in file order, as the newsroom takes
them: `posts` is a generator, so a file of 100,000 posts is never held in memory as posts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateline.errors import ImportFailed
from dateline.importers import ImportedBlog, display_zone
from dateline.importers.clocks import Clock, Stamp, TimeReader, is_time, month_number, quote
from dateline.model import Blog, BlogStatus, Byline, Media, Person, Post, PostStatus
from dateline.render import zone

# Bylines, credits, contributor lines and asides are short; a longer line is body text, and no
# pattern is tried on it (so no line, however long and however shaped, costs more than a scan).
_SHORT = 500
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Page chrome: controls and labels a reader's copy picks up, never posts or body text (compared
# with the whole line, lower-cased). "Pinned" and "Key event" are flags of a post (_FLAGS).
_CHROME = re.compile(
    r"sort ?by(?: ?dropdown arrow| ?(?:latest|newest|oldest)(?: ?(?:latest|newest|oldest))?)?"
    r"|(?:\d{1,6} )?new updates?|(?:show|load|see) (?:more|all)(?: updates| posts)?"
    r"|link copied!?|copy link|share(?: this post)?|dropdown arrow|(?:video )?ad feedback"
    r"|advertisement"
)
_FLAGS = {"pinned": "pinned", "pinned post": "pinned", "key event": "key_event"}
_LIVE_LINE = re.compile(r"live updates?:?", re.IGNORECASE)
_TITLE_DATE = re.compile(
    r"(?:[A-Z][a-z]{1,8}\.?,? )?(?P<month>[A-Z][a-z]{2,8})\.? (?P<day>\d{1,2}),? (?P<year>\d{4})"
    r" ?[-–—|:] ?"
)
_LIVE_PREFIX = re.compile(r"(?i:live updates?)(?:: ?| [-–—|] | ?(?=" + _TITLE_DATE.pattern + "))")
_TITLE_SUFFIX = re.compile(r" [-–—|] (?P<org>[A-Z][\w&.]*(?: [A-Z][\w&.]*){0,2})$")
_BRAND = re.compile(r"[A-Z]{2,}(?: [A-Z][a-z]+)?")  # "CNN", "BBC News", "CNN Politics"
_AUTHORS = re.compile(r"By (?P<people>.+)")
_COUNT = re.compile(r"(?P<count>\d{1,7}) posts?", re.IGNORECASE)
_COVERED = re.compile(r"what we(?:'ve|’ve| have)? covered(?: here| today)?:?", re.IGNORECASE)
_POSSESSIVE = re.compile(r"[A-Z][\w&.-]*(?: [A-Z][\w&.-]*){0,3}[’']s? ")  # "CNN’s "
_STAFF = re.compile(
    r"From [A-Z][\w&.-]*(?: [A-Z][\w&.-]*){0,3}[’']?s? [Ss]taff(?: in (?P<loc>.+))?"
)
_NAME_LINK = re.compile(r", and |, | and | & ")
_PARTICLES = frozenset(("al", "bin", "da", "de", "del", "der", "di", "dos", "du", "la", "le",
                        "van", "von"))  # fmt: skip
_CONTRIBUTORS = re.compile(r"(?P<names>.+?) contributed (?:reporting )?to this (?:post|report)\.?")
_ASIDE = re.compile(r"(?P<label>[A-Z][^:.!?“”\"]{0,60}):\s+(?P<rest>\S.*)")
# How newsrooms open an aside ("More context:", "What Ukraine is saying:"); a sentence such as
# "The 18 European nations include: …" is not one, so only these openings are set in bold.
_ASIDE_OPENINGS = (
    "more ", "some ", "what ", "why ", "how ", "who ", "catch up", "remember", "background",
    "context", "recall", "the backstory", "key ", "read more", "fact check", "analysis", "earlier",
)  # fmt: skip
_BULLET = re.compile(r"[•·▪◦●‣] ?(?=\S)|[-*–] (?=\S)")
_NUMBERED = re.compile(r"(?P<n>\d{1,3})[.)] (?=\S)")
# Markdown would read these paragraph openings as syntax; a backslash keeps them as text.
_MARKDOWN_START = re.compile(r"(\d+[.)] |[#>+*-] |[-*_]{3,}\s*$|=+\s*$)")
_NO_POSTS = "the file holds no posts (a post starts with a time line)"
_EXPECTED_HEADER_TIME = 'an "Updated h:mm a.m. ET, March 21, 2023" or "Published …" line'


def _clean(line: str) -> str:
    """Spaces of every kind (non-breaking, thin, tabs) and their runs → one space."""
    return " ".join(line.split())


def _is_chrome(text: str) -> bool:
    return len(text) <= 40 and _CHROME.fullmatch(text.lower()) is not None


def _flag(text: str) -> str | None:
    return _FLAGS.get(text.lower()) if len(text) <= 12 else None


@dataclass(slots=True)
class _Span:
    """What the first pass keeps of a post: where its lines are, its times and its flags."""

    line: int  # its time line's number
    published: datetime | None
    clock: Clock | None  # a time without a date, until _date_clocks dates it
    updated: datetime | None = None
    headline: int = -1  # offset in the text of its headline's line
    end: int = 0  # offset just past its last line
    pinned: bool = False
    key_event: bool = False


class _Reader(TimeReader):
    def __init__(self, text: str, timezone: str | None, captured_at: datetime | None):
        super().__init__(timezone, captured_at)
        self.text = text
        self.last = 1  # the number of the last line read

    def meaningful(self, offset: int, number: int) -> Iterator[tuple[int, int, str]]:
        """(number, offset, cleaned text) of each line from `offset` (line `number`) on that is
        neither blank nor chrome. The file is read in place: its lines are never all split."""
        while True:
            found = _LINE_BREAK.search(self.text, offset)
            text = _clean(self.text[offset : found.start() if found else len(self.text)])
            self.last = number
            if text and not _is_chrome(text):
                yield number, offset, text
            if found is None or found.end() == len(self.text):  # a final line break ends
                return  # the last line, as editors count
            offset, number = found.end(), number + 1

    def scan(
        self, offset: int, first: int
    ) -> tuple[list[_Span], int | None, list[str], str | None]:
        """The first pass over what follows the header: (the posts' spans, the page's count,
        the summary's lines, the first post's zone). Raises on any line it cannot read."""
        spans: list[_Span] = []
        current: _Span | None = None
        flags: set[str] = set()  # flag lines waiting for the next time line
        count: int | None = None
        summary: list[str] | None = None
        first_zone: str | None = None
        for number, start, text in self.meaningful(offset, first):
            if (flag := _flag(text)) is not None:
                if current is not None and current.headline < 0:
                    current.pinned |= flag == "pinned"
                    current.key_event |= flag == "key_event"
                else:
                    flags.add(flag)
                continue
            if is_time(text):
                stamp = self.time(text, number)
                if current is not None and current.headline < 0:
                    if stamp.label != "updated" or current.updated is not None:
                        raise ImportFailed(
                            "a post needs a headline after its time line", line=current.line
                        )
                    if stamp.moment is None:
                        raise ImportFailed(
                            'an "Updated" line after a time line needs a date', line=number
                        )
                    current.updated = stamp.moment
                    continue
                if current is not None:
                    current.end = start
                current = _Span(number, stamp.moment, stamp.clock)
                current.pinned, current.key_event = "pinned" in flags, "key_event" in flags
                spans.append(current)
                flags.clear()
                first_zone = first_zone or stamp.tz_name
                continue
            flags.clear()  # a flag line followed by text rather than a time line is chrome
            if current is not None:
                if current.headline < 0:
                    current.headline = start
            elif count_line := _COUNT.fullmatch(text):
                count = int(count_line["count"])
            elif summary is None and _COVERED.fullmatch(text):
                summary = []
            elif summary is not None:
                summary.append(text)
            else:
                raise ImportFailed(f"expected a post's time line, found {quote(text)}", line=number)
        if current is None:
            raise ImportFailed(_NO_POSTS, line=self.last)
        if current.headline < 0:
            raise ImportFailed("a post needs a headline after its time line", line=current.line)
        current.end = len(self.text)
        return spans, count, summary or [], first_zone


def _names(text: str) -> list[str]:
    """ "A, B and C" → ["A", "B", "C"]"""
    return [part.strip() for part in _NAME_LINK.split(text) if part.strip()]


def _is_staff(name: str) -> bool:
    return name.lower() == "staff" or name.lower().endswith(" staff")


def _is_name(name: str) -> bool:
    words = name.split(" ")
    return (
        len(words) <= 6
        and words[0][:1].isupper()
        and all(w[:1].isupper() or w in _PARTICLES for w in words)
    )


def _byline(text: str) -> Byline | None:
    """ "From CNN’s Jane Doe and John Roe in Kyiv, Ukraine", "From CNN staff", "By Jane Doe,
    CNN" → a Byline; any other line → None. The location is what follows the last " in "; a
    name's own " in Place" joins it ("Jane Doe in Kyiv and John Roe in Moscow")."""
    if len(text) > _SHORT:
        return None
    if staff := _STAFF.fullmatch(text):
        return Byline(location=staff["loc"])
    if text.startswith("From ") and (owner := _POSSESSIVE.match(text, 5)):
        names = text[owner.end() :]
    elif text.startswith("By "):
        names, _, organisation = text[3:].rpartition(", ")
        if not _BRAND.fullmatch(organisation):
            return None
    else:
        return None
    names, found, location = names.rpartition(" in ")
    if not found:
        names, location = location, ""
    elif not location[:1].isupper():
        return None
    people: list[Person] = []
    places: list[str] = []
    for part in _names(names):
        name, _, place = part.partition(" in ")
        if place:
            places.append(place)
        if _is_staff(name):
            continue
        if not _is_name(name):
            return None
        people.append(Person(name))
    places = list(dict.fromkeys([*places, location] if location else places))
    return Byline(people=tuple(people), location=" and ".join(places) or None)


def _contributors(text: str) -> list[str] | None:
    """ "CNN's Rob Picheta contributed reporting to this post." → ["Rob Picheta"]"""
    match = _CONTRIBUTORS.fullmatch(text) if len(text) <= _SHORT else None
    if match is None:
        return None
    names = match["names"]
    if owner := _POSSESSIVE.match(names):
        names = names[owner.end() :]
    return [name for name in _names(names) if not _is_staff(name)]


def _credit(caption: str, following: str) -> str | None:
    """The credit when `following` is `caption` repeated with "(credit)" after it."""
    prefix = caption + " ("
    if len(following) <= 2 * _SHORT and following.startswith(prefix) and following.endswith(")"):
        credit = following[len(prefix) : -1].strip()
        if credit and "(" not in credit and ")" not in credit:
            return credit
    return None


def _escape(text: str) -> str:
    start = _MARKDOWN_START.match(text)
    if start is None:
        return text
    if text[0].isdigit():  # only punctuation can be escaped: "1. " → "1\. "
        mark = len(start[1]) - 2
        return f"{text[:mark]}\\{text[mark:]}"
    return "\\" + text


def _paragraph(text: str) -> str:
    aside = _ASIDE.fullmatch(text) if len(text) <= _SHORT else None
    label = aside["label"].lower() + " " if aside else ""
    if aside and len(label.split()) <= 6 and label.startswith(_ASIDE_OPENINGS):
        return f"**{aside['label']}:** {aside['rest']}"
    return _escape(text)


def _blocks(lines: list[str]) -> list[str]:
    """Body lines → Markdown blocks: a run of bullets is one list ("- a\\n- b"), as is a run of
    two or more numbered lines in sequence; any other line is a paragraph."""
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        items: list[str] = []
        while i < len(lines) and (bullet := _BULLET.match(lines[i])):
            items.append("- " + _escape(lines[i][bullet.end() :]))
            i += 1
        if items:
            blocks.append("\n".join(items))
            continue
        following = None
        while i + len(items) < len(lines):
            line = lines[i + len(items)]
            numbered = _NUMBERED.match(line)
            if numbered is None or following not in (None, int(numbered["n"])):
                break
            following = int(numbered["n"]) + 1
            items.append(f"{numbered['n']}. {_escape(line[numbered.end() :])}")
        if len(items) >= 2:
            blocks.append("\n".join(items))
            i += len(items)
            continue
        blocks.append(_paragraph(lines[i]))
        i += 1
    return blocks


def _date_clocks(spans: list[_Span], newest: datetime) -> None:
    """Date the posts whose time line has no date (see Times in the module's docstring)."""
    if all(span.clock is None for span in spans):
        return

    def walk(order: list[_Span]) -> tuple[int, list[datetime]]:
        anchor, steps, moments = newest, 0, []
        for span in order:
            if span.clock is None:
                anchor = span.published or anchor
            else:
                day = anchor.astimezone(zone(span.clock.tz_name)).date()
                moment = span.clock.on(day)
                if moment > anchor:
                    moment, steps = span.clock.on(day - timedelta(days=1)), steps + 1
                anchor = moment
            moments.append(anchor)
        return steps, moments

    forward_steps, forward = walk(spans)
    backward_steps, backward = walk(spans[::-1])
    moments = backward[::-1] if backward_steps < forward_steps else forward
    for span, moment in zip(spans, moments, strict=True):
        span.published = moment


def _build(text: str, span: _Span, slug: str) -> Post:
    headline, *lines = _LINE_BREAK.split(text[span.headline : span.end])
    content = [_clean(line) for line in lines]
    content = [t for t in content if t and not _is_chrome(t) and _flag(t) is None]
    byline = _byline(content[0]) if content else None
    if byline is not None:
        content = content[1:]
    kept: list[str] = []
    media: list[Media] = []
    contributors: list[str] | None = None
    i = 0
    while i < len(content):
        line = content[i]
        credit = _credit(line, content[i + 1]) if i + 1 < len(content) else None
        if credit is not None:
            media.append(Media(alt=line, caption=line, credit=credit))
            i += 2
            continue
        names = _contributors(line)
        if names is None:
            kept.append(line)
        else:
            contributors = names
        i += 1
    published = span.published
    assert published is not None  # dated by _date_clocks
    return Post(
        blog_slug=slug,
        headline=_clean(headline),
        body="\n\n".join(_blocks(kept)),
        byline=byline or Byline(),
        contributors=contributors,
        media=media,
        pinned=span.pinned,
        key_event=span.key_event,
        status=PostStatus.PUBLISHED,
        published_at=published,
        created_at=published,
        updated_at=max(span.updated or published, published),
    )


def _built(text: str, spans: list[_Span], slug: str) -> Iterator[Post]:
    for span in spans:
        yield _build(text, span, slug)


def _title(reader: _Reader, meaningful: Iterator[tuple[int, int, str]]) -> tuple[str, date | None]:
    """The title, after an optional "Live Updates" line or prefix, and the date it starts with."""
    found = next(meaningful, None)
    if found is not None and _LIVE_LINE.fullmatch(found[2]):
        found = next(meaningful, None)
    if found is None:
        empty = not reader.text or reader.text.isspace()
        raise ImportFailed("the file is empty" if empty else "the file has no title", line=1)
    number, _, line = found
    title = _LIVE_PREFIX.sub("", line, count=1)
    day: date | None = None
    if (dated := _TITLE_DATE.match(title)) and (month := month_number(dated["month"])):
        try:
            day = date(int(dated["year"]), month, int(dated["day"]))
        except ValueError:
            pass
        else:
            title = title[dated.end() :]
    if not title or is_time(title):
        raise ImportFailed(
            f'expected a title line "Month D, YYYY - Title", found {quote(line)}', line=number
        )
    return title, day


def _authors(line: str) -> tuple[list[Person], str]:
    """ "A, B and C, CNN" → (the people, the organisation); "CNN staff" → ([], "CNN")."""
    names, _, organisation = line.rpartition(", ")
    if not names or " and " in organisation or "&" in organisation:
        names, organisation = line, ""
    people: list[Person] = []
    for name in _names(names):
        if _is_staff(name):
            organisation = organisation or name[: -len("staff")].strip()
        else:
            people.append(Person(name))
    return people, organisation


def parse_text(
    text: str,
    *,
    slug: str,
    timezone: str | None = None,
    captured_at: datetime | None = None,
) -> ImportedBlog:
    """Read a dump (see the module's docstring). Every error in the file raises here, before a
    post is built; the posts are built as `posts` is iterated, in file order."""
    if timezone is not None:
        display_zone(timezone)
    if captured_at is not None and captured_at.utcoffset() is None:
        raise ImportFailed("--captured-at needs a UTC offset, such as 2023-09-20T14:05:00-04:00")
    text = text.removeprefix("\ufeff")
    reader = _Reader(text, timezone, captured_at)
    meaningful = reader.meaningful(0, 1)
    title, reader.day = _title(reader, meaningful)

    # The authors line and the header's times, in any order, up to the first other line.
    authors: str | None = None
    times: dict[str, tuple[int, Stamp]] = {}
    start: tuple[int, int] | None = None  # (offset, number) of the first line after the header
    for number, offset, line in meaningful:
        if authors is None and len(line) <= _SHORT and (by := _AUTHORS.fullmatch(line)):
            authors = by["people"]
            continue
        stamp = reader.time(line, number) if is_time(line) else None
        if stamp and stamp.label in ("updated", "published") and stamp.label not in times:
            times[stamp.label] = (number, stamp)
            continue
        if times:
            start = (offset, number)
            break
        what = _EXPECTED_HEADER_TIME
        if authors is None:
            what = f'an authors line "By A, B and C, ORG" or {what}'
        raise ImportFailed(f"expected {what}, found {quote(line)}", line=number)
    if not times:
        raise ImportFailed(f"the file ends before {_EXPECTED_HEADER_TIME}", line=reader.last)
    moments: dict[str, datetime] = {}
    for label, (number, stamp) in times.items():
        if stamp.clock is not None:
            if reader.day is None:
                raise ImportFailed(
                    f"the header's time needs a date, as in {_EXPECTED_HEADER_TIME}", line=number
                )
            moments[label] = stamp.clock.on(reader.day)
        elif stamp.moment is not None:
            moments[label] = stamp.moment
    updated = max(moments.values())
    header_zone = next((stamp.tz_name for _, stamp in times.values() if stamp.tz_name), None)
    reader.day = updated.astimezone(zone(header_zone or "UTC")).date()

    if start is None:
        raise ImportFailed(_NO_POSTS, line=reader.last)
    spans, count, summary, first_zone = reader.scan(*start)
    _date_clocks(spans, updated)
    first = min(span.published for span in spans if span.published is not None)
    people, organisation = _authors(authors or "")
    suffix = _TITLE_SUFFIX.search(title)
    if suffix and (suffix["org"] == organisation or _BRAND.fullmatch(suffix["org"])):
        title, organisation = title[: suffix.start()], organisation or suffix["org"]
    warnings: list[str] = []
    if count is not None and count != len(spans):
        warnings.append(
            f"the header says {count} posts but the file holds {len(spans)}; importing {len(spans)}"
        )
    blog = Blog(
        slug=slug,
        title=title.strip(),
        timezone=timezone or header_zone or first_zone or "UTC",
        summary="\n\n".join(_blocks(summary)),
        organisation=organisation.strip(),
        authors=people,
        status=BlogStatus.LIVE,
        coverage_start=first,
        created_at=min(first, moments.get("published", first)),
        updated_at=updated,
        post_count=len(spans),
    )
    return ImportedBlog(blog=blog, posts=_built(text, spans, slug), warnings=warnings)
