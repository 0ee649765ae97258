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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from dateline.errors import ImportFailed
from dateline.importers import ImportedBlog, ImportedPost, display_zone
from dateline.importers.htmltext import Converted, clean, html_to_markdown
from dateline.model import Blog, BlogStatus, Byline, Person, Post, PostStatus, Revision
from dateline.render import zone

MAX_FILE = 100_000_000  # characters; a whole site's export can be large
MAX_MEDIA = 20  # the API's limits for one post
MAX_TAGS = 20
_MAX_TAG = 50  # characters in a tag
_UNTITLED = "Imported live blog"
_DELETED = "deleted in WordPress"
_LATEST_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z
_WP_NAMESPACE = re.compile(r"^\{http://wordpress\.org/export/\d+\.\d+/\}(?P<name>.+)$")
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
_WP_TIME = "%Y-%m-%d %H:%M:%S"
_NO_TIME = "0000-00-00 00:00:00"
# The plugin's "/key" command as typed (the `content` field); the stored form is a span.
_KEY_COMMAND = re.compile(r"(?<![\w/])/key\b", re.IGNORECASE)
_SHORTCODE = re.compile(r"\[/?liveblog[\w-]*[^\]]*\]")
_CAPTION = re.compile(r"\[caption[^\]]*\](?P<inner>.*?)\[/caption\]", re.DOTALL)
_CAPTION_IMAGE = re.compile(
    r"^\s*(?P<image>(?:<a\b[^>]*>\s*)?<img\b[^>]*>(?:\s*</a>)?)(?P<text>.*)$", re.DOTALL
)
_SERIALISED_ID = re.compile(r'i:\d+;(?:i:(\d+)|s:\d+:"(\d+)");')


def parse_wordpress(
    data: str, *, slug: str, timezone: str | None = None, title: str | None = None
) -> ImportedBlog:
    tz_name = display_zone(timezone)
    if len(data) > MAX_FILE:
        raise ImportFailed(f"the file is over {MAX_FILE:,} characters")
    text = data.lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        entries, warnings = _from_json(text)
        header = _Header(title=title or _UNTITLED)
        if not title:
            warnings.append(
                f'the Liveblog plugin\'s JSON has no title: the blog is called "{_UNTITLED}"; '
                "pass --title or change it after the import"
            )
    elif text.startswith("<"):
        # A lone surrogate cannot be handed to the XML parser (it reads UTF-8).
        header, entries, warnings = _from_wxr(clean(text), timezone)
        header.title = title or header.title
    else:
        raise ImportFailed(
            "expected the Liveblog plugin's entries as JSON (starting with { or [) or a "
            "WordPress export (WXR, starting with <)",
            line=1,
        )
    posts = [p for p in (_assemble(e, slug, warnings) for e in entries) if p is not None]
    if not posts:
        raise ImportFailed("the file holds no live blog entries with text")
    return ImportedBlog(blog=_blog(header, posts, slug, tz_name), posts=posts, warnings=warnings)


# What both inputs are read into.


@dataclass
class _Version:
    at: datetime
    html: str
    newlines: bool  # the plugin's stored or typed form: blank lines separate paragraphs
    author: str | None
    order: int  # place in the file, for versions written in the same second


@dataclass
class _Entry:
    id: str
    where: str  # how messages name it
    order: int
    published_at: datetime | None = None
    versions: list[_Version] = field(default_factory=list)
    # The text readers saw last when the source says so (WXR: the original comment, which each
    # edit overwrites); else the latest version.
    final: _Version | None = None
    deleted_at: datetime | None = None
    authors: list[str] = field(default_factory=list)
    key_event: bool = False


@dataclass
class _Header:
    title: str
    summary: str = ""
    organisation: str = ""
    authors: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    ended: bool = False


def _convert(version: _Version) -> Converted:
    return html_to_markdown(version.html, newlines=version.newlines, take_headline=True)


