"""Importing live blogs from other platforms: a page's schema.org JSON-LD, the WordPress Liveblog
plugin's REST entries and a WordPress export (WXR), and fetching a page over HTTP. The fixtures
under tests/fixtures/foreign/ tell an invented story by invented people."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dateline.errors import ImportFailed
from dateline.importers import ImportedBlog, ImportedPost
from dateline.importers.fetch import fetch_page
from dateline.importers.htmltext import html_to_markdown
from dateline.importers.jsonld import MAX_PAGE, parse_jsonld
from dateline.importers.wordpress import parse_wordpress
from dateline.model import BlogStatus, Media, Post, PostStatus

FIXTURES = Path(__file__).parent / "fixtures" / "foreign"
PAGE = (FIXTURES / "storm-hollis-jsonld.html").read_text(encoding="utf-8")
ENTRIES = (FIXTURES / "storm-hollis-entries.json").read_text(encoding="utf-8")
EXPORT = (FIXTURES / "storm-hollis-export.xml").read_text(encoding="utf-8")


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _posts(imported: ImportedBlog) -> list[Post]:
    return [p.post if isinstance(p, ImportedPost) else p for p in imported.posts]


def _wordpress(imported: ImportedBlog) -> list[ImportedPost]:
    posts = list(imported.posts)
    assert all(isinstance(p, ImportedPost) for p in posts)
    return [p for p in posts if isinstance(p, ImportedPost)]


def _names(post: Post) -> list[str]:
    return [person.name for person in post.byline.people]


def _page(posting: object) -> str:
    """A page with one JSON-LD script holding `posting`."""
    return f'<html><head><script type="application/ld+json">{json.dumps(posting)}</script></head></html>'


_UPDATE = {
    "@type": "BlogPosting",
    "headline": "Winds ease",
    "datePublished": "2024-03-20T15:00:00Z",
}


# schema.org JSON-LD


def test_jsonld_update_without_offset_is_refused_unless_a_zone_is_given() -> None:
    with pytest.raises(ImportFailed) as refused:
        parse_jsonld(PAGE, slug="hollis")
    assert refused.value.message == (
        'liveBlogUpdate 5 ("Power cut for 80,000 homes"): datePublished "2024-03-20T12:05:00" has '
        "no UTC offset; pass --timezone with the zone the page's times are in"
    )
    posts = _posts(parse_jsonld(PAGE, slug="hollis", timezone="Europe/Berlin"))
    assert posts[-1].published_at == _utc(2024, 3, 20, 11, 5)  # 12:05 in Berlin (UTC+1)


def test_jsonld_header_is_recovered_from_the_graph() -> None:
    imported = parse_jsonld(PAGE, slug="hollis", timezone="Europe/Berlin")
    blog = imported.blog
    assert blog.slug == "hollis" and blog.timezone == "Europe/Berlin"
    assert blog.title == "Storm Hollis: live updates as the storm reaches the Brindle coast"
    assert blog.summary == (
        "Storm Hollis made landfall near Port Avel on Wednesday morning.\n\n"
        "About 14,000 people were told to leave low-lying districts."
    )
    # One author by @id reference, one a bare string, one a Person object.
    assert [a.name for a in blog.authors] == [
        "Maren Okafor",
        "Tobias Lindqvist",
        "Priya Castellano",
    ]
    assert blog.organisation == "The Harbour Ledger"  # the publisher, by @id reference
    assert blog.status is BlogStatus.ENDED
    assert (blog.coverage_start, blog.coverage_end) == (
        _utc(2024, 3, 20, 5, 30),
        _utc(2024, 3, 20, 13),
    )
    assert (blog.created_at, blog.updated_at) == (
        _utc(2024, 3, 20, 5, 30),
        _utc(2024, 3, 20, 13, 10),
    )
    # The second script is cut short; the breadcrumbs have no posting. Neither stops the import.
    assert imported.warnings == [
        "JSON-LD script 2 of 3: not valid JSON (Expecting property name enclosed in double quotes: "
        "line 1 column 85 (char 84)); skipped"
    ]


def test_jsonld_updates_become_posts_in_utc_oldest_first() -> None:
    posts = _posts(parse_jsonld(PAGE, slug="hollis", timezone="Europe/Berlin"))
    assert [(p.published_at, p.updated_at, p.headline, _names(p)) for p in posts] == [
        (_utc(2024, 3, 20, 6, 45), _utc(2024, 3, 20, 6, 45), "Storm Hollis makes landfall near Port Avel", ["Maren Okafor", "Priya Castellano"]),
        # Two updates in the same second: their @id/url orders them.
        (_utc(2024, 3, 20, 7, 30), _utc(2024, 3, 20, 7, 30), "Schools closed on Thursday", ["Maren Okafor"]),
        (_utc(2024, 3, 20, 7, 30), _utc(2024, 3, 20, 7, 30), "Evacuation ordered for low-lying districts", []),
        # +01:00 in the page; dateModified is the updated time.
        (_utc(2024, 3, 20, 8, 10), _utc(2024, 3, 20, 8, 40), "Ferries cancelled until Friday", ["Tobias Lindqvist"]),
        (_utc(2024, 3, 20, 11, 5), _utc(2024, 3, 20, 11, 5), "Power cut for 80,000 homes", []),
    ]  # fmt: skip
    assert all(p.status is PostStatus.PUBLISHED and p.blog_slug == "hollis" for p in posts)
    assert all(p.created_at == p.published_at for p in posts)


def test_jsonld_bodies_become_markdown() -> None:
    posts = _posts(parse_jsonld(PAGE, slug="hollis", timezone="Europe/Berlin"))
    # HTML (escaped as \u003C in the JSON): bold, a link and a list kept, the script dropped.
    assert posts[0].body == (
        "The eye of the storm crossed the coast at **6:40 a.m.**, the "
        "[Brindle Weather Office](https://weather.example.org/brindle) said.\n\n"
        "Gusts of up to 150 km/h were recorded at:\n\n"
        "- Port Avel\n- Sallow Bay"
    )
    assert posts[1].body == "All schools in the district will stay closed on Thursday."  # "text"
    # Plain text keeps its paragraphs.
    assert posts[3].body == (
        "Ferries between Port Avel and Tarn Island will not sail until Friday, the operator said."
        "\n\nPassengers with tickets for Thursday can claim a refund."
    )


def test_jsonld_images_keep_caption_and_credit_and_only_http_urls() -> None:
    posts = _posts(parse_jsonld(PAGE, slug="hollis", timezone="Europe/Berlin"))
    assert posts[0].media == [
        Media(
            alt="Waves break over the harbour wall in Port Avel.",
            caption="Waves break over the harbour wall in Port Avel.",
            credit="Ines Marlowe/Harbour Ledger",
            url="https://media.example.org/hollis/harbour.jpg",
        )
    ]
    assert posts[2].media == [
        Media(alt="", caption="", credit="", url="https://media.example.org/hollis/buses.jpg"),
        Media(
            alt="A shelter in the Tarn Road school.",
            caption="A shelter in the Tarn Road school.",
            credit="Brindle Civil Defence",  # copyrightHolder
            url="https://media.example.org/hollis/shelter.jpg",
        ),
        # A javascript: URL is dropped; the caption stays.
        Media(
            alt="A map of the districts.", caption="A map of the districts.", credit="", url=None
        ),
    ]


def test_jsonld_accepts_a_top_level_list_and_full_type_urls() -> None:
    page = _page(
        [
            {"@type": "Organization", "name": "Elsewhere"},
            {
                "@type": "http://schema.org/LiveBlogPosting",
                "liveBlogUpdate": _UPDATE,  # one object, not a list
                "author": {"@type": "Organization", "name": "Brindle Radio"},
                "publisher": {"@type": "Organization", "name": "Brindle Media Group"},
            },
        ]
    )
    imported = parse_jsonld(page, slug="radio")
    assert imported.blog.title == "Imported live blog"
    assert imported.blog.timezone == "UTC" and imported.blog.status is BlogStatus.LIVE
    assert imported.blog.organisation == "Brindle Radio" and imported.blog.authors == []
    assert imported.warnings == [
        'the LiveBlogPosting has no headline; the title is "Imported live blog"'
    ]
    assert [(p.headline, p.published_at) for p in _posts(imported)] == [
        ("Winds ease", _utc(2024, 3, 20, 15))
    ]


def test_jsonld_planned_coverage_end_keeps_the_blog_live() -> None:
    page = _page(
        {"@type": "LiveBlogPosting", "headline": "Hollis", "liveBlogUpdate": [_UPDATE],
         "coverageEndTime": "2999-01-01T00:00:00Z"}
    )  # fmt: skip
    imported = parse_jsonld(page, slug="hollis")
    assert imported.blog.status is BlogStatus.LIVE and imported.blog.coverage_end is None
    assert imported.warnings == [
        "coverageEndTime 2999-01-01T00:00:00+00:00 is still ahead; the blog is imported as live"
    ]


def test_jsonld_picks_the_posting_with_most_updates() -> None:
    few = {"@type": "LiveBlogPosting", "headline": "Few", "liveBlogUpdate": [_UPDATE]}
    many = {"@type": "LiveBlogPosting", "headline": "Many", "liveBlogUpdate": [_UPDATE, _UPDATE]}
    imported = parse_jsonld(_page({"@graph": [few, many]}), slug="many")
    assert imported.blog.title == "Many"
    assert imported.warnings == [
        "the page holds 2 LiveBlogPostings; importing the one with the most updates (2)"
    ]


@pytest.mark.parametrize(
    ("page", "message"),
    [
        ("", "no schema.org LiveBlogPosting in the page"),
        ("<html><body><p>Nothing here</p></body></html>", "0 JSON-LD script(s)"),
        (_page({"@type": "NewsArticle", "headline": "Not live"}), "1 JSON-LD script(s), none with"),
        (_page({"@type": "LiveBlogPosting", "headline": "Empty"}), "none with a LiveBlogPosting"),
        ('<script type="application/ld+json">{"@type": </script>', "not valid JSON"),
        ('<script type="application/ld+json"></script>', "the script is empty"),
        (_page({"@type": "LiveBlogPosting", "liveBlogUpdate": "x"}), "liveBlogUpdate 1 must be an object"),
        (_page({"@type": "LiveBlogPosting", "liveBlogUpdate": [{**_UPDATE, "headline": 5}]}), "liveBlogUpdate 1: headline must be text, found 5"),
        (_page({"@type": "LiveBlogPosting", "liveBlogUpdate": [{"headline": "No time"}]}), 'liveBlogUpdate 1 ("No time") has no datePublished'),
        (_page({"@type": "LiveBlogPosting", "liveBlogUpdate": [{**_UPDATE, "datePublished": 1710914400}]}), "datePublished must be text, found 1710914400"),
        (_page({"@type": "LiveBlogPosting", "liveBlogUpdate": [{**_UPDATE, "datePublished": "yesterday"}]}), '"yesterday" is not an ISO 8601 time'),
        (_page({"@type": "LiveBlogPosting", "liveBlogUpdate": [{**_UPDATE, "datePublished": "0001-01-01T00:00:00+14:00"}]}), "is out of range"),
        (_page({"@type": "LiveBlogPosting", "liveBlogUpdate": [{**_UPDATE, "articleBody": {"x": 1}}]}), "articleBody must be text"),
        (_page({"@type": "LiveBlogPosting", "headline": ["a"], "description": 5, "liveBlogUpdate": [_UPDATE]}), "the LiveBlogPosting: description must be text"),
        ('<script type="application/ld+json">{"n": ' + "1" * 5000 + "}</script>", "not valid JSON"),
        ('<script type="application/ld+json">' + "[" * 100_000 + "</script>", "nested too deeply"),
    ],
)  # fmt: skip
def test_jsonld_unreadable_pages_are_refused(page: str, message: str) -> None:
    with pytest.raises(ImportFailed) as refused:
        parse_jsonld(page, slug="hollis")
    assert message in refused.value.message


def test_jsonld_refuses_an_oversized_page_and_an_unknown_zone() -> None:
    with pytest.raises(ImportFailed, match="over 20,000,000 characters"):
        parse_jsonld(" " * (MAX_PAGE + 1), slug="big")
    with pytest.raises(ImportFailed, match="time zone 'Eastern' is unknown"):
        parse_jsonld(PAGE, slug="hollis", timezone="Eastern")


# The WordPress Liveblog plugin's REST entries (JSON)


def test_wordpress_entries_keep_every_version_as_revisions() -> None:
    imported = parse_wordpress(ENTRIES, slug="hollis")
    evacuation = _wordpress(imported)[1]
    post = evacuation.post
    assert post.headline == "Evacuation ordered"  # the entry opens with a heading
    assert post.body == (
        "About 15,500 people in low-lying districts have been told to leave, #hollis:\n\n"
        "- Port Avel harbour\n- Sallow Bay\n- Tarn Road"
    )
    assert post.tags == ["hollis"]
    assert _names(post) == ["Tobias Lindqvist", "Priya Castellano"]
    assert (post.published_at, post.updated_at) == (
        _utc(2024, 3, 20, 6, 30),
        _utc(2024, 3, 20, 8, 15),
    )
    assert [(r.created_at, r.headline, r.body, r.user_name) for r in evacuation.earlier] == [
        (_utc(2024, 3, 20, 6, 30), "Evacuation ordered", "About 12,000 people in low-lying districts have been told to leave:\n\n- Port Avel harbour\n- Sallow Bay", "Tobias Lindqvist"),
        (_utc(2024, 3, 20, 7, 45), "Evacuation ordered", "About 14,000 people in low-lying districts have been told to leave:\n\n- Port Avel harbour\n- Sallow Bay", "Tobias Lindqvist"),
    ]  # fmt: skip
    assert all((r.post_id, r.number, r.user_id) == ("", 0, None) for r in evacuation.earlier)


def test_wordpress_entries_headlines_key_events_and_typed_content() -> None:
    landfall, _, _, power = _wordpress(parse_wordpress(ENTRIES, slug="hollis"))
    post = landfall.post
    assert post.headline == "Storm Hollis makes landfall near Port Avel"  # the bold first line
    assert post.body == (
        "The eye of the storm crossed the coast at 6:40 a.m., the Brindle Weather Office said.\n\n"
        "Gusts of up to *150 km/h* were recorded at "
        "[the Avel station](https://weather.example.org/stations/avel)."
    )
    assert post.key_event and _names(post) == ["Maren Okafor"] and landfall.earlier == []
    # No "render": the typed content, its "/key" command removed, blank lines as paragraphs.
    assert power.post.headline == ""
    assert power.post.body == (
        "Power is out for 80,000 homes, the grid operator says.\n\n"
        "Crews will start repairs when the wind drops below 60 km/h.\\\n"
        "The operator's hotline is 0800 555 0100."
    )
    assert power.post.key_event and power.post.published_at == _utc(2024, 3, 20, 7, 50)


def test_wordpress_entries_deleted_entry_keeps_its_last_text() -> None:
    imported = parse_wordpress(ENTRIES, slug="hollis")
    harbour = _wordpress(imported)[2].post
    assert harbour.status is PostStatus.DELETED and harbour.delete_reason == "deleted in WordPress"
    assert harbour.body == "The harbour master has closed the port to all traffic."
    assert harbour.media == [
        Media(
            alt="Waves over the harbour wall",
            caption="Waves break over the harbour wall in Port Avel.",
            credit="",
            url="https://media.example.org/hollis/harbour.jpg",
        )
    ]
    assert (harbour.published_at, harbour.updated_at) == (
        _utc(2024, 3, 20, 7, 30),
        _utc(2024, 3, 20, 8),
    )
    assert [p.post.status for p in _wordpress(imported)] == [
        PostStatus.PUBLISHED, PostStatus.PUBLISHED, PostStatus.DELETED, PostStatus.PUBLISHED,
    ]  # fmt: skip
    assert imported.warnings == [
        'the Liveblog plugin\'s JSON has no title: the blog is called "Imported live blog"; pass '
        "--title or change it after the import",
        "entry 1199 was deleted and has no text in the file; skipped",
        "entry 1203: an embedded <iframe> was left out",
    ]


def test_wordpress_entries_blog_header() -> None:
    imported = parse_wordpress(ENTRIES, slug="hollis", title="Storm Hollis live")
    blog = imported.blog
    assert (blog.title, blog.timezone, blog.status) == ("Storm Hollis live", "UTC", BlogStatus.LIVE)
    assert (blog.coverage_start, blog.updated_at) == (
        _utc(2024, 3, 20, 6),
        _utc(2024, 3, 20, 8, 15),
    )
    assert not any("no title" in w for w in imported.warnings)
    assert (
        parse_wordpress(ENTRIES, slug="h", timezone="Europe/London").blog.timezone
        == "Europe/London"
    )


def _summary(imported: ImportedBlog) -> list[tuple[object, ...]]:
    return [
        (
            p.post.headline,
            p.post.body,
            p.post.status,
            p.post.updated_at,
            [r.body for r in p.earlier],
        )
        for p in _wordpress(imported)
    ]


def test_wordpress_entries_may_be_pages_in_a_row_or_a_plain_list() -> None:
    pages = json.loads(ENTRIES)
    expected = _summary(parse_wordpress(ENTRIES, slug="hollis"))
    in_a_row = "\n".join(json.dumps(page) for page in pages)  # responses appended while polling
    assert _summary(parse_wordpress(in_a_row, slug="hollis")) == expected
    flat = json.dumps([entry for page in pages for entry in page["entries"]])
    assert _summary(parse_wordpress(flat, slug="hollis")) == expected
    # The same response saved twice changes nothing.
    assert _summary(parse_wordpress(in_a_row + in_a_row, slug="hollis")) == expected
    one = json.dumps(pages[0])
    assert [p.post.headline for p in _wordpress(parse_wordpress(one, slug="h"))] == [
        "Storm Hollis makes landfall near Port Avel", "Evacuation ordered", "",
    ]  # fmt: skip


def _entry(**fields: object) -> str:
    entry = {"id": "7", "type": "new", "render": "<p>Text</p>", "timestamp": 1710914400}
    return json.dumps({"entries": [{**entry, **fields}]})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "expected the Liveblog plugin's entries as JSON"),
        ("hello", "expected the Liveblog plugin's entries as JSON"),
        ((FIXTURES / "malformed-entries.json").read_text(), "line 1: not valid JSON"),
        ('{"entries": "x"}', 'the JSON: "entries" must be a list, found "x"'),
        ('{"entry": []}', "the JSON must be the plugin's entries"),
        ("5", "expected the Liveblog plugin's entries as JSON"),
        ('["x"]', 'the JSON, entry 1 must be an object, found "x"'),
        ("[5]", "the JSON, entry 1 must be an object, found 5"),
        ('{"entries": []}', "the file holds no live blog entries with text"),
        (_entry(timestamp="abc"), 'the JSON, entry 1 (id 7): timestamp must be a time in seconds since 1970 (UTC), found "abc"'),
        (_entry(timestamp=1e300), "timestamp must be a time in seconds since 1970 (UTC), found 1e+300"),
        (_entry(timestamp=-5), "found -5"),
        (_entry(timestamp=True), "found true"),
        (_entry(timestamp=None), "found null"),
        (_entry(entry_time=[1]), "entry_time must be a time in seconds"),
        (_entry(id=None), "id must be the entry's number, found null"),
        (_entry(id=["7"]), "id must be the entry's number"),
        (_entry(type="publish"), 'type must be "new", "update" or "delete", found "publish"'),
        (_entry(authors="Jane"), 'authors must be a list, found "Jane"'),
        (_entry(render=5), "render must be text, found 5"),
        (_entry(content={"raw": "x"}), "content must be text"),
        ('{"entries": [{"id": "7", "render": "x"}]}', "(id 7) has no timestamp"),
        ('{"entries": [' + "1" * 5000 + "]}", "not valid JSON"),
        ("[" * 100_000, "nested too deeply"),
    ],
)  # fmt: skip
def test_wordpress_unreadable_json_is_refused(data: str, message: str) -> None:
    with pytest.raises(ImportFailed) as refused:
        parse_wordpress(data, slug="hollis")
    assert message in refused.value.message


# A WordPress export (WXR)


def test_wxr_header_comes_from_the_live_blog_item() -> None:
    imported = parse_wordpress(EXPORT, slug="hollis")
    blog = imported.blog
    assert blog.title == "Storm Hollis: live updates as the storm reaches the Brindle coast"
    assert blog.summary == (
        "Storm Hollis is the strongest storm to reach the Brindle coast in **30 years**.\n\n"
        "Follow our reporters in Port Avel and Sallow Bay."
    )
    assert blog.organisation == "The Harbour Ledger"
    assert [a.name for a in blog.authors] == ["Maren Okafor"]  # the login's display name
    assert blog.status is BlogStatus.ENDED  # the liveblog post meta says "archive"
    assert (blog.coverage_start, blog.coverage_end) == (
        _utc(2024, 3, 20, 5, 30),
        _utc(2024, 3, 20, 13),
    )
    assert (blog.created_at, blog.updated_at) == (_utc(2024, 3, 20, 5, 30), _utc(2024, 3, 20, 13))
    assert imported.warnings == [
        "the site's clock was UTC+01:00 when the post was written; the blog shows UTC times unless "
        "--timezone names the site's zone (such as 'Europe/Berlin')",
        "1 reader comment(s) of the post left out",
        "entry 508: an embedded <iframe> was left out",
    ]
    assert parse_wordpress(EXPORT, slug="h", title="Hollis").blog.title == "Hollis"


def test_wxr_entries_in_order_with_their_bylines() -> None:
    posts = _wordpress(parse_wordpress(EXPORT, slug="hollis"))
    assert [(p.post.published_at, p.post.status, _names(p.post)) for p in posts] == [
        (_utc(2024, 3, 20, 6, 45), PostStatus.PUBLISHED, ["Maren Okafor"]),
        (_utc(2024, 3, 20, 7, 10), PostStatus.PUBLISHED, ["Tobias Lindqvist", "Priya Castellano"]),
        (_utc(2024, 3, 20, 8, 30), PostStatus.DELETED, ["Maren Okafor"]),
        (_utc(2024, 3, 20, 9, 15), PostStatus.PUBLISHED, []),  # liveblog_hide_authors
    ]
    landfall = posts[0].post
    assert landfall.headline == "Landfall near Port Avel" and landfall.key_event
    assert landfall.body == (
        "The eye of the storm crossed the coast at 6:40 a.m., the Brindle Weather Office said.\n\n"
        "Gusts of up to 150 km/h were recorded at "
        "[the Avel station](https://weather.example.org/stations/avel)."
    )


def test_wxr_edit_chain_becomes_earlier_revisions() -> None:
    ferries = _wordpress(parse_wordpress(EXPORT, slug="hollis"))[1]
    assert ferries.post.body == (
        "Ferries between Port Avel and Tarn Island will not sail until *Friday*, the operator says."
    )
    assert ferries.post.headline == ""  # no heading, no bold first line
    assert ferries.post.updated_at == _utc(2024, 3, 20, 8, 5)
    # Oldest first, whatever their order in the file; the text as first published was
    # overwritten by WordPress, so the history starts at the first edit.
    assert [(r.created_at, r.body, r.user_name) for r in ferries.earlier] == [
        (_utc(2024, 3, 20, 7, 20), "Ferries between Port Avel and Tarn Island will not sail until Thursday.", "Tobias Lindqvist"),
        (_utc(2024, 3, 20, 7, 40), "Ferries between Port Avel and Tarn Island will not sail until Friday.", "Tobias Lindqvist"),
    ]  # fmt: skip


def test_wxr_deleted_entry_and_captioned_image() -> None:
    _, _, schools, pier = _wordpress(parse_wordpress(EXPORT, slug="hollis"))
    assert schools.post.status is PostStatus.DELETED
    assert schools.post.delete_reason == "deleted in WordPress"
    assert schools.post.body == "All schools in the district will stay closed on Thursday."
    assert schools.post.updated_at == _utc(2024, 3, 20, 9)  # the deleting comment's time
    assert pier.post.body == "The pier's last 40 metres have collapsed into the sea."
    assert pier.post.media == [
        Media(
            alt="The pier at Sallow Bay",
            caption="The damaged pier at Sallow Bay on Wednesday.",
            credit="",
            url="https://media.example.org/hollis/pier.jpg",
        )
    ]


def test_billion_laughs_is_refused_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(ImportFailed, match="declares a DTD or entities"):
        parse_wordpress((FIXTURES / "billion-laughs.xml").read_text(), slug="lol")
    assert time.monotonic() - started < 1


def test_external_entities_are_refused() -> None:
    xxe = '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss><channel><title>&x;</title></channel></rss>'
    with pytest.raises(ImportFailed, match="declares a DTD or entities"):
        parse_wordpress(xxe, slug="x")


def _wxr(items: str) -> str:
    return (
        '<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.1/"><channel><title>Site</title>'
        f"{items}</channel></rss>"
    )


def _comment(ident: str, content: str = "Text", gmt: str = "2024-03-20 10:00:00", meta: str = "", local: str = "") -> str:  # fmt: skip
    return (
        f"<wp:comment><wp:comment_id>{ident}</wp:comment_id><wp:comment_author>Ines</wp:comment_author>"
        f"<wp:comment_date>{local}</wp:comment_date><wp:comment_date_gmt>{gmt}</wp:comment_date_gmt>"
        f"<wp:comment_content><![CDATA[{content}]]></wp:comment_content>"
        f"<wp:comment_type>liveblog</wp:comment_type>{meta}</wp:comment>"
    )


def _item(comments: str, ident: str = "1") -> str:
    return f"<item><title>Live {ident}</title><wp:post_id>{ident}</wp:post_id>{comments}</item>"


def _replaces(ident: str) -> str:
    return f"<wp:commentmeta><wp:meta_key>liveblog_replaces</wp:meta_key><wp:meta_value>{ident}</wp:meta_value></wp:commentmeta>"


def test_wxr_other_versions_and_local_times() -> None:
    # WXR 1.1 namespace; a zero UTC time is read from the local time in --timezone.
    data = _wxr(_item(_comment("9", gmt="0000-00-00 00:00:00", local="2024-03-20 12:00:00")))
    imported = parse_wordpress(data, slug="x", timezone="Europe/Berlin")
    assert [p.published_at for p in _posts(imported)] == [_utc(2024, 3, 20, 11)]
    assert imported.blog.title == "Live 1" and imported.blog.organisation == "Site"
    with pytest.raises(
        ImportFailed, match=r"<wp:comment> 9 has no <wp:comment_date_gmt> time \(pass --timezone"
    ):
        parse_wordpress(data, slug="x")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("<rss><channel>", "line 1: not well-formed XML"),
        ("<feed/>", "expected a WordPress export (<rss><channel>…), found <feed>"),
        (_wxr("<item><title>Just a post</title></item>"), "the export holds no live blog"),
        (_wxr(_item(_comment("1"), "10") + _item(_comment("2"), "11")), 'the export holds 2 live blogs (10 "Live 10", 11 "Live 11")'),
        (_wxr(_item(_comment("x1"))), "<wp:comment> 1 of the post: <wp:comment_id> must be a number, found 'x1'"),
        (_wxr(_item(_comment("9", gmt="20 March 2024"))), '<wp:comment> 9: <wp:comment_date_gmt> "20 March 2024" is not a time such as 2023-03-20 18:57:00'),
        (_wxr(_item(_comment("9", gmt="9999-99-99 00:00:00"))), "is not a time such as"),
        (_wxr(_item(_comment("9", meta=_replaces("abc")))), "liveblog_replaces must be a comment id, found 'abc'"),
        (_wxr(_item(_comment("8", meta=_replaces("9")) + _comment("9", meta=_replaces("8")))), "replace each other in a loop"),
        (_wxr(_item(_comment("9", content="")))[:-20], "not well-formed XML"),
    ],
)  # fmt: skip
def test_wordpress_unreadable_exports_are_refused(data: str, message: str) -> None:
    with pytest.raises(ImportFailed) as refused:
        parse_wordpress(data, slug="x")
    assert message in refused.value.message


def test_wxr_entry_whose_text_is_gone_is_skipped() -> None:
    # Only an edit of entry 7 survives: the edit's time stands in for the published time.
    data = _wxr(_item(_comment("8", "Edited", meta=_replaces("7")) + _comment("9", "", meta=_replaces("6")) + _comment("10")))  # fmt: skip
    imported = parse_wordpress(data, slug="x")
    assert [(p.body, p.status) for p in _posts(imported)] == [
        ("Edited", PostStatus.PUBLISHED), ("Text", PostStatus.PUBLISHED),
    ]  # fmt: skip
    assert imported.warnings == [
        "entry 7's original comment is not in the export; its first edit's time is used as its published time",
        "entry 6 was deleted and has no text in the file; skipped",
    ]  # fmt: skip


@pytest.mark.parametrize("text", [PAGE, ENTRIES, EXPORT])
def test_truncated_files_fail_only_with_import_failed(text: str) -> None:
    """Cut anywhere, a file imports or is refused with ImportFailed, never another error."""
    for end in range(0, len(text), len(text) // 150):
        for parse in (parse_jsonld, parse_wordpress):
            with contextlib.suppress(ImportFailed):
                parse(text[:end], slug="cut", timezone="Europe/Berlin")


_HOSTILE: list[object] = [
    None,
    5,
    -1,
    1e300,
    True,
    "x",
    "",
    "9" * 400,
    [],
    [None],
    {},
    {"@id": "#nowhere"},
]


def _mutations(value: object) -> Iterator[object]:
    """`value` with one part at a time replaced by each hostile value."""
    if isinstance(value, dict):
        for key, item in value.items():
            for hostile in [*_HOSTILE, *_mutations(item)]:
                yield {**value, key: hostile}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for hostile in [*_HOSTILE, *_mutations(item)]:
                yield [*value[:index], hostile, *value[index + 1 :]]


def test_fields_of_the_wrong_type_fail_only_with_import_failed() -> None:
    """Every field in turn (at any depth) replaced by a value of another type or size: the file
    imports or is refused with ImportFailed, never another error."""
    for pages in _mutations(json.loads(ENTRIES)):
        with contextlib.suppress(ImportFailed):
            parse_wordpress(json.dumps(pages), slug="x")
    start = PAGE.index('{\n  "@context"')
    end = PAGE.index("</script>", start)
    graph = json.loads(PAGE[start:end])
    for mutated in _mutations(graph):
        # As the page does, "<" is escaped so that no "</script>" in a body ends the script.
        page = PAGE[:start] + json.dumps(mutated).replace("<", "\\u003C") + PAGE[end:]
        with contextlib.suppress(ImportFailed):
            parse_jsonld(page, slug="x", timezone="Europe/Berlin")


# HTML → Markdown


def test_html_becomes_conservative_markdown() -> None:
    converted = html_to_markdown(
        '<p onclick="steal()">Prices *rose* 5% in <b>[March]</b> &amp; <i>April</i>, '
        '<a href="javascript:alert(1)">see</a> <a href="/relative">here</a>.</p>'
        "<p>1. not a list<br>- nor this<br># nor a heading</p>"
        '<blockquote><p>Quoted</p><ol start="3"><li>three</li><li>four</li></ol></blockquote>'
        "<style>p{color:red}</style><script>alert(1)</script><p>&lt;script&gt; stays words</p>"
        '<img src="data:image/png;base64,AAAA" alt="inline"><img src="HTTPS://e.example/a.png" alt="A">'
    )
    assert converted.markdown == (
        "Prices \\*rose\\* 5% in **\\[March\\]** & *April*, see here.\n\n"
        "1\\. not a list\\\n\\- nor this\\\n\\# nor a heading\n\n"
        "> Quoted\n>\n> 3. three\n> 4. four\n\n"
        "\\<script> stays words"
    )
    assert converted.media == [Media(alt="A", caption="", credit="", url="https://e.example/a.png")]


def test_odd_markup_and_characters_do_not_break_the_readers() -> None:
    # Python 3.11's HTMLParser raises AssertionError on an unknown "<![" section.
    assert (
        html_to_markdown("<![if !IE]><p>old</p><![endif]><![ x <p>new</p>").markdown == "old\n\nnew"
    )
    ld = '<![ oops ><script type="application/ld+json">{"@type": "LiveBlogPosting", "headline": "T\\ud800\\u0007", "liveBlogUpdate": [{"headline": "H\\udc00", "datePublished": "2024-03-20T15:00:00Z", "author": "Ines\\ud800"}]}</script>'
    imported = parse_jsonld(ld, slug="x")
    # Lone surrogates (which UTF-8 cannot store) and control characters are removed.
    assert imported.blog.title == "T"
    assert [(p.headline, _names(p)) for p in _posts(imported)] == [("H", ["Ines"])]
    entries = json.dumps(
        {
            "entries": [
                {
                    "id": "1",
                    "render": "<p>a\ud800b</p>",
                    "timestamp": 1710914400,
                    "authors": [{"name": "X\udc00"}],
                }
            ]
        }
    )
    assert [(p.body, _names(p)) for p in _posts(parse_wordpress(entries, slug="x"))] == [
        ("ab", ["X"])
    ]
    export = _wxr(_item(_comment("9", "Caf\udce9")))
    assert [p.body for p in _posts(parse_wordpress(export, slug="x"))] == ["Caf"]


def test_html_nested_too_deeply_is_flattened() -> None:
    # Beyond 48 levels elements are ignored (their words kept), so rendering cannot overflow.
    converted = html_to_markdown("<div>" * 50_000 + "deep <b>words</b>" + "</div>" * 50_000)
    assert converted.markdown == "deep words"
    shallow = html_to_markdown("<div>" * 20 + "deep <b>words</b>" + "</div>" * 20)
    assert shallow.markdown == "deep **words**"


# Fetching a page


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        # The client hangs up early on /slow and /huge, as it should.
        with contextlib.suppress(OSError):
            self._answer()

    def _answer(self) -> None:
        if self.path == "/page":
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")
        elif self.path == "/latin1":
            self._send(
                200, "<p>Café Öresund</p>".encode("latin-1"), "text/html; charset=ISO-8859-1"
            )
        elif self.path == "/meta-charset":
            body = '<meta charset="windows-1252"><p>\u201cquoted\u201d</p>'.encode("cp1252")
            self._send(200, body, "text/html")
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/page")
            self.end_headers()
        elif self.path.startswith("/loop"):
            self.send_response(302)
            self.send_header("Location", f"/loop{len(self.path)}")
            self.end_headers()
        elif self.path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        elif self.path == "/declared-huge":
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
        elif self.path == "/huge":  # no Content-Length: the body ends when the server closes
            self.send_response(200)
            self.end_headers()
            for _ in range(3000):
                self.wfile.write(b"x" * 10_000)
        elif self.path == "/slow":
            self.send_response(200)
            self.end_headers()
            for _ in range(200):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self._send(404, b"not here", "text/plain")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client hanging up on /slow or /huge is the point of those pages


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


def test_fetch_page_reads_the_page_and_follows_redirects(site: str) -> None:
    assert fetch_page(f"{site}/page") == PAGE
    assert fetch_page(f"{site}/moved") == PAGE
    assert fetch_page(f"{site}/latin1") == "<p>Café Öresund</p>"
    assert fetch_page(f"{site}/meta-charset").endswith("<p>\u201cquoted\u201d</p>")
    imported = parse_jsonld(fetch_page(f"{site}/page"), slug="hollis", timezone="Europe/Berlin")
    assert len(_posts(imported)) == 5


def test_fetch_page_refuses_what_it_cannot_read(site: str) -> None:
    with pytest.raises(ImportFailed, match=r"/missing answered 404 Not Found"):
        fetch_page(f"{site}/missing")
    with pytest.raises(ImportFailed, match="redirects more than 5 times"):
        fetch_page(f"{site}/loop")
    with pytest.raises(ImportFailed, match="redirects to an address that is not http"):
        fetch_page(f"{site}/to-file")
    with pytest.raises(ImportFailed, match="is larger than 1,000,000 bytes"):
        fetch_page(f"{site}/declared-huge", max_bytes=1_000_000)
    with pytest.raises(ImportFailed, match="is larger than 1,000,000 bytes"):
        fetch_page(f"{site}/huge", max_bytes=1_000_000)


def test_fetch_page_gives_up_on_a_slow_server(site: str) -> None:
    started = time.monotonic()
    with pytest.raises(ImportFailed, match=r"took more than 0\.5 s to send its page"):
        fetch_page(f"{site}/slow", timeout=0.5)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/page", "javascript:alert(1)", "/page", "http://", ""],
)
def test_fetch_page_only_fetches_http(url: str) -> None:
    with pytest.raises(ImportFailed, match="only http:// and https:// pages can be fetched"):
        fetch_page(url)


def test_fetch_page_reports_a_closed_port() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ImportFailed, match=r"could not connect to 127\.0\.0\.1"):
        fetch_page(f"http://127.0.0.1:{port}/", timeout=2)
