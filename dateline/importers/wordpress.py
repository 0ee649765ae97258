"""The WordPress importer: a live blog written with Automattic's Liveblog plugin, from its REST
entries (JSON) or from a WordPress export (WXR, the XML of Tools → Export or `wp export`).

How the plugin keeps a live blog: each entry is a comment of the post (comment type `liveblog`).
Editing an entry adds a comment holding the new text, with the meta `liveblog_replaces` naming
the original, and overwrites the original comment's text; deleting one adds an empty comment
that replaces it and sends the original to the trash. Times are UTC.

The two inputs, detected from the first character:

JSON (`{` or `[`): what `/wp-json/liveblog/v1/{post_id}/entries/{from}/{to}` (or
`…/get-entries/{page}/{last}`, or the older `/liveblog/{from}/{to}/` endpoint) answers:

    {"entries": [{"id": "1204", "type": "new" | "update" | "delete",
                  "render": "<p>…</p>", "content": "…", "css_classes": "… type-key",
                  "timestamp": 1679338620, "entry_time": 1679338020,
                  "authors": [{"id": 3, "key": "jdoe", "name": "Jane Doe", "avatar": "…"}],
                  "share_link": "…"}, …],
     "latest_timestamp": …, "refresh_interval": …}

  Leniently, the file may also be a list of such pages, a list of entries, or several pages one
  after the other (responses saved while polling, `curl … >> entries.json`). An entry's `id` is
  the original entry's for all its versions; versions are ordered by `timestamp` (this version's
  time), then by their place in the file; `entry_time` (the original's) is the published time.
  The body is `render` (the HTML readers saw), or `content` when `render` is empty (the
  plugin's input form: "/key" and "#tag" commands as typed, paragraphs as blank lines).
  The JSON has no header: the blog's title is `title` (`--title`) or "Imported live blog", with
  a warning.

XML (`<`): a WXR file with the live blog's `<item>` (the one post whose comments include
`<wp:comment_type>liveblog</wp:comment_type>`, or that has the `liveblog` post meta; a file with
several is refused: export one with `wp export --post__in=ID`). Read safely with defusedxml: a
DTD, entity declarations or external references are refused, never expanded.

  <title>                               title (unless `title` is given)
  <content:encoded>                     summary (Markdown; the plugin's shortcodes removed)
  <dc:creator> + <wp:author>            authors (the login's display name)
  channel <title>                       organisation (the site's name)
  <wp:post_date_gmt>                    created time, coverage start
  <wp:post_modified_gmt>                updated time (WordPress 6.x exports; else the last entry)
  post meta liveblog = archive          the blog is ended (at the updated time)
  <wp:comment> (type liveblog)          entries: <wp:comment_id>, <wp:comment_author>,
                                        <wp:comment_date_gmt>, <wp:comment_content>,
                                        <wp:comment_approved> (trash = deleted), and the comment
                                        meta liveblog_replaces, liveblog_key_entry,
                                        liveblog_contributors, liveblog_hide_authors

Kept for each entry: its text as Markdown (`htmltext`: paragraphs, bold, italics, http(s) links,
lists, quotes, line breaks; images become media with their alt text and the caption of a
[caption] shortcode or <figure>); a headline when the text opens with a heading or a bold first
line (the plugin has no headline field; otherwise the headline is empty); the published time;
the updated time (the last edit); the byline (the author and contributors, by display name);
key events (the plugin's /key command); hashtags as tags; earlier versions as revisions (oldest
first, each with its time and author's name); a deleted entry as a deleted post with its last
text (delete reason "deleted in WordPress").

Lost: entry ids and share links (posts get new ids); email addresses and avatars (a byline holds
names only); embeds (iframes, tweets' scripts; the words of a quoted tweet stay); reader comments;
the text of an edited entry as first published in a WXR file (WordPress overwrote it: revisions
start at the first edit, while the JSON keeps every version it saw); a deleted entry whose text
is not in the file (skipped, with a warning); the site's time zone (times are UTC; the blog shows
UTC unless `timezone` names the zone; a WXR file only shows the zone's offset, named in a
warning).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from dateline.errors import ImportFailed
from dateline.importers import ImportedBlog, display_zone
from dateline.importers.htmltext import clean
from dateline.importers.liveblog import (
    LATEST_EPOCH,
    UNTITLED,
    Entry,
    Header,
    Version,
    assemble,
    blog_of,
    in_time,
)
from dateline.importers.wxr import read_wxr

MAX_FILE = 100_000_000  # characters; a whole site's export can be large
# The plugin's "/key" command as typed (the `content` field); the stored form is a span.
_KEY_COMMAND = re.compile(r"(?<![\w/])/key\b", re.IGNORECASE)


def parse_wordpress(
    data: str, *, slug: str, timezone: str | None = None, title: str | None = None
) -> ImportedBlog:
    tz_name = display_zone(timezone)
    if len(data) > MAX_FILE:
        raise ImportFailed(f"the file is over {MAX_FILE:,} characters")
    text = data.lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        entries, warnings = _from_json(text)
        header = Header(title=title or UNTITLED)
        if not title:
            warnings.append(
                f'the Liveblog plugin\'s JSON has no title: the blog is called "{UNTITLED}"; '
                "pass --title or change it after the import"
            )
    elif text.startswith("<"):
        # A lone surrogate cannot be handed to the XML parser (it reads UTF-8).
        header, entries, warnings = read_wxr(clean(text), timezone)
        header.title = title or header.title
    else:
        raise ImportFailed(
            "expected the Liveblog plugin's entries as JSON (starting with { or [) or a "
            "WordPress export (WXR, starting with <)",
            line=1,
        )
    posts = [p for p in (assemble(e, slug, warnings) for e in entries) if p is not None]
    if not posts:
        raise ImportFailed("the file holds no live blog entries with text")
    return ImportedBlog(blog=blog_of(header, posts, slug, tz_name), posts=posts, warnings=warnings)


# JSON: the plugin's REST entries.


def _json_values(text: str) -> list[Any]:
    """Every JSON value in `text`, one after the other (pages saved in a row)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        if position == len(text):
            return values
        try:
            value, position = decoder.raw_decode(text, position)
        except RecursionError:
            raise ImportFailed("the JSON is nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise ImportFailed(f"not valid JSON: {exc.msg}", line=exc.lineno) from None
        except ValueError as exc:  # an integer of more than 4,300 digits
            raise ImportFailed(f"not valid JSON: {exc}") from None
        values.append(value)


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _epoch(value: Any, where: str, key: str) -> datetime:
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, float) and value.is_integer() and abs(value) <= LATEST_EPOCH:
        seconds = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 12:
        seconds = int(value.strip())
    if seconds is None or not 0 <= seconds <= LATEST_EPOCH:
        raise ImportFailed(
            f"{where}: {key} must be a time in seconds since 1970 (UTC), found {_shown(value)}"
        )
    return datetime.fromtimestamp(seconds, UTC)


