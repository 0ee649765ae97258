"""Markdown → sanitised HTML; times as a newsroom writes them ("2:57 p.m. ET, March 20, 2023")."""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from dateline.errors import Invalid

# Raw HTML is allowed through the Markdown parser and then cut down by nh3 to this list, so a
# journalist can paste a <blockquote> or <sub> while <script>, event handlers and javascript:
# URLs never reach a reader.
_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "del", "em", "figcaption", "figure",
    "h2", "h3", "h4", "hr", "i", "img", "ins", "li", "mark", "ol", "p", "pre", "q", "s", "small",
    "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "ol": {"start"},
}
_URL_SCHEMES = {"http", "https", "mailto"}

# Bare URLs become links (only those written with their scheme: "bbc.co.uk" stays text).
_markdown = MarkdownIt("commonmark", {"html": True, "linkify": True, "typographer": False})
_markdown.enable("table").enable("strikethrough").enable("linkify")
assert _markdown.linkify is not None  # markdown-it-py[linkify]
_markdown.linkify.set({"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})


# Pictures in a post's text come from Dateline's own media store only (uploaded, checked and
# stripped of metadata; readers' browsers ask no third party for them).
_OWN_MEDIA = re.compile(r"^/media/[0-9a-f]{32}\.(jpg|png|webp)$")


def _own_images_only(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and not _OWN_MEDIA.fullmatch(value):
        return None
    return value


def sanitise(html: str) -> str:
    """Keep only harmless markup; links get rel="noopener noreferrer nofollow"; an image from
    anywhere but this server's media loses its source."""
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        attribute_filter=_own_images_only,
    )


def _image(renderer: Any, tokens: Any, index: int, options: Any, env: Any) -> str:
    """A Markdown image from elsewhere is shown as a link to it, with its text."""
    token = tokens[index]
    src = str(token.attrGet("src") or "")
    if _OWN_MEDIA.fullmatch(src):
        return str(RendererHTML.image(renderer, tokens, index, options, env))
    text = html.escape(token.content or src)
    return f'<a href="{html.escape(src, quote=True)}">{text}</a>' if src else text


_markdown.add_render_rule("image", _image)

# A quotation's last line that starts with a dash names who said it:
#     > "We are not going to let that stand."
#     > — John Kirby, at a White House briefing
_ATTRIBUTION = re.compile(r"^(?:—|―|--)\s*(\S.*)$")


def _attributed_quotes(state: StateCore) -> None:
    """A top-level blockquote ending in an attribution line becomes
    `<figure><blockquote>…</blockquote><figcaption>— <cite>who</cite></figcaption></figure>`."""
    tokens = state.tokens
    i = 0
    while i < len(tokens):
        if tokens[i].type != "blockquote_open" or tokens[i].level != 0:
            i += 1
            continue
        close = next(j for j in range(i + 1, len(tokens)) if tokens[j].type == "blockquote_close"
                     and tokens[j].level == 0)  # fmt: skip
        inline = tokens[close - 2] if close - i >= 4 else None
        if inline is None or inline.type != "inline" or tokens[close - 1].type != "paragraph_close":
            i = close + 1
            continue
        before, _, last = inline.content.rpartition("\n")
        found = _ATTRIBUTION.match(last.strip())
        if not found:
            i = close + 1
            continue
        who = Token("inline", "", 0)
        who.content, who.map, who.children = found.group(1), inline.map, []
        opening = Token("html_block", "", 0)
        opening.content = "<figure>\n"
        caption = Token("html_block", "", 0)
        caption.content = "<figcaption>— <cite>"
        ending = Token("html_block", "", 0)
        ending.content = "</cite></figcaption>\n</figure>\n"
        if before.strip():
            inline.content = before
            inner = tokens[i : close + 1]
        else:  # the quotation's paragraph was the attribution alone: drop it
            inner = [*tokens[i : close - 3], tokens[close]]
        tokens[i : close + 1] = [opening, *inner, caption, who, ending]
        i += len(inner) + 4


_markdown.core.ruler.before("inline", "attributed_quotes", _attributed_quotes)

# A URL alone on a line (outside code) is an embed: a card made from the provider's snapshot.
_ALONE = re.compile(r"^ {0,3}<?(https?://[^\s<>]{1,2000})>?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _blocks(source: str) -> list[tuple[bool, str]]:
    """The body cut into Markdown text and lone URLs: `(True, url)` or `(False, markdown)`."""
    out: list[tuple[bool, str]] = []
    text: list[str] = []
    fence = ""
    for line in source.splitlines(keepends=True):
        opens = _FENCE.match(line)
        if fence:
            if opens and opens.group(1)[0] == fence[0] and len(opens.group(1)) >= len(fence):
                fence = ""
        elif opens:
            fence = opens.group(1)
        alone = None if fence or opens else _ALONE.match(line.rstrip("\r\n"))
        if alone is not None and not _well_formed(alone.group(1)):
            alone = None  # "https://[oops/" is text, not an address to fetch
        if alone is None:
            text.append(line)
            continue
        if text:
            out.append((False, "".join(text)))
            text = []
        out.append((True, alone.group(1)))
    if text:
        out.append((False, "".join(text)))
    return out


def _well_formed(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:  # a bad IPv6 literal, a port out of range
        return False


def lone_urls(source: str) -> list[str]:
    """The URLs alone on a line of a Markdown body, each once, in order."""
    return list(dict.fromkeys(url for is_url, url in _blocks(source) if is_url))


def markdown_to_html(source: str, embed: Callable[[str], str] | None = None) -> str:
    """Sanitised HTML of a Markdown body. With `embed`, each URL alone on a line is replaced by
    `embed(url)`: trusted HTML made by Dateline itself (an embed card), added after sanitising."""
    if embed is None:
        return sanitise(_markdown.render(source)).strip()
    parts = []
    for is_url, text in _blocks(source):
        parts.append(embed(text) if is_url else sanitise(_markdown.render(text)).strip())
    return "\n".join(p for p in parts if p)


def plain_text(source: str) -> str:
    """The words of a Markdown body without markup, for feeds, excerpts and structured data (as
    text: `&nbsp;` is a space here, and whoever shows it escapes it)."""
    return html.unescape(nh3.clean(_markdown.render(source), tags=set())).strip()


# AP style writes the Americas' zones without the standard/daylight letter: "ET", not "EDT".
_AP_ZONE_NAMES = {
    "EST": "ET", "EDT": "ET", "CST": "CT", "CDT": "CT",
    "MST": "MT", "MDT": "MT", "PST": "PT", "PDT": "PT",
}  # fmt: skip
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@functools.lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name, or an Invalid error that says how to fix it."""
    if not name or name not in _zone_names():
        raise Invalid(
            f"time zone {name!r} is unknown; use an IANA name such as 'America/New_York'",
            field="timezone",
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - listed but unreadable
        raise Invalid(f"time zone {name!r} cannot be loaded: {exc}", field="timezone") from exc


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_abbreviation(moment: datetime, tz_name: str) -> str:
    local = moment.astimezone(zone(tz_name))
    abbr = local.tzname() or "UTC"
    if abbr in _AP_ZONE_NAMES:
        return _AP_ZONE_NAMES[abbr]
    if (
        abbr[0] in "+-"
    ):  # zones without a letter abbreviation: "+04" → "UTC+4", "+0530" → "UTC+5:30"
        digits = abbr[1:].replace(":", "")
        hours, minutes = int(digits[:2]), digits[2:4]
        if not hours and not int(minutes or 0):
            return "UTC"
        return f"UTC{abbr[0]}{hours}" + (f":{minutes}" if minutes and int(minutes) else "")
    return abbr


def zone_names(tz_name: str, around: datetime, days: int = 400) -> dict[int, str]:
    """The abbreviations `zone_abbreviation` writes for each UTC offset (in minutes east) the zone
    uses from a day before `around` to `days` after: {0: "GMT", 60: "BST"}. A page's script
    formats times with them, so it writes what the server does ("BST", not Intl's "GMT+1")."""
    names: dict[int, str] = {}
    for day in range(-1, days + 1):
        moment = around + timedelta(days=day)
        offset = moment.astimezone(zone(tz_name)).utcoffset() or timedelta()
        names.setdefault(int(offset.total_seconds()) // 60, zone_abbreviation(moment, tz_name))
    return names


def ap_clock(moment: datetime, tz_name: str) -> str:
    """ "2:57 p.m. ET" """
    local = moment.astimezone(zone(tz_name))
    hour = local.hour % 12 or 12
    meridiem = "a.m." if local.hour < 12 else "p.m."
    return f"{hour}:{local.minute:02d} {meridiem} {zone_abbreviation(moment, tz_name)}"


def ap_date(moment: datetime, tz_name: str) -> str:
    """ "March 20, 2023" """
    local = moment.astimezone(zone(tz_name))
    return f"{_MONTHS[local.month - 1]} {local.day}, {local.year}"


def ap_datetime(moment: datetime, tz_name: str) -> str:
    """ "2:57 p.m. ET, March 20, 2023" """
    return f"{ap_clock(moment, tz_name)}, {ap_date(moment, tz_name)}"


def wall_time(local: str, tz_name: str) -> datetime:
    """ "2026-03-08T02:30" on a clock in `tz_name` → the UTC moment. A time the clocks skip
    (spring forward) or pass twice (fall back) is refused with a message that says so, rather
    than silently picking one."""
    try:
        naive = datetime.fromisoformat(local)
    except ValueError:
        raise Invalid(f"{local!r} is not a date and time", field="publish_at") from None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    tz = zone(tz_name)
    real = []
    for fold in (0, 1):
        moment = naive.replace(tzinfo=tz, fold=fold)
        if moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive:
            real.append(moment.astimezone(UTC))
    on_the_clock = naive.replace(tzinfo=tz)
    clock = ap_clock(on_the_clock, tz_name).rsplit(" ", 1)[0]
    shown = f"{clock}, {ap_date(on_the_clock, tz_name)}"
    if not real:
        raise Invalid(
            f"{shown} does not exist in {tz_name}: the clocks skip that hour; pick another time",
            field="publish_at",
        )
    if len(set(real)) > 1:
        # Here the zone's own names (EDT, then EST): "ET" would not tell them apart.
        first, second = (f"{clock} {m.astimezone(tz).tzname()}" for m in sorted(set(real)))
        raise Invalid(
            f"{shown} happens twice in {tz_name} ({first}, then {second} when the clocks go "
            "back); give the time with its offset, or pick one outside that hour",
            field="publish_at",
        )
    return real[0]


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def join_names(names: list[str]) -> str:
    """ "A", "A and B", "A, B and C" (no serial comma, as in the seed's bylines)."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def possessive(organisation: str) -> str:
    """ "CNN’s", with the typographic apostrophe, always (the seed mixes both forms)."""
    if not organisation:
        return ""
    return organisation + ("’" if organisation.endswith("s") else "’s")


def byline_text(names: list[str], location: str | None, organisation: str) -> str:
    """ "From CNN's Maria Kostenko in Kyiv" """
    if not names:
        return ""
    owner = possessive(organisation)
    text = f"From {owner} {join_names(names)}" if owner else f"From {join_names(names)}"
    return f"{text} in {location}" if location else text


def contributors_text(names: list[str], organisation: str) -> str:
    """ "CNN's Rob Picheta contributed reporting to this post." """
    owner = possessive(organisation)
    who = f"{owner} {join_names(names)}" if owner else join_names(names)
    return f"{who} contributed reporting to this post."
