"""Properties over generated input (hypothesis): the text importer answers any text with a blog or
an error that names the line, never a crash; the Markdown renderer lets no script, handler or
dangerous URL through, whatever it is given; and any event, whatever its text, becomes an SSE
frame that an EventSource parser (httpx-sse's, written to the WHATWG algorithm) decodes back to
exactly the same JSON."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import orjson
from httpx_sse._decoders import SSEDecoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dateline import render
from dateline.errors import DatelineError
from dateline.importers.text import parse_text
from dateline.web.live.encoder import sse_frame
from tests.conftest import SEED

SEED_LINES = SEED.read_text("utf-8").splitlines()
# Text as writers paste it: any character, line breaks of every kind, markup, entities.
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=("Cs",)),  # text is valid Unicode by then
        st.sampled_from(["\n", "\r", "\u2028", "\u0085", "<", ">", "&", '"', "'", "`"]),
    ),
    max_size=300,
)
MARKUP = st.lists(
    st.sampled_from(
        [
            "<script>",
            "</script>",
            "<img src=x onerror=alert(1)>",
            "javascript:",
            "<svg onload=",
            "[a](",
            ")",
            "![b](",
            '<a href="',
            '">',
            "&#106;",
            "data:text/html,",
            "<style>",
            "<iframe",
            " on",
            "x=",
            "`",
            "\n\n",
            "<!--",
            "-->",
            "<![CDATA[",
            "{{",
            "}}",
            "\\",
        ]
    )
    | TEXT,
    max_size=12,
).map("".join)


@given(st.lists(st.one_of(st.sampled_from(SEED_LINES), TEXT), max_size=60))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_importer_reads_any_text_or_says_which_line_is_wrong(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        imported = parse_text(text, slug="fuzzed")
    except DatelineError as exc:
        assert exc.status == 422 and exc.message
        return
    assert imported.blog.title.strip()
    for post in imported.posts:
        assert post.published_at is not None and post.published_at.tzinfo is not None


@given(st.lists(st.sampled_from(SEED_LINES), min_size=0, max_size=5), st.randoms())
@settings(max_examples=200, deadline=None)
def test_the_seed_with_lines_dropped_or_repeated_still_imports_or_names_the_line(
    extra: list[str], rng: Any
) -> None:
    lines = list(SEED_LINES)
    for _ in range(rng.randint(0, 6)):
        i = rng.randrange(len(lines))
        if rng.random() < 0.5:
            del lines[i]
        else:
            lines.insert(i, rng.choice(extra or lines))
    try:
        parse_text("\n".join(lines), slug="mutated")
    except DatelineError as exc:
        assert exc.status == 422 and exc.message


class _Dangerous(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "iframe", "object", "embed", "svg", "math", "form", "base"):
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc"):
                self.found.append(f"{tag}[{name}]")
            # As a browser reads it: control characters and spaces dropped, then a scheme is a
            # letter followed by letters, digits, + . or - before the colon ("0javascript:" is a
            # relative path, not a scheme).
            url = re.sub(r"[\x00-\x20]", "", value or "").lower()
            scheme = re.match(r"^([a-z][a-z0-9+.-]*):", url)
            if name in ("href", "src") and scheme and scheme[1] not in ("http", "https", "mailto"):
                self.found.append(f"{tag}[{name}={url[:30]}]")


@given(MARKUP)
@settings(max_examples=500, deadline=None)
def test_rendered_markdown_never_carries_a_script(source: str) -> None:
    html = render.markdown_to_html(source)
    parser = _Dangerous()
    parser.feed(html)
    assert not parser.found, (source, html)
    assert render.sanitise(html) == html  # already as clean as it gets


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # A named function: hypothesis reads a lambda's source to check that it recurses, and
    # misreads one written inside a multi-line call.
    return st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4)


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT, _nested, max_leaves=20
)


@given(st.integers(1, 2**31 - 1), st.dictionaries(TEXT, JSON_VALUE, max_size=6), TEXT)
@settings(max_examples=500, deadline=None)
def test_any_event_survives_the_sse_framing_exactly(
    seq: int, payload: dict[str, Any], html: str
) -> None:
    data = {"seq": seq, "type": "post.published", **payload, "html": html}
    frame = sse_frame(seq, data).decode()
    decoder = SSEDecoder()
    events = []
    # The stream's lines end with CR LF, LF or CR (the spec's three), and the frame ends with
    # an empty line.
    *lines, rest = re.split(r"\r\n|\n|\r", frame)
    assert rest == ""  # the frame ends with a line break
    for line in lines:
        event = decoder.decode(line)
        if event is not None:
            events.append(event)
    assert len(events) == 1
    assert events[0].id == str(seq)
    assert orjson.loads(events[0].data) == orjson.loads(orjson.dumps(data))
