"""Importing the seed's text dump: everything a reader sees is recovered, and a broken file
changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from dateline import render
from dateline.errors import Conflict, ImportFailed, Invalid
from dateline.importers.text import parse_text
from dateline.model import Post
from dateline.newsroom import Newsroom
from dateline.store import Store
from dateline.store import schema as t


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_the_seed_header_is_recovered(seed_text: str) -> None:
    imported = parse_text(seed_text, slug="xi")
    blog = imported.blog
    assert blog.title == "Xi and Putin meet in Moscow as Russia's war in Ukraine continues"
    assert blog.organisation == "CNN" and blog.timezone == "America/New_York"
    # The header names six people (the "7 authors" miscounts the dump).
    assert [a.name for a in blog.authors] == [
        "Kathleen Magramo", "Eliza Mackintosh", "Aditi Sangal", "Mike Hayes", "Leinz Vales",
        "Elise Hammond",
    ]  # fmt: skip
    assert blog.updated_at == _utc(2023, 3, 21, 4, 3)
    assert imported.warnings == ["the header says 35 posts but the file holds 9; importing 9"]


def test_the_nine_posts_are_read_in_utc(seed_text: str) -> None:
    # In file order, which is not sorted: the dump lists its 7:28 p.m. post last.
    posts = sorted(
        parse_text(seed_text, slug="xi").posts,
        key=lambda p: p.published_at or _utc(1900, 1, 1),
        reverse=True,
    )
    assert [(p.published_at, p.headline) for p in posts] == [
        (_utc(2023, 3, 20, 23, 28), "US announces another $350 million in security assistance for Ukraine"),
        (_utc(2023, 3, 20, 21, 7), "Wagner chief claims his forces control 70% of Bakhmut as Ukraine says Russian mercenaries face heavy losses"),
        (_utc(2023, 3, 20, 18, 57), "US concerned China will back ceasefire that would leave Russian troops in Ukraine, White House says"),
        (_utc(2023, 3, 20, 18, 42), "Putin and Xi talks end after more than 4 hours, Russian state media says"),
        (_utc(2023, 3, 20, 18, 25), "Norway delivers 8 Leopard 2 tanks to Ukraine, according to Norwegian Armed Forces"),
        (_utc(2023, 3, 20, 17, 36), 'Xi visit to Moscow provides "diplomatic cover" for Russian crimes, Blinken says'),
        (_utc(2023, 3, 20, 16, 35), "18 European countries agree to jointly procure ammunition to aid Ukraine"),
        (_utc(2023, 3, 20, 16, 20), "US State Department report highlights Russian government's war crimes and atrocities in Ukraine, Blinken says"),
        (_utc(2023, 3, 20, 16, 18), 'Ukrainian soldier says eastern town of Avdiivka "hard to control" as Russian forces try to push in'),
    ]  # fmt: skip


def test_bylines_images_and_contributor_lines_are_recovered(seed_text: str) -> None:
    posts = {p.published_at: p for p in parse_text(seed_text, slug="xi").posts}
    names = {t: ([x.name for x in p.byline.people], p.byline.location) for t, p in posts.items()}
    assert names[_utc(2023, 3, 20, 18, 57)] == ([], None)
    assert names[_utc(2023, 3, 20, 18, 25)] == (["Sarah Dean"], "London")
    assert names[_utc(2023, 3, 20, 16, 18)] == (["Maria Kostenko"], "Kyiv")
    assert names[_utc(2023, 3, 20, 17, 36)] == (["Michael Conte", "Kylie Atwood"], None)
    media = {t: [(m.caption, m.credit, m.alt, m.url) for m in p.media] for t, p in posts.items()}
    assert sum(1 for m in media.values() if m) == 4
    assert media[_utc(2023, 3, 20, 21, 7)] == [
        ("A view of the eastern Ukrainian city of Bakhmut is seen on March 15.", "Roman Chop/AP",
         "A view of the eastern Ukrainian city of Bakhmut is seen on March 15.", None)
    ]  # fmt: skip
    assert media[_utc(2023, 3, 20, 18, 42)][0][1] == "Sergei Karpukhin/Sputnik/AFP/Getty Images"
    tanks, avdiivka = posts[_utc(2023, 3, 20, 18, 25)], posts[_utc(2023, 3, 20, 16, 18)]
    assert tanks.contributors == ["Rob Picheta"]
    assert avdiivka.contributors == ["Svitlana Vlasova", "Tim Lister"]
    assert "contributed reporting" not in tanks.body + avdiivka.body
    assert "Sergei Karpukhin" not in posts[_utc(2023, 3, 20, 18, 42)].body


def test_bodies_keep_quotes_asides_and_paragraph_boundaries(seed_text: str) -> None:
    posts = {p.published_at: p for p in parse_text(seed_text, slug="xi").posts}
    newest = posts[_utc(2023, 3, 20, 23, 28)].body
    assert "“Russia alone could end its war today,” he said." in newest
    assert "**More context:** The last Presidential Drawdown" in newest
    procurement = posts[_utc(2023, 3, 20, 16, 35)].body
    assert "The 18 European nations include: Austria" in procurement  # a sentence, not an aside
    blinken = posts[_utc(2023, 3, 20, 17, 36)].body
    assert blinken.endswith("to freeze the war on its own terms,” said Blinken.")
    assert "Wagner" not in blinken  # the next post's time line followed with no blank line
    html = render.markdown_to_html(newest)
    assert "<strong>More context:</strong>" in html and "\\" not in html


def _broken(seed_text: str, line: int, replacement: str | None) -> str:
    lines = seed_text.splitlines()
    if replacement is None:
        del lines[line - 1]
    else:
        lines[line - 1] = replacement
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("line", "replacement", "reported", "words"),
    [
        (1, "Updated 12:03 a.m. ET, March 21, 2023", 1, "title line"),
        (3, "Kathleen Magramo and others", 3, "authors line"),
        (5, "Last updated yesterday", 5, "Updated"),
        (5, "Updated 12:03 a.m. XT, March 21, 2023", 5, "'XT' is unknown"),
        (8, "13:99 p.m. ET, March 20, 2023", 8, "2:57 p.m. ET"),
        (8, "2:57 p.m. ET, Marchember 20, 2023", 8, "2:57 p.m. ET"),
        (7, "An orphan paragraph", 7, "time line"),
    ],
)
def test_malformed_files_name_the_line(
    seed_text: str, line: int, replacement: str, reported: int, words: str
) -> None:
    with pytest.raises(ImportFailed) as caught:
        parse_text(_broken(seed_text, line, replacement), slug="xi")
    assert caught.value.line == reported and words in caught.value.message
    assert caught.value.message.startswith(f"line {reported}: ")


def test_empty_files_and_posts_without_headlines_are_refused(seed_text: str) -> None:
    with pytest.raises(ImportFailed, match="empty"):
        parse_text("\n \n", slug="xi")
    header = "\n".join(seed_text.splitlines()[:7])
    with pytest.raises(ImportFailed, match="no posts"):
        parse_text(header, slug="xi")
    with pytest.raises(ImportFailed, match="line 8: a post needs a headline"):
        parse_text(header + "\n2:57 p.m. ET, March 20, 2023\n\n", slug="xi")


async def test_importing_writes_the_blog_and_its_event_log(
    store: Store, offline_newsroom: Newsroom, seed_text: str
) -> None:
    blog = await offline_newsroom.import_blog(parse_text(seed_text, slug="xi-putin-moscow"))
    assert (blog.post_count, blog.last_seq) == (9, 9)
    assert blog.updated_at == _utc(2023, 3, 21, 4, 3)
    events = await store.events_after(blog.id or 0, 0)
    # Oldest first, as they were published.
    assert events[0].payload["post"]["published_at"] == "2023-03-20T16:18:00Z"
    assert events[-1].payload["post"]["published_at"] == "2023-03-20T23:28:00Z"


async def test_a_failed_import_leaves_the_database_unchanged(
    store: Store, offline_newsroom: Newsroom, seed_text: str
) -> None:
    await offline_newsroom.import_blog(parse_text(seed_text, slug="xi"))
    again = parse_text(seed_text, slug="xi")
    with pytest.raises(Conflict):
        await offline_newsroom.import_blog(again)
    assert [b.slug for b in await store.list_blogs()] == ["xi"]
    # A post that breaks a rule after two batches were written: nothing of "other" remains.
    broken = parse_text(seed_text, slug="other")
    posts = list(broken.posts)
    posts[-1].body = "a NUL byte \x00 in the body"
    broken.posts = posts
    with pytest.raises(Invalid, match="control character"):
        await offline_newsroom.import_blog(broken, batch=2)
    assert [b.slug for b in await store.list_blogs()] == ["xi"]
    # A source that fails while it is read (a parse error in a streamed file) is the same.
    failing = parse_text(seed_text, slug="other")

    def parse_then_fail() -> Iterator[Post]:
        for i, post in enumerate(parse_text(seed_text, slug="other").posts):
            if i == 5:
                raise ImportFailed("expected a time line", line=400)
            assert isinstance(post, Post)
            yield post

    failing.posts = parse_then_fail()
    with pytest.raises(ImportFailed, match="line 400"):
        await offline_newsroom.import_blog(failing, batch=2)
    assert [b.slug for b in await store.list_blogs()] == ["xi"]
    async with store.engines.reading() as conn:
        slugs = (await conn.execute(select(t.blogs.c.slug))).scalars().all()
        posts = await conn.execute(select(func.count()).select_from(t.posts))
        assert list(slugs) == ["xi"] and posts.scalar_one() == 9
    assert (await store.get_blog("xi")).last_seq == 9
