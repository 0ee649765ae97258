"""The text importer reads the real-world variants of live-blog text dumps (fixtures under
tests/fixtures/text/, invented stories), refuses what it cannot read naming the line, and
never fails on hostile text with anything but ImportFailed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dateline import render
from dateline.errors import ImportFailed
from dateline.importers import ImportedBlog
from dateline.importers.clocks import ZONES
from dateline.importers.text import parse_text
from dateline.model import Post

FIXTURES = Path(__file__).parent / "fixtures" / "text"
HEADER = (
    "March 20, 2023 - A test blog\n\nBy Ann Poe, CNN\n\nUpdated 11:58 p.m. ET, March 20, 2023\n\n"
)
CAPTURED = datetime.fromisoformat("2023-11-08T00:20:00-05:00")


def _utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


def _read(
    text: str, *, timezone: str | None = None, captured_at: datetime | None = None
) -> tuple[ImportedBlog, list[Post]]:
    imported = parse_text(text, slug="t", timezone=timezone, captured_at=captured_at)
    items = list(imported.posts)
    posts = [p for p in items if isinstance(p, Post)]
    assert len(posts) == len(items)  # the text format has no earlier versions
    return imported, posts


def _post(lines: str, timezone: str | None = None) -> Post:
    """The one post of HEADER followed by `lines`."""
    (post,) = _read(HEADER + lines, timezone=timezone)[1]
    return post


def _refusal(text: str, captured_at: datetime | None = None) -> ImportFailed:
    with pytest.raises(ImportFailed) as caught:
        _read(text, captured_at=captured_at)
    return caught.value


# -- the bugs of the hostile-file review -------------------------------------------------------


def test_each_time_line_is_read_in_the_zone_it_names() -> None:
    # The header is in ET; a post written in PT is 21:57Z, not 18:57Z.
    post = _post("2:57 p.m. PT, March 20, 2023\nWest coast reaction\n")
    assert post.published_at == _utc(2023, 3, 20, 21, 57)
    # --timezone sets the blog's display zone but not the meaning of an unambiguous line.
    imported, (again,) = _read(HEADER + "2:57 p.m. PT, March 20, 2023\nH\n", timezone="Asia/Tokyo")
    assert again.published_at == _utc(2023, 3, 20, 21, 57)
    assert imported.blog.timezone == "Asia/Tokyo"
    assert imported.blog.updated_at == _utc(2023, 3, 21, 3, 58)  # the header's ET, too


@pytest.mark.parametrize(
    ("line", "timezone", "expected"),
    [
        ("9:00 a.m. CST, March 20, 2023", None, _utc(2023, 3, 20, 14, 0)),  # Chicago, in CDT
        ("9:00 a.m. CST, March 20, 2023", "Asia/Shanghai", _utc(2023, 3, 20, 1, 0)),
        # New York never says CST, so the flag does not change its meaning.
        ("9:00 a.m. CST, March 20, 2023", "America/New_York", _utc(2023, 3, 20, 14, 0)),
        ("9:00 a.m. IST, March 20, 2023", None, _utc(2023, 3, 20, 3, 30)),  # India
        ("9:00 a.m. IST, March 20, 2023", "Asia/Jerusalem", _utc(2023, 3, 20, 7, 0)),
        ("9:00 a.m. IDT, July 20, 2023", "Asia/Jerusalem", _utc(2023, 7, 20, 6, 0)),  # not listed
        ("9:00 a.m. IST, July 20, 2023", "Europe/Dublin", _utc(2023, 7, 20, 8, 0)),
    ],
)
def test_the_timezone_flag_decides_what_an_ambiguous_abbreviation_means(
    line: str, timezone: str | None, expected: datetime
) -> None:
    assert _post(f"{line}\nHeadline\n", timezone=timezone).published_at == expected


def test_an_unknown_zone_is_refused_naming_the_line_and_the_known_ones() -> None:
    error = _refusal(HEADER + "2:57 p.m. XYZ, March 20, 2023\nHeadline\n")
    assert error.line == 7
    assert "time zone 'XYZ' is unknown" in error.message
    assert "known: ET, EDT, EST, CT" in error.message and "NZDT" in error.message
    assert "--timezone" in error.message
    # IDT is not listed: without a zone that uses it, it is unknown.
    assert "'IDT' is unknown" in _refusal(HEADER + "9:00 a.m. IDT, July 20, 2023\nH\n").message
    # So is a --timezone that names no zone: the same kind of error as any unreadable input.
    with pytest.raises(ImportFailed, match="time zone 'Eastern' is unknown"):
        parse_text(
            HEADER + "2:57 p.m. ET, March 20, 2023\nHeadline\n", slug="x", timezone="Eastern"
        )


def test_a_leading_byte_order_mark_is_dropped(seed_text: str) -> None:
    imported, posts = _read("\ufeff" + seed_text)
    assert imported.blog.title.startswith("Xi and Putin meet in Moscow")
    assert len(posts) == 9


def test_lines_of_any_length_are_read_in_one_scan() -> None:
    # Measured by hand (`time`): the 100 KB line took 30.9 s before, 0.07 s now.
    byline_ish = "From CNN's " + "a in b" * 16_667 + ","
    huge = "x" * 1_000_000
    post = _post(f"2:57 p.m. ET, March 20, 2023\nHeadline\n{byline_ish}\n{huge}\n")
    # Too long to be a byline: both lines are body text.
    assert post.byline.people == () and post.byline.location is None
    assert post.body == f"{byline_ish}\n\n{huge}"
    long_credit = "A caption." + " (x" * 200_000
    post = _post(f"2:57 p.m. ET, March 20, 2023\nH\nA caption.\n{long_credit})\n")
    assert post.media == [] and post.body.endswith(" (x)")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("11:30 p.m. ET, December 31, 9999", "the year 9999 is out of range (1900–2999)"),
        ("2:57 p.m. ET, December 31, 1899", "the year 1899 is out of range"),
        ("9999 days ago", "falls before the year 1900"),
    ],
)
def test_years_out_of_range_are_refused_naming_the_line(line: str, words: str) -> None:
    error = _refusal(HEADER + f"{line}\nHeadline\n", captured_at=datetime(1910, 1, 1, tzinfo=UTC))
    assert error.line == 7 and words in error.message


@pytest.mark.parametrize("hostile", ["\x00", "\x1b[2J", "\udcff", "\x7f", "\u200b", "\ufeff"])
def test_hostile_characters_are_kept_for_the_newsroom_to_judge(hostile: str) -> None:
    # In text the importer keeps them (the newsroom refuses control characters) ...
    post = _post(f"2:57 p.m. ET, March 20, 2023\nHead{hostile}line\nBody {hostile} text\n")
    assert post.headline == f"Head{hostile}line" and post.body == f"Body {hostile} text"
    assert post.published_at == _utc(2023, 3, 20, 18, 57)
    # ... in a time line they make it unreadable, which is said with the line.
    error = _refusal(HEADER + f"2:57 p.m. ET, March 20, 20{hostile}23\nHeadline\n")
    assert error.line == 7 and "expected a time such as" in error.message
    # Anywhere in the header, only ImportFailed (or a blog) comes out.
    lines = HEADER.splitlines()
    for i in range(len(lines)):
        text = "\n".join([*lines[:i], lines[i] + hostile, *lines[i + 1 :]])
        try:
            imported, posts = _read(text + "\n2:57 p.m. ET, March 20, 2023\nH\n")
        except ImportFailed as exc:
            assert exc.line == i + 1
        else:
            assert [p.headline for p in posts] == ["H"] and imported.blog.updated_at


def test_line_separators_other_than_line_breaks_are_spaces() -> None:
    post = _post("2:57 p.m. ET, March 20, 2023\nHead\u2028line\nOne\x85two\n")
    assert (post.headline, post.body) == ("Head line", "One two")


# -- the variants ------------------------------------------------------------------------------


def test_a_live_updates_header_with_published_and_updated_lines() -> None:
    imported, _ = _read(_fixture("storm-odette.txt"))
    blog = imported.blog
    # "Live Updates" on its own line, no date before the title, " - CNN" after it.
    assert blog.title == "Storm Odette floods Harlow Bay as rivers keep rising"
    assert blog.organisation == "CNN" and blog.timezone == "America/New_York"
    assert [a.name for a in blog.authors] == ["Dana Whitfield", "Omar Reyes", "Priya Nandakumar"]
    assert blog.updated_at == _utc(2023, 9, 21, 4, 40)  # the later of Published and Updated
    assert blog.created_at == _utc(2023, 9, 20, 10, 15)  # Published
    assert (blog.post_count, imported.warnings) == (6, [])
    # "What we covered here" before the first post is the summary, its bullets one list.
    assert blog.summary == (
        "- Storm Odette made landfall near Harlow Bay early Wednesday with winds of 85 mph.\n"
        "- More than 40,000 homes and businesses lost power across the county.\n"
        "- The Harlow River is expected to crest on Thursday afternoon."
    )


def test_time_lines_of_every_shape_in_file_order() -> None:
    _, posts = _read(_fixture("storm-odette.txt"))
    assert [(p.published_at, p.updated_at, p.headline) for p in posts] == [
        # "12:03 AM ET, Thu September 21, 2023"
        (_utc(2023, 9, 21, 4, 3), _utc(2023, 9, 21, 4, 3), "Harlow Bay mayor orders overnight curfew"),
        # "11:50 p.m. ET, September 20, 2023": the day before the header's date, accepted
        (_utc(2023, 9, 21, 3, 50), _utc(2023, 9, 21, 3, 50), "Rescuers pull family of four from flooded home on River Road"),
        # "2:57 pm ET, Sep 20, 2023"
        (_utc(2023, 9, 20, 18, 57), _utc(2023, 9, 20, 18, 57), "Governor asks for a federal disaster declaration"),
        # "10:20 a.m. PT, September 20, 2023" in an ET file
        (_utc(2023, 9, 20, 17, 20), _utc(2023, 9, 20, 17, 20), "Utility crews from California head east to help restore power"),
        # "Updated 9:05 AM EDT, Wed September 20, 2023" as the post's only time
        (_utc(2023, 9, 20, 13, 5), _utc(2023, 9, 20, 13, 5), "Harlow River rises 6 feet overnight"),
        # "8:30 a.m. ET, Sept. 20, 2023" then "Updated 9:10 a.m. ET, Sept. 20, 2023"
        (_utc(2023, 9, 20, 12, 30), _utc(2023, 9, 20, 13, 10), "Storm Odette makes landfall near Harlow Bay"),
    ]  # fmt: skip


def test_page_chrome_is_dropped_and_pinned_and_key_event_flags_are_kept() -> None:
    _, posts = _read(_fixture("storm-odette.txt"))
    assert [(p.pinned, p.key_event) for p in posts] == [
        (True, False),  # "Pinned" just before its time line
        (False, False),
        (False, True),  # "Key event" just after its time line
        (False, False),
        (False, False),
        (False, False),
    ]
    everything = "\n".join(p.headline + "\n" + p.body for p in posts)
    for chrome in ("Link Copied", "Copy link", "Share", "Advertisement", "Ad Feedback",
                   "Show more", "Dropdown arrow", "New Updates", "SORT BY", "Pinned", "Key event"):  # fmt: skip
        assert chrome not in everything


def test_bylines_images_and_contributor_lines() -> None:
    _, posts = _read(_fixture("storm-odette.txt"))
    bylines = [([x.name for x in p.byline.people], p.byline.location) for p in posts]
    assert bylines == [
        ([], None),  # "From CNN staff": no person, no "staff"
        (["Omar Reyes", "Lena Brandt"], "Harlow Bay, Maine"),  # the location keeps its comma
        (["Priya Nandakumar"], None),  # "By Priya Nandakumar, CNN"
        (["Jae-won Park"], "Los Angeles"),
        (["Dana Whitfield"], None),
        ([], None),  # no byline line: the first line is body text
    ]
    crews = posts[3]
    assert [(m.caption, m.credit, m.url) for m in crews.media] == [
        ("Line workers load a truck in Fresno, California, on Wednesday.", "Marco Ruiz/Valley Herald", None)
    ]  # fmt: skip
    assert crews.contributors == ["Tomás Ibarra"]
    assert "Fresno, California, on Wednesday" not in crews.body
    assert "contributed reporting" not in crews.body
    assert posts[5].body.startswith("Storm Odette came ashore")


@pytest.mark.parametrize(
    ("line", "people", "location"),
    [
        ("From CNN’s Jane Doe and John Roe in Kyiv, Ukraine", ["Jane Doe", "John Roe"], "Kyiv, Ukraine"),
        ("From CNN's Jane Doe, John Roe, and Ann Poe", ["Jane Doe", "John Roe", "Ann Poe"], None),
        ("From CNN’s Jane Doe in Kyiv and John Roe in Moscow", ["Jane Doe", "John Roe"], "Kyiv and Moscow"),
        ("From CNN staff in London", [], "London"),
        ("From CNN’s staff", [], None),
        ("By Jane Doe and John Roe, CNN", ["Jane Doe", "John Roe"], None),
    ],
)  # fmt: skip
def test_byline_shapes(line: str, people: list[str], location: str | None) -> None:
    post = _post(f"2:57 p.m. ET, March 20, 2023\nHeadline\n{line}\nBody.\n")
    assert ([p.name for p in post.byline.people], post.byline.location) == (people, location)
    assert post.body == "Body."


@pytest.mark.parametrize(
    "line",
    [
        "From Russia’s point of view, the talks failed.",  # a sentence, not a byline
        "By Tuesday, officials said the bridge would reopen.",
        "From the harbour, smoke could be seen for miles.",
    ],
)
def test_sentences_that_start_like_bylines_stay_body_text(line: str) -> None:
    post = _post(f"2:57 p.m. ET, March 20, 2023\nHeadline\n{line}\n")
    assert post.byline.people == () and post.body == line


def test_bullets_and_numbered_lists_become_markdown_lists() -> None:
    _, posts = _read(_fixture("storm-odette.txt"))
    assert posts[0].body == (
        "Mayor Celia Brandt ordered residents to stay off the roads between midnight and 6 a.m. "
        "while crews clear fallen trees.\n\n"
        "Here are the latest developments:\n\n"
        "- Two shelters at Harlow Bay High School and the Civic Arena are open.\n"
        "- The county’s emergency line is taking calls around the clock.\n"
        "- Schools will stay closed on Thursday."
    )
    assert posts[2].body == (
        "Gov. Ruth Ellery said the state would ask for federal help in three steps:\n\n"
        "1. Emergency funds for shelters and debris removal.\n"
        "2. Low-interest loans for homeowners and small businesses.\n"
        "3. A federal team to assess damage to bridges.\n\n"
        # One numbered line alone is a sentence that happens to start with a number.
        "1\\. The letter was sent before noon, her office said."
    )
    assert posts[3].body.endswith(
        "\n\n- They are expected to arrive on Friday.\n- Each crew brings its own bucket truck."
    )
    html = render.markdown_to_html(posts[2].body)
    assert html.count("<li>") == 3 and "<ol>" in html and "<p>1. The letter" in html
    assert render.markdown_to_html(posts[0].body).count("<li>") == 3
    post = _post("2:57 p.m. ET, March 20, 2023\nH\n* one\n\n– two\n\n•three\n")
    assert post.body == "- one\n- two\n- three"


def test_relative_times_count_back_from_when_the_page_was_saved() -> None:
    imported, posts = _read(_fixture("rail-strike-relative.txt"), captured_at=CAPTURED)
    assert (
        imported.blog.title == "Rail strike halts trains across the Vessen region"
    )  # "Live updates:"
    assert [(p.published_at, p.headline) for p in posts] == [
        (_utc(2023, 11, 8, 5, 20), "Union says talks will resume at 9 a.m."),  # Just now
        (_utc(2023, 11, 8, 5, 17), "Last night trains cancelled"),  # 3 min ago
        # 45 mins ago: 11:35 p.m. ET the day before the page was saved
        (_utc(2023, 11, 8, 4, 35), "Commuters stranded at Vessen Central"),
        (_utc(2023, 11, 8, 4, 8), "Rail operator offers replacement buses"),  # 1 hr 12 min ago
        (_utc(2023, 11, 8, 3, 20), "Transport minister calls strike “regrettable”"),  # 2 hrs ago
        (_utc(2023, 11, 7, 11, 36), "Drivers walk out at 6:30 a.m."),  # 17 hr 44 min ago
        (_utc(2023, 11, 7, 14, 30), "What the union is asking for"),  # an absolute time
    ]
    assert imported.warnings == []


def test_a_relative_time_without_captured_at_is_refused_saying_how_to_fix_it() -> None:
    error = _refusal(_fixture("rail-strike-relative.txt"))
    assert error.message == (
        'line 10: "Just now" is a relative time; pass --captured-at with the time the page was '
        "saved, such as 2023-09-20T14:05:00-04:00"
    )
    assert "UTC offset" in _refusal(HEADER, captured_at=datetime(2023, 1, 1)).message


@pytest.mark.parametrize(
    "name", ["port-strike-dateless.txt", "port-strike-dateless-oldest-first.txt"]
)
def test_times_without_a_date_step_back_a_day_across_midnight(name: str) -> None:
    _, posts = _read(_fixture(name))
    dated = sorted(((p.published_at, p.headline) for p in posts), reverse=True)
    assert dated == [
        (_utc(2024, 3, 21, 4, 10), "Night shift at Kessling joins the strike"),  # 12:10 a.m.
        (_utc(2024, 3, 21, 3, 45), "Union leader: “We are ready to talk”"),  # 11:45 p.m. the 20th
        (_utc(2024, 3, 21, 1, 2), "Ships wait offshore at Brennport"),
        (_utc(2024, 3, 20, 18, 57), "Strike spreads to three more ports"),
    ]


def test_europe_and_asia_zones_are_read_with_their_own_summer_time() -> None:
    imported, posts = _read(_fixture("grain-summit-zones.txt"))
    assert imported.blog.timezone == "Europe/Paris"  # the header says CEST
    assert [p.published_at for p in posts] == [
        _utc(2023, 7, 12, 14, 0),  # 11:00 p.m. JST
        _utc(2023, 7, 12, 11, 20),  # 9:20 p.m. AEST (Sydney's winter)
        _utc(2023, 7, 12, 15, 15),  # 8:45 p.m. IST (India)
        _utc(2023, 7, 12, 15, 0),  # 6:00 p.m. MSK
        _utc(2023, 7, 12, 15, 30),  # 5:30 p.m. "CET" written in July: Paris's wall time, CEST
        _utc(2023, 7, 12, 15, 15),  # 4:15 p.m. BST
        _utc(2023, 7, 12, 12, 10),  # 3:10 p.m. EEST, with non-breaking spaces
        _utc(2023, 7, 12, 13, 5),  # 1:05 p.m. GMT, read as UTC
    ]
    assert posts[4].body == (
        "Delegates left the conference hall shortly after 5 p.m. local time without a joint "
        "statement."
    )


def test_crlf_cr_a_byte_order_mark_and_non_breaking_spaces_change_nothing() -> None:
    text = _fixture("grain-summit-zones.txt")
    _, expected = _read(text)
    for variant in ("\ufeff" + text.replace("\n", "\r\n"), text.replace("\n", "\r")):
        _, posts = _read(variant)
        assert posts == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2:57 p.m. ET, March 20, 2023", _utc(2023, 3, 20, 18, 57)),  # after the switch: EDT
        ("2:57 p.m. ET, January 20, 2023", _utc(2023, 1, 20, 19, 57)),  # EST
        ("2:57 p.m. EDT, January 20, 2023", _utc(2023, 1, 20, 19, 57)),  # the region's wall time
        ("10:05 a.m. CET, July 12, 2023", _utc(2023, 7, 12, 8, 5)),  # Paris in summer
        ("10:05 a.m. CET, January 12, 2023", _utc(2023, 1, 12, 9, 5)),
        ("9:20 p.m. AEDT, January 12, 2023", _utc(2023, 1, 12, 10, 20)),  # Sydney's summer
        ("7:00 a.m. NZST, July 12, 2023", _utc(2023, 7, 11, 19, 0)),
        # 2:30 a.m. never happened in New York that night: the offset before the change ...
        ("2:30 a.m. ET, March 12, 2023", _utc(2023, 3, 12, 7, 30)),
        # ... unless the abbreviation names the one after it.
        ("2:30 a.m. EDT, March 12, 2023", _utc(2023, 3, 12, 6, 30)),
        # 1:30 a.m. happened twice: the first, unless the abbreviation names the second.
        ("1:30 a.m. ET, November 5, 2023", _utc(2023, 11, 5, 5, 30)),
        ("1:30 a.m. EST, November 5, 2023", _utc(2023, 11, 5, 6, 30)),
    ],
)
def test_daylight_saving_time_is_applied_by_date(line: str, expected: datetime) -> None:
    assert _post(f"{line}\nHeadline\n").published_at == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("12:03 a.m. ET, March 21, 2023", _utc(2023, 3, 21, 4, 3)),
        ("12:03 AM ET, Tue March 21, 2023", _utc(2023, 3, 21, 4, 3)),
        ("12:03 p.m. ET, Tuesday, March 21, 2023", _utc(2023, 3, 21, 16, 3)),
        ("12:03 pm ET, Mar. 21, 2023", _utc(2023, 3, 21, 16, 3)),
        ("9:15 A.M. GMT, 21 March 2023", _utc(2023, 3, 21, 9, 15)),
        ("Posted 9:15 am UTC, March 21, 2023", _utc(2023, 3, 21, 9, 15)),
        ("2:57\u202fp.m. ET, March 20, 2023", _utc(2023, 3, 20, 18, 57)),
    ],
)
def test_clock_and_date_spellings(line: str, expected: datetime) -> None:
    assert _post(f"{line}\nHeadline\n").published_at == expected


@pytest.mark.parametrize(
    "line",
    [
        "10:30 a.m. ET: The Senate opens its session.",
        "9:15 a.m. EU leaders began arriving.",
        "2:57 in the afternoon was when the sirens stopped.",
    ],
)
def test_body_lines_that_start_with_a_clock_stay_body_text(line: str) -> None:
    assert _post(f"2:57 p.m. ET, March 20, 2023\nHeadline\n{line}\n").body == line


@pytest.mark.parametrize(
    ("first_lines", "title", "organisation"),
    [
        ("Live updates: March 20, 2023 - Talks stall", "Talks stall", "CNN"),
        ("Live Updates\nTalks stall - CNN", "Talks stall", "CNN"),
        ("Talks stall – analysis", "Talks stall – analysis", "CNN"),  # not an organisation
    ],
)
def test_title_lines(first_lines: str, title: str, organisation: str) -> None:
    text = HEADER.replace("March 20, 2023 - A test blog", first_lines)
    imported, _ = _read(text + "2:57 p.m. ET, March 20, 2023\nH\n")
    assert (imported.blog.title, imported.blog.organisation) == (title, organisation)


def test_without_an_authors_line_the_title_names_the_organisation() -> None:
    text = "Talks stall | BBC News\nPublished 9:00 a.m. BST, July 3, 2023\n"
    imported, (post,) = _read(text + "9:30 a.m. BST, July 3, 2023\nHeadline\n")
    blog = imported.blog
    assert (blog.title, blog.organisation, blog.authors) == ("Talks stall", "BBC News", [])
    assert (blog.timezone, blog.updated_at) == ("Europe/London", _utc(2023, 7, 3, 8, 0))
    assert post.published_at == _utc(2023, 7, 3, 8, 30)


def test_posts_are_built_lazily_in_file_order(seed_text: str) -> None:
    imported = parse_text(seed_text, slug="xi")
    assert isinstance(imported.posts, Iterator)
    # What callers need first is known before a post is built.
    assert imported.blog.post_count == 9
    assert imported.blog.coverage_start == _utc(2023, 3, 20, 16, 18)
    first = next(imported.posts)
    assert first.headline.startswith("US concerned China will back ceasefire")
    assert first.blog_slug == "xi"
    assert len(list(imported.posts)) == 8


# -- files that cannot be read -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "the file is empty"),
        ("2:57 p.m. ET, March 20, 2023\nHeadline\n", 1, "expected a title line"),
        ("A title\n\nThe first paragraph.\n", 3, 'expected an authors line "By A, B and C, ORG" or an "Updated'),
        ("A title\nBy Ann Poe, CNN\n", 2, 'the file ends before an "Updated'),
        ("A title\nUpdated 2:57 p.m. ET\n", 2, "the header's time needs a date"),
        (HEADER, 6, "the file holds no posts"),
        (HEADER + "Some text\n2:57 p.m. ET, March 20, 2023\nH\n", 7, "expected a post's time line"),
        (HEADER + "2:57 p.m. ET, Marchember 20, 2023\nH\n", 7, 'expected a time such as "2:57 p.m. ET'),
        (HEADER + "2:57 p.m. ET, February 30, 2023\nH\n", 7, "day is out of range for month"),
        (HEADER + "14:57 p.m. ET, March 20, 2023\nH\n", 7, "expected a time such as"),
        (HEADER + "2:57 p.m. XT, March 20, 2023\nH\n", 7, "time zone 'XT' is unknown"),
        (HEADER + "2:57 p.m. ET, March 20, 2023\n\nPinned\n", 7, "a post needs a headline"),
        (HEADER + "2:57 p.m. ET\nUpdated 3:05 p.m. ET\nH\n", 8, 'an "Updated" line after a time line needs a date'),
        (HEADER + "2:57 p.m. ET, March 20, 2023\nH\n\n3 min ago\nH\n", 10, '"3 min ago" is a relative time'),
    ],
)  # fmt: skip
def test_broken_files_are_refused_naming_the_line_and_what_was_expected(
    text: str, line: int, words: str
) -> None:
    error = _refusal(text)
    assert error.line == line and words in error.message, error.message
    assert error.message.startswith(f"line {line}: ")


def test_the_zone_table_maps_every_abbreviation_to_a_real_zone() -> None:
    for abbreviation, name in ZONES.items():
        assert render.zone(name), abbreviation
