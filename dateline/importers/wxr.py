"""A WordPress export (WXR) of a live blog written with the Liveblog plugin: the live blog's
post and its liveblog comments → the plugin's entries (`liveblog.py`). What is read from which
element, and what is lost, is in `wordpress.py`. Parsed with defusedxml: a DTD, entity
declarations or external references are refused, never expanded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from dateline.errors import ImportFailed
from dateline.importers.htmltext import html_to_markdown
from dateline.importers.liveblog import LATEST_EPOCH, UNTITLED, Entry, Header, Version, in_time
from dateline.render import zone

_WP_NAMESPACE = re.compile(r"^\{http://wordpress\.org/export/\d+\.\d+/\}(?P<name>.+)$")
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
_WP_TIME = "%Y-%m-%d %H:%M:%S"
_NO_TIME = "0000-00-00 00:00:00"
_SHORTCODE = re.compile(r"\[/?liveblog[\w-]*[^\]]*\]")
_CAPTION = re.compile(r"\[caption[^\]]*\](?P<inner>.*?)\[/caption\]", re.DOTALL)
_CAPTION_IMAGE = re.compile(
    r"^\s*(?P<image>(?:<a\b[^>]*>\s*)?<img\b[^>]*>(?:\s*</a>)?)(?P<text>.*)$", re.DOTALL
)
_SERIALISED_ID = re.compile(r'i:\d+;(?:i:(\d+)|s:\d+:"(\d+)");')


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


def read_wxr(text: str, timezone: str | None) -> tuple[Header, list[Entry], list[str]]:
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
        warnings.append(f'the live blog\'s <title> is empty; the blog is called "{UNTITLED}"')
    post_status = _wp_text(item, "status")
    if post_status and post_status != "publish":
        warnings.append(f"the post's <wp:status> is {post_status!r}, not 'publish'")
    state = _meta(item, "postmeta").get("liveblog", "")
    creator = (item.findtext(_CREATOR) or "").strip()
    summary = _SHORTCODE.sub("", item.findtext(_CONTENT) or "")
    header = Header(
        title=title or UNTITLED,
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
) -> list[Entry]:
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
    entries: list[Entry] = []
    for root, members in groups.items():
        first = by_id.get(root)
        entry = Entry(id=root, where=f"entry {root}", order=min(c.order for c in members))
        edits = [c for c in members if c is not first and c.content.strip()]
        deletes = [c for c in members if c is not first and not c.content.strip()]
        entry.versions = [Version(c.at, c.content, True, c.author, c.order) for c in edits]
        if first is not None:
            entry.published_at = first.at
            if first.content.strip():
                entry.final = Version(first.at, first.content, True, first.author, first.order)
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
                if trashed.isdigit() and int(trashed) <= LATEST_EPOCH
                else max(c.at for c in members)
            )
        entries.append(entry)
    entries.sort(key=in_time)
    return entries