def _assemble(entry: _Entry, slug: str, warnings: list[str]) -> ImportedPost | None:
    versions = sorted(entry.versions, key=lambda v: (v.at, v.order))
    final = entry.final or (versions[-1] if versions else None)
    if final is None:
        state = "was deleted and " if entry.deleted_at else ""
        warnings.append(f"{entry.where} {state}has no text in the file; skipped")
        return None
    earlier = [v for v in versions if v is not final]
    # A version counts where the text changed (the same response saved twice repeats entries);
    # the first version with a text stands for it.
    distinct: list[_Version] = []
    for version in [*earlier, final]:
        if not distinct or distinct[-1].html != version.html:
            distinct.append(version)
    earlier = distinct[:-1]
    times = [v.at for v in versions] + [final.at]
    published = entry.published_at or min(times)
    updated = max(max(times), entry.deleted_at or published)
    byline = Byline(people=tuple(Person(n) for n in entry.authors))
    converted = _convert(final)
    media = converted.media
    if len(media) > MAX_MEDIA:
        warnings.append(f"{entry.where}: {len(media)} images; keeping the first {MAX_MEDIA}")
        media = media[:MAX_MEDIA]
    for dropped in sorted(set(converted.dropped)):
        warnings.append(f"{entry.where}: an embedded <{dropped}> was left out")
    post = Post(
        blog_slug=slug,
        headline=converted.headline,
        body=converted.markdown,
        byline=byline,
        media=media,
        tags=[t for t in converted.tags if len(t) <= _MAX_TAG][:MAX_TAGS],
        key_event=entry.key_event or "key" in converted.commands,
        status=PostStatus.DELETED if entry.deleted_at else PostStatus.PUBLISHED,
        published_at=published,
        created_at=published,
        updated_at=updated,
        delete_reason=_DELETED if entry.deleted_at else None,
    )
    revisions = []
    for version in earlier:
        old = _convert(version)
        revisions.append(
            Revision(
                post_id="",
                number=0,
                user_id=None,
                created_at=version.at,
                headline=old.headline,
                body=old.markdown,
                byline=byline,
                media=old.media[:MAX_MEDIA],
                user_name=version.author,
            )
        )
    return ImportedPost(post=post, earlier=revisions)


def _blog(header: _Header, posts: list[ImportedPost], slug: str, tz_name: str) -> Blog:
    first = min(p.post.published_at for p in posts if p.post.published_at)
    last = max(p.post.updated_at for p in posts if p.post.updated_at)
    start = header.created_at or first
    updated = header.updated_at or last
    return Blog(
        slug=slug,
        title=header.title,
        summary=header.summary,
        timezone=tz_name,
        organisation=header.organisation,
        authors=[Person(n) for n in header.authors],
        status=BlogStatus.ENDED if header.ended else BlogStatus.LIVE,
        coverage_start=start,
        coverage_end=updated if header.ended else None,
        created_at=start,
        updated_at=updated,
        post_count=sum(1 for p in posts if p.post.status is PostStatus.PUBLISHED),
    )


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
    elif isinstance(value, float) and value.is_integer() and abs(value) <= _LATEST_EPOCH:
        seconds = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 12:
        seconds = int(value.strip())
    if seconds is None or not 0 <= seconds <= _LATEST_EPOCH:
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


def _from_json(text: str) -> tuple[list[_Entry], list[str]]:
    entries: dict[str, _Entry] = {}
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
        entry = entries.setdefault(ident, _Entry(id=ident, where=f"entry {ident}", order=order))
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
            entry.versions.append(_Version(at, html, newlines, author, order))
    for ident, events in kinds.items():
        latest = max(events)
        if latest[2] == "delete":
            entries[ident].deleted_at = latest[0]
    for entry in entries.values():
        entry.published_at = entry.published_at or min(k[0] for k in kinds[entry.id])
    return sorted(entries.values(), key=_in_time), warnings


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


# XML: a WordPress export (WXR).


def _local(element: Element) -> str | None:
    """The name of a `wp:` element ("comment_id"), whatever the export version; else None."""
    match = _WP_NAMESPACE.match(element.tag) if isinstance(element.tag, str) else None
    return match["name"] if match else None


def _wp_all(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child) == name]


def _wp_text(element: Element, name: str) -> str:
    found = _wp_all(element, name)
    return (found[0].text or "").strip() if found else ""


def _meta(element: Element, kind: str) -> dict[str, str]:
    """The post's or comment's meta (`kind` is "postmeta" or "commentmeta"), key → value."""
    meta: dict[str, str] = {}
    for item in _wp_all(element, kind):
        meta.setdefault(_wp_text(item, "meta_key"), _wp_text(item, "meta_value"))
    return meta


def _wxr_time(
    element: Element, name: str, where: str, timezone: str | None, *, required: bool
) -> datetime | None:
    """`<wp:NAME_gmt>`, or `<wp:NAME>` in `timezone` when the UTC time is zero."""
    value = _wp_text(element, f"{name}_gmt")
    local = _wp_text(element, name)
    if (not value or value == _NO_TIME) and local and local != _NO_TIME and timezone:
        return _parse_wxr_time(local, f"<wp:{name}>", where).replace(tzinfo=zone(timezone))
    if not value or value == _NO_TIME:
        if required:
            raise ImportFailed(
                f"{where} has no <wp:{name}_gmt> time"
                + (f" (pass --timezone to read <wp:{name}> {local})" if local else "")
            )
        return None
    return _parse_wxr_time(value, f"<wp:{name}_gmt>", where).replace(tzinfo=UTC)