def _json_entry_dicts(values: list[Any]) -> list[tuple[str, Any]]:
    """(how to name it, the entry) for every entry in every page."""
    found: list[tuple[str, Any]] = []

    def page(value: dict[str, Any], name: str) -> None:
        entries = value["entries"]
        if not isinstance(entries, list):
            raise ImportFailed(f'{name}: "entries" must be a list, found {_shown(entries)}')
        found.extend((f"{name}, entry {i}", e) for i, e in enumerate(entries, 1))

    for number, value in enumerate(values, 1):
        name = f"JSON value {number}" if len(values) > 1 else "the JSON"
        if isinstance(value, dict) and "entries" in value:
            page(value, name)
        elif isinstance(value, list):
            for i, item in enumerate(value, 1):
                if isinstance(item, dict) and "entries" in item:
                    page(item, f"{name}, page {i}")
                else:
                    found.append((f"{name}, entry {i}", item))
        else:
            raise ImportFailed(
                f'{name} must be the plugin\'s entries ({{"entries": [...]}}) or a list of '
                f"entries, found {_shown(value)}"
            )
    return found


def _from_json(text: str) -> tuple[list[Entry], list[str]]:
    entries: dict[str, Entry] = {}
    warnings: list[str] = []
    kinds: dict[str, list[tuple[datetime, int, str]]] = {}  # id → (time, order, type)
    for order, (where, item) in enumerate(_json_entry_dicts(_json_values(text))):
        if not isinstance(item, dict):
            raise ImportFailed(f"{where} must be an object, found {_shown(item)}")
        ident = item.get("id")
        if isinstance(ident, int) and not isinstance(ident, bool):
            ident = str(ident)
        if not isinstance(ident, str) or not ident.strip() or len(ident) > 100:
            raise ImportFailed(f"{where}: id must be the entry's number, found {_shown(ident)}")
        where = f"{where} (id {ident})"
        kind = item.get("type", "new")
        if kind not in ("new", "update", "delete"):
            raise ImportFailed(
                f'{where}: type must be "new", "update" or "delete", found {_shown(kind)}'
            )
        if "timestamp" not in item:
            raise ImportFailed(f"{where} has no timestamp")
        at = _epoch(item["timestamp"], where, "timestamp")
        entry = entries.setdefault(ident, Entry(id=ident, where=f"entry {ident}", order=order))
        if item.get("entry_time") is not None:
            entry.published_at = _epoch(item["entry_time"], where, "entry_time")
        authors = _json_authors(item.get("authors"), where)
        entry.authors = authors or entry.authors
        kinds.setdefault(ident, []).append((at, order, kind))
        for key in ("render", "content", "css_classes"):
            if item.get(key) is not None and not isinstance(item[key], str):
                raise ImportFailed(f"{where}: {key} must be text, found {_shown(item[key])}")
        if "type-key" in str(item.get("css_classes") or "").split():
            entry.key_event = True
        if kind == "delete":
            continue
        html, newlines = str(item.get("render") or ""), False
        if not html.strip():
            html, newlines = str(item.get("content") or ""), True
            if _KEY_COMMAND.search(html):
                entry.key_event = True
                html = _KEY_COMMAND.sub("", html)
        if html.strip():
            author = authors[0] if authors else None
            entry.versions.append(Version(at, html, newlines, author, order))
    for ident, events in kinds.items():
        latest = max(events)
        if latest[2] == "delete":
            entries[ident].deleted_at = latest[0]
    for entry in entries.values():
        entry.published_at = entry.published_at or min(k[0] for k in kinds[entry.id])
    return sorted(entries.values(), key=in_time), warnings


def _json_authors(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ImportFailed(f"{where}: authors must be a list, found {_shown(value)}")
    names: list[str] = []
    for author in value:
        # The plugin writes [] for an author it cannot find.
        name = author.get("name") if isinstance(author, dict) else None
        name = clean(name).strip() if isinstance(name, str) else ""
        if name and name not in names:
            names.append(name)
    return names


__all__ = ["MAX_FILE", "parse_wordpress"]
