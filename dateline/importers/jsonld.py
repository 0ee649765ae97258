"""The JSON-LD importer: a saved live blog page that describes itself with schema.org
`LiveBlogPosting` structured data (most news sites do, for search engines).

The page's `<script type="application/ld+json">` blocks are read (any number of them; an object,
a list, or a `@graph`, nested in other objects or not; `@type` a name, a list or a full URL;
`{"@id": …}` references to another node of the page resolved). The `LiveBlogPosting` with the most
`liveBlogUpdate` items is imported; a script that is not valid JSON, or another posting, is
named in the warnings.

Kept, for the blog:
    headline (or name)             title ("Imported live blog" and a warning when missing)
    description                    summary (plain text or HTML, as Markdown)
    author                         authors (Person names); an Organization → organisation
    publisher.name                 organisation, when no author is an Organization
    coverageStartTime              coverage start (else the first update's time)
    coverageEndTime                coverage end, and the blog is ended, when it is in the past
                                   (a planned end still ahead is dropped, with a warning)
    datePublished / dateModified   created / updated times
and for each `liveBlogUpdate` (BlogPosting, NewsArticle, … any object):
    headline (or name)             headline ("" when missing)
    articleBody (or text)          body; HTML is converted to Markdown (`htmltext`), plain text
                                   keeps its paragraphs (blank lines) and line breaks
    datePublished                  published time (required)
    dateModified                   updated time, when later than published
    author                         byline (Person names; organisations left out)
    image                          media: a URL, or an ImageObject's url/contentUrl, caption
                                   (or description; also the alt text), creditText or
                                   copyrightHolder or author (the credit); a URL that is not
                                   http(s) is dropped, its caption kept. Images inside an HTML
                                   body are added too; past 20 (the API's limit), with a warning.
Lost: the page's own ids and URLs (each post gets a new id; `@id`/`url` only orders updates
published in the same second), earlier versions of an edited update (only its time is known),
videos and embeds, keywords, locations, and the blog's display time zone: times carry UTC offsets,
not a zone, so the blog shows them in UTC unless `timezone` (`--timezone`) names the zone. A time
without an offset is read in `timezone`, and refused when none is given.

Every text and time is checked for its type; anything unreadable is refused with `ImportFailed`
naming the update (its position and headline) and the field. An author or image that is neither
text nor an object is skipped.
"""

from __future__ import annotations

import json
from collections import deque
from datetime import UTC, datetime
from typing import Any

from dateline.errors import ImportFailed
from dateline.importers import ImportedBlog, display_zone
from dateline.importers.htmltext import (
    Converted,
    LenientHTMLParser,
    clean,
    html_to_markdown,
    http_url,
)
from dateline.model import Blog, BlogStatus, Byline, Media, Person, Post, PostStatus
from dateline.render import zone

MAX_PAGE = 20_000_000  # characters
MAX_MEDIA = 20  # the API's limit for one post
_MAX_DEPTH = 16  # how deep a LiveBlogPosting may sit inside other JSON-LD objects
_UNTITLED = "Imported live blog"
_ORGANISATIONS = {"Organization", "NewsMediaOrganization", "Corporation", "NGO"}
# Text with one of these tags is HTML; anything else is plain text.
_HTML_HINT = (
    "<p", "<br", "<div", "<strong", "<b>", "<em", "<i>", "<a ", "<ul", "<ol", "<li", "<h2",
    "<h3", "<h4", "<blockquote", "<img", "<figure", "<span",
)  # fmt: skip


def parse_jsonld(html: str, *, slug: str, timezone: str | None = None) -> ImportedBlog:
    tz_name = display_zone(timezone)
    if len(html) > MAX_PAGE:
        raise ImportFailed(f"the page is over {MAX_PAGE:,} characters; is it really one page?")
    warnings: list[str] = []
    documents: list[Any] = []
    problems: list[str] = []
    scripts = _ld_scripts(html)
    for number, text in enumerate(scripts, 1):
        try:
            documents.append(_load(text))
        except ImportFailed as exc:
            problems.append(f"JSON-LD script {number} of {len(scripts)}: {exc.message}")
    index = _Index(documents)
    postings = [p for p in index.postings() if _updates(p, index)]
    if not postings:
        detail = (
            "; ".join(problems)
            if problems
            else f"{len(scripts)} JSON-LD script(s), none with a LiveBlogPosting and its "
            "liveBlogUpdate items"
        )
        raise ImportFailed(
            "no schema.org LiveBlogPosting in the page; save the live blog's own page (with its "
            f'<script type="application/ld+json">) and import that ({detail})'
        )
    warnings.extend(f"{p}; skipped" for p in problems)
    posting = max(postings, key=lambda p: len(_updates(p, index)))
    if len(postings) > 1:
        warnings.append(
            f"the page holds {len(postings)} LiveBlogPostings; importing the one with the most "
            f"updates ({len(_updates(posting, index))})"
        )
    posts = [
        _post(item, number, slug, timezone, index, warnings)
        for number, item in enumerate(_updates(posting, index), 1)
    ]
    posts.sort(key=lambda p: p[0])
    blog = _blog(posting, [p for _, p in posts], slug, tz_name, timezone, index, warnings)
    return ImportedBlog(blog=blog, posts=[p for _, p in posts], warnings=warnings)


