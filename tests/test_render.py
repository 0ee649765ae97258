"""Rendering: AP-style times in the blog's zone, and Markdown that can never carry a script."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from dateline import render
from dateline.errors import Invalid

# Real payloads from public XSS cheat sheets; none may survive as active markup.
XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "![x](javascript:alert(1))",
    '<iframe src="https://evil.example"></iframe>',
    "<body onload=alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    '<object data="javascript:alert(1)"></object>',
    '<form action="javascript:alert(1)"><input type=submit></form>',
    "<<script>script>alert(1)<</script>/script>",
    '<IMG """><SCRIPT>alert(1)</SCRIPT>">',
    "<meta http-equiv=refresh content=0;url=javascript:alert(1)>",
    '<base href="javascript:alert(1)//">',
]


class _Markup(HTMLParser):
    """Every tag and attribute a browser would build from the HTML (text is inert)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]


def assert_inert(html: str) -> None:
    markup = _Markup()
    markup.feed(html)
    active = {"script", "iframe", "object", "embed", "form", "input", "meta", "base", "svg",
              "math", "style", "link", "body", "details", "frame", "frameset"}  # fmt: skip
    assert not active & set(markup.tags), html
    for name, value in markup.attrs:
        assert not name.startswith("on") and name != "style", html
        if name in ("href", "src", "action", "formaction", "data"):
            assert (
                value.split(":", 1)[0].lower() in ("http", "https", "mailto") or ":" not in value
            ), html


@pytest.mark.parametrize("payload", XSS)
def test_hostile_markdown_renders_inert(payload: str) -> None:
    html = render.markdown_to_html(f"Before\n\n{payload}\n\nAfter")
    assert_inert(html)
    assert "Before" in html  # (an unclosed <style> may swallow what follows it: inert either way)


def test_markdown_keeps_what_journalists_write() -> None:
    html = render.markdown_to_html(
        "“Russia alone could end its war today,” he said.\n\n> A quote\n\n[CNN](https://cnn.com)"
    )
    assert "<p>“Russia alone could end its war today,” he said.</p>" in html
    assert "<blockquote>" in html
    assert '<a href="https://cnn.com" rel="noopener noreferrer nofollow">CNN</a>' in html


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("utc", "zone", "expected"),
    [
        (_utc(2023, 3, 20, 18, 57), "America/New_York", "2:57 p.m. ET, March 20, 2023"),
        (_utc(2023, 3, 21, 4, 3), "America/New_York", "12:03 a.m. ET, March 21, 2023"),
        (_utc(2023, 1, 5, 17, 0), "America/New_York", "12:00 p.m. ET, January 5, 2023"),
        (_utc(2023, 7, 1, 9, 5), "America/Los_Angeles", "2:05 a.m. PT, July 1, 2023"),
        (_utc(2023, 7, 1, 9, 5), "Europe/London", "10:05 a.m. BST, July 1, 2023"),
        (_utc(2023, 3, 20, 9, 5), "Europe/Kyiv", "11:05 a.m. EET, March 20, 2023"),
        (_utc(2023, 3, 20, 9, 5), "Asia/Dubai", "1:05 p.m. UTC+4, March 20, 2023"),
        (_utc(2023, 3, 20, 9, 5), "UTC", "9:05 a.m. UTC, March 20, 2023"),
    ],
)  # fmt: skip
def test_times_read_in_ap_style_in_the_blogs_zone(utc: datetime, zone: str, expected: str) -> None:
    assert render.ap_datetime(utc, zone) == expected


def test_a_zones_names_by_offset_are_the_servers_for_a_pages_script() -> None:
    assert render.zone_names("Europe/London", _utc(2026, 12, 2)) == {0: "GMT", 60: "BST"}
    assert render.zone_names("America/New_York", _utc(2026, 12, 2)) == {-300: "ET", -240: "ET"}
    assert render.zone_names("Asia/Dubai", _utc(2026, 12, 2)) == {240: "UTC+4"}


def test_unknown_time_zones_name_a_fix() -> None:
    with pytest.raises(Invalid, match="use an IANA name such as 'America/New_York'"):
        render.zone("Eastern")


def test_bylines_and_contributor_lines_read_like_the_seed() -> None:
    # The typographic apostrophe, always: the seed mixes "CNN’s" and "CNN's".
    assert (
        render.byline_text(["Maria Kostenko"], "Kyiv", "CNN") == "From CNN’s Maria Kostenko in Kyiv"
    )
    assert render.byline_text(["A", "B", "C"], None, "CNN") == "From CNN’s A, B and C"
    assert render.byline_text([], "Kyiv", "CNN") == ""
    assert (
        render.contributors_text(["Svitlana Vlasova", "Tim Lister"], "CNN")
        == "CNN’s Svitlana Vlasova and Tim Lister contributed reporting to this post."
    )
    assert render.possessive("Reuters") == "Reuters’"


def test_pictures_in_the_text_come_from_this_servers_media_only() -> None:
    # Readers' browsers never ask a third party for a picture written into a post's text; a
    # picture from elsewhere becomes a link to it.
    assert render.markdown_to_html("![a pic](http://tracker.example/x.png)") == (
        '<p><a href="http://tracker.example/x.png" rel="noopener noreferrer nofollow">a pic</a></p>'
    )
    own = "/media/0123456789abcdef0123456789abcdef.jpg"
    assert f'<img src="{own}" alt="ours">' in render.markdown_to_html(f"![ours]({own})")
    raw = render.markdown_to_html('<img src="https://tracker.example/x.png" alt="x">')
    assert "tracker.example" not in raw


def test_a_quotation_ending_with_its_speaker_gets_a_cite() -> None:
    html = render.markdown_to_html(
        '> "We are not going to let that stand."\n> — John Kirby, at a White House briefing'
    )
    assert html == (
        '<figure>\n<blockquote>\n<p>"We are not going to let that stand."</p>\n</blockquote>\n'
        "<figcaption>— <cite>John Kirby, at a White House briefing</cite></figcaption>\n</figure>"
    )
    # The speaker as its own paragraph, and written with two hyphens, is the same.
    assert "<cite>Kirby</cite>" in render.markdown_to_html("> Words.\n>\n> -- Kirby")
    # A quotation without a speaker stays a plain blockquote.
    assert render.markdown_to_html("> Words.") == "<blockquote>\n<p>Words.</p>\n</blockquote>"
    # The speaker's line is text: markup in it is sanitised like the rest.
    assert "<script" not in render.markdown_to_html("> Words.\n> — <script>x</script>Kirby")


def test_a_quotation_is_text_for_structured_data() -> None:
    text = render.plain_text("> Words.\n> — John Kirby, at a White House briefing")
    assert "Words." in text and "— John Kirby, at a White House briefing" in text


def test_bare_urls_become_links_but_bare_domains_do_not() -> None:
    html = render.markdown_to_html("See https://example.org/a/very/long/path?x=1 and bbc.co.uk.")
    assert (
        '<a href="https://example.org/a/very/long/path?x=1" rel="noopener noreferrer nofollow">'
        in html
    )
    assert "bbc.co.uk." in html and 'href="http://bbc.co.uk"' not in html
    assert "<a" not in render.markdown_to_html("`https://in.code/`").replace("<code>", "")


def test_urls_alone_on_a_line_are_found_outside_code() -> None:
    body = "Intro\nhttps://a.example/1\n\n```\nhttps://in.code/\n```\n    https://indented.code/\n<https://b.example/2>\nhttps://a.example/1"
    assert render.lone_urls(body) == ["https://a.example/1", "https://b.example/2"]
    html = render.markdown_to_html(body, embed=lambda url: f"<figure>{url}</figure>")
    assert html.count("<figure>https://a.example/1</figure>") == 2
    assert "<p>Intro</p>" in html and "https://in.code/" in html