def _parse_wxr_time(value: str, element: str, where: str) -> datetime:
    try:
        return datetime.strptime(value, _WP_TIME)
    except ValueError:
        raise ImportFailed(
            f'{where}: {element} "{value[:60]}" is not a time such as 2023-03-20 18:57:00'
        ) from None


@dataclass
class _Comment:
    id: str
    author: str
    at: datetime
    content: str
    trashed: bool
    replaces: str | None
    meta: dict[str, str]
    order: int


def _parse_xml(text: str) -> Element:
    try:
        return fromstring(text, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ImportFailed(
            "the XML declares a DTD or entities, which a WordPress export never does; refused "
            f"unread ({type(exc).__name__})"
        ) from None
    except ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise ImportFailed(f"not well-formed XML: {exc}", line=line) from None
    except RecursionError:
        raise ImportFailed("the XML is nested too deeply") from None


def _from_wxr(text: str, timezone: str | None) -> tuple[_Header, list[_Entry], list[str]]:
    root = _parse_xml(text)
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise ImportFailed(
            f"expected a WordPress export (<rss><channel>…), found <{root.tag}>; export the "
            "live blog with Tools → Export or `wp export --post__in=ID`"
        )
    warnings: list[str] = []
    people: dict[str, str] = {}  # login and user id → display name
    for author in _wp_all(channel, "author"):
        name = _wp_text(author, "author_display_name") or _wp_text(author, "author_login")
        for key in ("author_login", "author_id"):
            if _wp_text(author, key):
                people[_wp_text(author, key)] = name
    item = _live_item(channel)
    title = (item.findtext("title") or "").strip()
    where = f'the <item> "{title[:60]}"'
    if not title:
        warnings.append(f'the live blog\'s <title> is empty; the blog is called "{_UNTITLED}"')
    post_status = _wp_text(item, "status")
    if post_status and post_status != "publish":
        warnings.append(f"the post's <wp:status> is {post_status!r}, not 'publish'")
    state = _meta(item, "postmeta").get("liveblog", "")
    creator = (item.findtext(_CREATOR) or "").strip()
    summary = _SHORTCODE.sub("", item.findtext(_CONTENT) or "")
    header = _Header(
        title=title or _UNTITLED,
        summary=html_to_markdown(_captions(summary), newlines=True).markdown,
        organisation=(channel.findtext("title") or "").strip(),
        authors=[people.get(creator, creator)] if creator else [],
        created_at=_wxr_time(item, "post_date", where, timezone, required=False),
        updated_at=_wxr_time(item, "post_modified", where, timezone, required=False),
        ended=state == "archive",
    )
    offset = _site_offset(item)
    if timezone is None and offset:
        warnings.append(
            f"the site's clock was {offset} when the post was written; the blog shows UTC "
            "times unless --timezone names the site's zone (such as 'Europe/Berlin')"
        )
    comments, others = _comments(item, timezone)
    if others:
        warnings.append(f"{others} reader comment(s) of the post left out")
    return header, _wxr_entries(comments, people, warnings), warnings


def _live_item(channel: Element) -> Element:
    live: list[Element] = []
    for item in channel.findall("item"):
        has_entries = any(
            _wp_text(c, "comment_type") == "liveblog" for c in _wp_all(item, "comment")
        )
        if has_entries or _meta(item, "postmeta").get("liveblog") in ("enable", "archive"):
            live.append(item)
    if not live:
        raise ImportFailed(
            "the export holds no live blog: no <item> has <wp:comment_type>liveblog"
            "</wp:comment_type> comments or the 'liveblog' post meta"
        )
    if len(live) > 1:
        named = ", ".join(
            f'{_wp_text(i, "post_id") or "?"} "{(i.findtext("title") or "").strip()[:40]}"'
            for i in live[:10]
        )
        raise ImportFailed(
            f"the export holds {len(live)} live blogs ({named}); export one at a time with "
            "`wp export --post__in=ID`"
        )
    return live[0]


def _site_offset(item: Element) -> str:
    """ "UTC+02:00" when the post's local and UTC times differ, else ""."""
    try:
        local = datetime.strptime(_wp_text(item, "post_date"), _WP_TIME)
        utc = datetime.strptime(_wp_text(item, "post_date_gmt"), _WP_TIME)
    except ValueError:
        return ""
    minutes = round((local - utc).total_seconds() / 60)
    if not minutes or abs(minutes) > 18 * 60:
        return ""
    sign = "+" if minutes > 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _comments(item: Element, timezone: str | None) -> tuple[list[_Comment], int]:
    comments: list[_Comment] = []
    others = 0
    for order, element in enumerate(_wp_all(item, "comment")):
        if _wp_text(element, "comment_type") != "liveblog":
            others += 1
            continue
        ident = _wp_text(element, "comment_id")
        where = f"<wp:comment> {order + 1} of the post"
        if not ident.isdigit() or len(ident) > 20:
            raise ImportFailed(f"{where}: <wp:comment_id> must be a number, found {ident[:40]!r}")
        where = f"<wp:comment> {ident}"
        at = _wxr_time(element, "comment_date", where, timezone, required=True)
        assert at is not None
        meta = _meta(element, "commentmeta")
        replaces = meta.get("liveblog_replaces", "").strip() or None
        if replaces is not None and not replaces.isdigit():
            raise ImportFailed(
                f"{where}: liveblog_replaces must be a comment id, found {replaces[:40]!r}"
            )
        comments.append(
            _Comment(
                id=ident,
                author=_wp_text(element, "comment_author"),
                at=at,
                content=_content(element),
                trashed=_wp_text(element, "comment_approved") == "trash",
                replaces=replaces,
                meta=meta,
                order=order,
            )
        )
    return comments, others


def _content(element: Element) -> str:
    found = _wp_all(element, "comment_content")
    return _captions(found[0].text or "") if found else ""


def _captions(html: str) -> str:
    """WordPress's [caption …]<img …> Words[/caption] → <figure> with a <figcaption>."""

    def figure(match: re.Match[str]) -> str:
        parts = _CAPTION_IMAGE.match(match["inner"])
        if parts is None:
            return match["inner"]
        return f"<figure>{parts['image']}<figcaption>{parts['text']}</figcaption></figure>"

    return _CAPTION.sub(figure, html)


def _wxr_entries(
    comments: list[_Comment], people: dict[str, str], warnings: list[str]
) -> list[_Entry]:
    by_id = {c.id: c for c in comments}

    def original(comment: _Comment) -> str:
        # liveblog_replaces names the original entry; follow a chain should a version name
        # another version.
        seen = {comment.id}
        current = comment
        while current.replaces is not None:
            if current.replaces in seen:
                raise ImportFailed(
                    f"<wp:comment> {comment.id}: its entries replace each other in a loop"
                )
            seen.add(current.replaces)
            following = by_id.get(current.replaces)
            if following is None:
                return current.replaces
            current = following
        return current.id

    groups: dict[str, list[_Comment]] = {}
    for comment in comments:
        groups.setdefault(original(comment), []).append(comment)
    entries: list[_Entry] = []
    for root, members in groups.items():
        first = by_id.get(root)
        entry = _Entry(id=root, where=f"entry {root}", order=min(c.order for c in members))
        edits = [c for c in members if c is not first and c.content.strip()]
        deletes = [c for c in members if c is not first and not c.content.strip()]
        entry.versions = [_Version(c.at, c.content, True, c.author, c.order) for c in edits]
        if first is not None:
            entry.published_at = first.at
            if first.content.strip():
                entry.final = _Version(first.at, first.content, True, first.author, first.order)
            meta = first.meta
            if meta.get("liveblog_hide_authors", "") not in ("1", "true"):
                contributors = [
                    people[a or b]
                    for a, b in _SERIALISED_ID.findall(meta.get("liveblog_contributors", ""))
                    if (a or b) in people
                ]
                entry.authors = [n for n in dict.fromkeys([first.author, *contributors]) if n]
            entry.key_event = meta.get("liveblog_key_entry") == "true"
        elif edits:
            warnings.append(
                f"entry {root}'s original comment is not in the export; its first edit's time "
                "is used as its published time"
            )
            entry.authors = [edits[0].author] if edits[0].author else []
        last_edit = max((c.at for c in edits), default=None)
        deleted = [c.at for c in deletes if last_edit is None or c.at >= last_edit]
        if deleted:
            entry.deleted_at = max(deleted)
        elif first is not None and first.trashed:
            trashed = first.meta.get("_wp_trash_meta_time", "")
            entry.deleted_at = (
                datetime.fromtimestamp(int(trashed), UTC)
                if trashed.isdigit() and int(trashed) <= _LATEST_EPOCH
                else max(c.at for c in members)
            )
        entries.append(entry)
    entries.sort(key=_in_time)
    return entries


def _in_time(entry: _Entry) -> tuple[datetime, int]:
    """Entries in the order they were published (as far as the file tells)."""
    times = [v.at for v in entry.versions] + ([entry.deleted_at] if entry.deleted_at else [])
    return entry.published_at or min(times, default=datetime.max.replace(tzinfo=UTC)), entry.order


__all__ = ["MAX_FILE", "parse_wordpress"]