class _Scripts(LenientHTMLParser):
    """The text of every <script type="application/ld+json">, as written."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "script":
            return
        kind = dict(attrs).get("type") or ""
        if kind.split(";")[0].strip().lower() == "application/ld+json":
            self._current = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.found.append("".join(self._current))
            self._current = None


def _ld_scripts(html: str) -> list[str]:
    parser = _Scripts()
    parser.feed(html)
    parser.close()
    if parser._current is not None:  # the page ends inside the script
        parser.found.append("".join(parser._current))
    return parser.found


def _load(text: str) -> Any:
    text = text.strip()
    # Old pages hide scripts from ancient browsers: "<!-- … -->", "//<![CDATA[ … //]]>".
    for start, end in (("<!--", "-->"), ("//<![CDATA[", "//]]>"), ("<![CDATA[", "]]>")):
        if text.startswith(start) and text.endswith(end):
            text = text[len(start) : -len(end)].strip()
    if not text:
        raise ImportFailed("the script is empty")
    try:
        return json.loads(text)
    except RecursionError:
        raise ImportFailed("the JSON is nested too deeply") from None
    except ValueError as exc:  # also an integer of more than 4,300 digits
        raise ImportFailed(f"not valid JSON ({exc})") from None


def _types(node: dict[str, Any]) -> set[str]:
    kinds = node.get("@type")
    names = kinds if isinstance(kinds, list) else [kinds]
    # "LiveBlogPosting", "schema:LiveBlogPosting", "https://schema.org/LiveBlogPosting"
    return {
        n.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] for n in names if isinstance(n, str)
    }


class _Index:
    """Every object of the page's JSON-LD, by `@id`, to resolve `{"@id": …}` references."""

    def __init__(self, documents: list[Any]) -> None:
        self.documents = documents
        self.by_id: dict[str, dict[str, Any]] = {}
        for node, _ in self._walk():
            ident = node.get("@id")
            if isinstance(ident, str) and set(node) - {"@id", "@type", "@context"}:
                self.by_id.setdefault(ident, node)

    def _walk(self) -> list[tuple[dict[str, Any], int]]:
        nodes: list[tuple[dict[str, Any], int]] = []
        queue: deque[tuple[Any, int]] = deque((d, 0) for d in self.documents)
        while queue:
            item, depth = queue.popleft()
            if depth > _MAX_DEPTH:
                continue
            if isinstance(item, list):
                queue.extend((x, depth + 1) for x in item)
            elif isinstance(item, dict):
                nodes.append((item, depth))
                queue.extend((v, depth + 1) for v in item.values() if isinstance(v, list | dict))
        return nodes

    def postings(self) -> list[dict[str, Any]]:
        return [n for n, _ in self._walk() if "LiveBlogPosting" in _types(n)]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and set(value) <= {"@id", "@type"}:
            ident = value.get("@id")
            if isinstance(ident, str):
                return self.by_id.get(ident, value)
        return value

    def items(self, value: Any) -> list[Any]:
        """A property's values: one value or a list of them, references resolved."""
        values = value if isinstance(value, list) else [] if value is None else [value]
        return [self.resolve(v) for v in values]


def _updates(posting: dict[str, Any], index: _Index) -> list[Any]:
    return index.items(posting.get("liveBlogUpdate"))


def _text(node: dict[str, Any], *keys: str, where: str) -> str:
    """The first of `keys` that is present, as text ("" when none is)."""
    for key in keys:
        value = node.get(key)
        if isinstance(value, list) and value:  # several values: the first one
            value = value[0]
        if isinstance(value, dict) and "@value" in value:
            value = value["@value"]
        if value is None or value == []:
            continue
        if not isinstance(value, str):
            raise ImportFailed(f"{where}: {key} must be text, found {_shown(value)}")
        return clean(value).strip()
    return ""


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _time(node: dict[str, Any], key: str, timezone: str | None, where: str) -> datetime | None:
    text = _text(node, key, where=where)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ImportFailed(
            f'{where}: {key} "{text[:60]}" is not an ISO 8601 time such as '
            "2023-03-20T14:57:00-04:00"
        ) from None
    if moment.tzinfo is None:
        if timezone is None:
            raise ImportFailed(
                f'{where}: {key} "{text}" has no UTC offset; pass --timezone with the zone the '
                "page's times are in"
            )
        moment = moment.replace(tzinfo=zone(timezone))
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 at +14:00 has no UTC equivalent
        raise ImportFailed(f'{where}: {key} "{text}" is out of range') from None


def _people(value: Any, index: _Index) -> tuple[list[str], list[str]]:
    """Authors → (people's names, organisations' names). Strings are people."""
    people: list[str] = []
    organisations: list[str] = []
    for item in index.items(value):
        name = item if isinstance(item, str) else None
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            name = item["name"]
        name = clean(name) if name is not None else None
        if name is None or not name.strip():
            continue
        is_organisation = isinstance(item, dict) and bool(_types(item) & _ORGANISATIONS)
        group = organisations if is_organisation else people
        if name.strip() not in group:
            group.append(name.strip())
    return people, organisations


def _body(text: str) -> Converted:
    if any(hint in text.lower() for hint in _HTML_HINT):
        return html_to_markdown(text)
    # Plain text: escape what HTML would read, keep paragraphs and line breaks.
    return html_to_markdown(text.replace("&", "&amp;").replace("<", "&lt;"), newlines=True)


def _credit(image: dict[str, Any], index: _Index, where: str) -> str:
    credit = _text(image, "creditText", where=where)
    if credit:
        return credit
    for key in ("copyrightHolder", "author", "creator"):
        people, organisations = _people(image.get(key), index)
        if people or organisations:
            return ", ".join(people + organisations)
    return ""


def _images(value: Any, index: _Index, where: str) -> list[Media]:
    media: list[Media] = []
    for item in index.items(value):
        if isinstance(item, str):
            url = http_url(item)
            if url:
                media.append(Media(alt="", caption="", credit="", url=url))
            continue
        if not isinstance(item, dict):
            continue
        url = http_url(item.get("url")) or http_url(item.get("contentUrl"))
        caption = _text(item, "caption", "description", where=f"{where}: image")
        if url or caption:
            credit = _credit(item, index, f"{where}: image")
            media.append(Media(alt=caption, caption=caption, credit=credit, url=url))
    return media


def _post(
    item: Any,
    number: int,
    slug: str,
    timezone: str | None,
    index: _Index,
    warnings: list[str],
) -> tuple[tuple[datetime, str, int], Post]:
    where = f"liveBlogUpdate {number}"
    if not isinstance(item, dict):
        raise ImportFailed(f"{where} must be an object, found {_shown(item)}")
    headline = _text(item, "headline", "name", where=where)
    if headline:
        where = f'{where} ("{headline[:60]}")'
    published = _time(item, "datePublished", timezone, where)
    if published is None:
        raise ImportFailed(f"{where} has no datePublished; every update needs its time")
    modified = _time(item, "dateModified", timezone, where)
    converted = _body(_text(item, "articleBody", "text", where=where))
    people, _ = _people(item.get("author"), index)
    media = _images(item.get("image"), index, where) + converted.media
    if len(media) > MAX_MEDIA:
        warnings.append(f"{where}: {len(media)} images; keeping the first {MAX_MEDIA}")
        media = media[:MAX_MEDIA]
    for dropped in sorted(set(converted.dropped)):
        warnings.append(f"{where}: an embedded <{dropped}> was left out")
    post = Post(
        blog_slug=slug,
        headline=headline,
        body=converted.markdown,
        byline=Byline(people=tuple(Person(n) for n in people)),
        media=media,
        status=PostStatus.PUBLISHED,
        published_at=published,
        created_at=published,
        updated_at=max(published, modified) if modified else published,
    )
    ident = item.get("@id") if isinstance(item.get("@id"), str) else item.get("url")
    return (published, ident if isinstance(ident, str) else "", number), post


def _blog(
    posting: dict[str, Any],
    posts: list[Post],
    slug: str,
    tz_name: str,
    timezone: str | None,
    index: _Index,
    warnings: list[str],
) -> Blog:
    where = "the LiveBlogPosting"
    title = _text(posting, "headline", "name", where=where)
    if not title:
        title = _UNTITLED
        warnings.append(f'the LiveBlogPosting has no headline; the title is "{_UNTITLED}"')
    summary = _body(_text(posting, "description", where=where)).markdown
    people, organisations = _people(posting.get("author"), index)
    if not organisations:
        _, organisations = _people(posting.get("publisher"), index)
        if not organisations:  # a publisher without an @type is an organisation too
            organisations, _ = _people(posting.get("publisher"), index)
    first = min(p.published_at for p in posts if p.published_at)
    last = max(p.updated_at for p in posts if p.updated_at)
    start = _time(posting, "coverageStartTime", timezone, where) or first
    end = _time(posting, "coverageEndTime", timezone, where)
    status = BlogStatus.LIVE
    if end is not None and end <= datetime.now(UTC):
        status = BlogStatus.ENDED
    elif end is not None:
        warnings.append(
            f"coverageEndTime {end.isoformat()} is still ahead; the blog is imported as live"
        )
        end = None
    return Blog(
        slug=slug,
        title=title,
        summary=summary,
        timezone=tz_name,
        organisation=organisations[0] if organisations else "",
        authors=[Person(n) for n in people],
        status=status,
        coverage_start=start,
        coverage_end=end,
        created_at=_time(posting, "datePublished", timezone, where) or start,
        updated_at=_time(posting, "dateModified", timezone, where) or last,
        post_count=len(posts),
    )


__all__ = ["MAX_PAGE", "parse_jsonld"]
