"""Hostile text, everywhere a writer can put text, on every surface that shows it, in Chromium:
a corpus of XSS vectors (tags, event handlers, javascript: and data: URLs in Markdown links and
images, SVG and MathML, mutation XSS, template syntax, encodings) in every text field of posts
(their polls' questions and options included), the blog header, the score box (side names and
status line) and an editor's review note, read on the page (both orders), every permalink, the
embed, the live path (posts, poll results and score changes arriving while the page is open),
the console's lists, editor, score box editor and preview, and the feed. A dialog listener, a
Content-Security-Policy violation listener and a page error listener watch every page: nothing
may run, nothing may even try, and no page script may fail on what it was given."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from xml.etree import ElementTree

import pytest
from playwright.async_api import Browser, Page

from dateline.config import Settings
from tests.browser.test_console import PASSWORD, Desk, sign_in
from tests.conftest import Running

pytestmark = pytest.mark.browser
SLUG = "hostile"
RUN = "window.__ran=(window.__ran||0)+1"

VECTORS = [
    "<script>alert(1)</script>",
    "<script>" + RUN + "</script>",
    '"><script>alert(1)</script>',
    "'><script>alert(1)</script>",
    "</script><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="' + RUN + '">',
    "<img src=x onerror=alert(1)",
    "<IMG SRC=JaVaScRiPt:alert(1)>",
    "<img src=1 onerror=&#97;lert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text y="20">svg link</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<scr<script>ipt>alert(1)</script>",
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<object data=javascript:alert(1)></object>",
    "<embed src=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>go</button></form>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<style>@import 'javascript:alert(1)';</style>",
    '<div style="background:url(javascript:alert(1))">styled</div>',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="jav&#x09;ascript:alert(1)">tab</a>',
    '<a href="&#106;avascript:alert(1)">entity</a>',
    '<a href=" javascript:alert(1)">space</a>',
    '<a href="data:text/html,<script>alert(1)</script>">data</a>',
    '<a href="vbscript:msgbox(1)">vb</a>',
    "[markdown link](javascript:alert(1))",
    "[markdown link](JAVASCRIPT:alert(1))",
    "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![markdown image](javascript:alert(1))",
    '![image](x" onerror="alert(1))',
    "[ref link][x]\n\n[x]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "[a](<javascript:alert(1)>)",
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
    "{{ 7*7 }} {% raw %} ${alert(1)} #{alert(1)}",
    "{{constructor.constructor('alert(1)')()}}",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "<a href=# onclick=alert(1)>click</a>",
    "<marquee onstart=alert(1)>x</marquee>",
    '<table background="javascript:alert(1)"><tr><td>t</td></tr></table>',
    "<xss id=x tabindex=1 onfocusin=alert(1)></xss>",
    '<a href="#" onmouseover="alert(1)">hover</a>',
]
SHORT = [v for v in VECTORS if len(v) <= 60 and "\n" not in v]
# The vectors a one-line field takes: a poll's question (300 characters) and options (200), a
# score box's side names (100) and status line (200). All but the two multi-line ones.
LINE = [v for v in VECTORS if "\n" not in v]
assert max(len(v) for v in LINE) <= 100
# Run in every page before its own scripts: records what the Content-Security-Policy blocked.
WATCH = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    from dataclasses import replace

    # Every post on one page, and a vote in every poll from this machine's one address.
    return replace(settings, page_size=100, poll_votes_per_minute=0)


class Watch:
    """Every page's dialogs, CSP violations and scripts that ran."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    async def page(self, browser: Browser, context: Any = None) -> Page:
        context = context or await browser.new_context()
        return await self.attach(await context.new_page())

    async def attach(self, page: Page) -> Page:
        """Watch `page` (a new one, or one already signed in to the console) from its next load."""
        await page.add_init_script(WATCH)

        async def dialog(d: Any) -> None:
            self.problems.append(f"{page.url}: a {d.type} opened: {d.message}")
            await d.dismiss()

        page.on("dialog", dialog)
        page.on("pageerror", lambda e: self.problems.append(f"{page.url}: page error: {e}"))
        return page

    async def check(self, page: Page, where: str) -> None:
        await page.wait_for_timeout(150)  # handlers that fire on load have fired
        found = await page.evaluate("() => [window.__ran || 0, window.__csp || []]")
        if found[0]:
            self.problems.append(f"{where}: injected script ran {found[0]} times")
        if found[1]:
            self.problems.append(f"{where}: CSP blocked {found[1]}")


def _later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def _question(i: int) -> str:
    return LINE[i % len(LINE)]


def _poll(i: int) -> dict[str, Any]:
    """Post i's poll: a one-line vector as its question, the next six as its options (those
    that differ only in case count once: options must differ)."""
    options: dict[str, str] = {}
    for k in range(1, 7):
        vector = LINE[(i + k) % len(LINE)]
        options.setdefault(vector.casefold(), vector)
    return {
        "question": _question(i),
        "options": list(options.values()),
        "closes_at": _later(hours=2),
    }


def _post(i: int, vector: str) -> dict[str, Any]:
    short = SHORT[i % len(SHORT)]
    return {
        "headline": f"#{i} {short}"[:300],
        "body": f"Vector {i}:\n\n{vector}\n\nInline: {vector}",
        "byline": {"people": [{"name": short[:200]}], "location": short[:200]},
        "contributors": [short[:200]],
        "media": [
            {
                "url": "https://example.org/p.jpg",
                "alt": vector[:2000],
                "caption": vector[:2000],
                "credit": short[:300],
            }
        ],
        "tags": [short[:50]],
        "poll": _poll(i),
    }


async def _new_blog(api: Any) -> None:
    r = await api.post(
        "/api/v1/blogs",
        json={
            "slug": SLUG,
            "title": " ".join(SHORT[:4])[:300],
            "summary": "\n\n".join(VECTORS),
            "organisation": SHORT[5][:200],
            "authors": [{"name": v[:200]} for v in SHORT[:10]],
        },
    )
    assert r.status_code == 201, r.text


async def _texts(page: Page, selector: str) -> list[str]:
    """The text of each element `selector` finds, whitespace as the source has it."""
    found: list[str] = await page.eval_on_selector_all(
        selector, "els => els.map(e => e.textContent.trim())"
    )
    return found


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "base", "meta", "form", "style"):
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc"):
                self.bad.append(f"{tag} {name}")
            dangerous = re.match(r"\s*(javascript|data|vbscript):", value or "", re.I)
            if name in ("href", "src", "action", "xlink:href") and dangerous:
                self.bad.append(f"{tag} {name}={(value or '')[:40]}")


async def test_no_vector_runs_anywhere(seeded: Running, browser: Browser) -> None:
    watch = Watch()
    base = seeded.base_url
    async with seeded.client(seeded.token) as api, seeded.client() as voter:
        await _new_blog(api)
        # Half the posts exist before the page is opened, half arrive on the live path.
        first = VECTORS[: len(VECTORS) // 2]
        ids, vote_urls = [], []
        for i, vector in enumerate(first):
            r = await api.post(f"/api/v1/blogs/{SLUG}/posts", json=_post(i, vector))
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
            vote_urls.append(r.json()["poll"]["vote_url"])
        live = await watch.page(browser)
        await live.goto(f"{base}/{SLUG}")
        for i, vector in enumerate(VECTORS[len(first) :], start=len(first)):
            r = await api.post(f"/api/v1/blogs/{SLUG}/posts", json=_post(i, vector))
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
            vote_urls.append(r.json()["poll"]["vote_url"])
        await live.wait_for_function(
            f"() => document.querySelectorAll('#stream article').length >= {len(VECTORS)}"
        )
        # A vote in every poll: each poll's results reach the open page as its `poll.results`
        # event, rendered afresh, in place of the poll the page had.
        for url in vote_urls:
            r = await voter.post(url, json={"option": 1})
            assert r.status_code == 200, r.text
        await live.wait_for_function(
            """n => [...document.querySelectorAll('#stream .poll__total')]
                     .filter(e => e.textContent === '1 vote').length >= n""",
            arg=len(VECTORS),
        )
        await watch.check(live, "the live page")
        # Corrections (and those posts' polls closed: their final results), and a few posts left
        # as drafts and submissions for the console's lists.
        for i, post_id in enumerate(ids[:10]):
            r = await api.patch(
                f"/api/v1/blogs/{SLUG}/posts/{post_id}",
                json={"correction": VECTORS[i][:2000], "poll": {"close": True}},
                headers={"If-Match": "*"},
            )
            assert r.status_code == 200, r.text
        await live.wait_for_function(
            "() => document.querySelectorAll('#stream .poll--closed').length >= 10"
        )
        await watch.check(live, "the live page, after the corrections")
        for i, status in enumerate(("draft", "submitted") * 5):
            body = {**_post(i, VECTORS[-i - 1]), "status": status}
            r = await api.post(f"/api/v1/blogs/{SLUG}/posts", json=body)
            assert r.status_code == 201, r.text

        pages = [f"/{SLUG}", f"/{SLUG}?sort=oldest", f"/{SLUG}/embed", "/"]
        reader = await watch.page(browser)
        for path in pages:
            await reader.goto(base + path)
            await watch.check(reader, path)
        for i, post_id in enumerate(ids):
            path = f"/{SLUG}/posts/{post_id}"
            await reader.goto(base + path)
            await watch.check(reader, path)
            # The question shows as the text it is, not as markup.
            assert await _texts(reader, ".poll__question") == [_question(i)], path

        feed = await api.get(f"/{SLUG}/feed.atom")
        atom = "{http://www.w3.org/2005/Atom}"
        entries = ElementTree.fromstring(feed.content).iter(f"{atom}content")
        contents = [entry.text or "" for entry in entries]
        assert len(contents) == min(50, len(VECTORS))  # the feed's newest 50
        for html in contents:  # what a feed reader renders
            parser = _Links()
            parser.feed(html)
            watch.problems += [f"feed: {b}" for b in parser.bad]

    desk = Desk(browser, seeded)
    page = await watch.attach(await desk.signed_in("admin"))  # admins work on every blog
    console = [f"/newsroom/blogs/{SLUG}", "/newsroom/"]
    # Each post's editor, which shows its poll's question and results.
    console += [f"/newsroom/blogs/{SLUG}/posts/{post_id}" for post_id in ids]
    for path in console:
        await page.goto(base + path)
        await watch.check(page, path)
    await page.goto(f"{base}/newsroom/blogs/{SLUG}")
    for vector in VECTORS[:12]:  # the preview renders as readers will see it
        await page.fill("#c-body", vector)
        await page.wait_for_timeout(400)
    await watch.check(page, "the console's preview")
    await desk.close()
    assert not watch.problems, "\n".join(watch.problems)


async def test_no_vector_runs_in_the_score_box(seeded: Running, browser: Browser) -> None:
    """Every one-line vector as a side's name or the status line, three at a time: on the open
    page and embed (the `blog.score` event's score_html), then freshly loaded on the page, a
    permalink, the embed and the console's score box editor."""
    watch = Watch()
    base = seeded.base_url
    kinds = ("sport", "election", "other")
    boxes = [LINE[k : k + 3] for k in range(0, len(LINE), 3)]
    async with seeded.client(seeded.token) as api:
        await _new_blog(api)
        r = await api.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": "Kick-off"})
        assert r.status_code == 201, r.text
        permalink = f"/{SLUG}/posts/{r.json()['id']}"
        live = await watch.page(browser)
        await live.goto(f"{base}/{SLUG}")
        embed = await watch.page(browser)
        await embed.goto(f"{base}/{SLUG}/embed")
        desk = Desk(browser, seeded)
        console = await watch.attach(await desk.signed_in("admin"))
        for k, box in enumerate(boxes):
            home, away, status = (box * 3)[:3]  # the last box may hold fewer than three
            score = {
                "kind": kinds[k % len(kinds)],
                "status": status,
                "sides": [{"name": home, "score": k + 1}, {"name": away}],
            }
            r = await api.patch(f"/api/v1/blogs/{SLUG}", json={"score": score})
            assert r.status_code == 200, r.text
            for page in (live, embed):
                await page.wait_for_function(
                    """k => document.querySelector('#score-slot .score__value')
                              ?.textContent === String(k)""",
                    arg=k + 1,
                )
            # A browser that has not seen the pages yet: they may be cached for a few seconds.
            reader = await watch.page(browser)
            for path in (f"/{SLUG}", permalink, f"/{SLUG}/embed"):
                await reader.goto(base + path)
                await watch.check(reader, f"{path} with score box {k}")
                assert await _texts(reader, ".score__name") == [home, away], path
                assert await _texts(reader, ".score__status") == [status], path
            await reader.context.close()
            await console.goto(f"{base}/newsroom/blogs/{SLUG}")
            await watch.check(console, f"the console's score box {k}")
            assert await _texts(console, ".score-editor__name") == [home, away]
        await watch.check(live, "the live page")
        await watch.check(embed, "the live embed")
        assert await _texts(live, "#score-slot .score__name") == [home, away]
    await desk.close()
    assert len({v for box in boxes for v in box}) == len(LINE)
    assert not watch.problems, "\n".join(watch.problems)


async def test_no_vector_runs_in_a_review_note(seeded: Running, browser: Browser) -> None:
    """Every vector as the note an editor sends a submitted post back with, in the console of
    the contributor who wrote it (the drafts list and each post's page) and of the editor."""
    watch = Watch()
    base = seeded.base_url
    email = "writer@example.org"
    async with seeded.client(seeded.token) as api:
        await _new_blog(api)
        writer = await seeded.newsroom.create_user(
            None, email=email, name="A writer", role="contributor", password=PASSWORD,
            blogs=(SLUG,),
        )  # fmt: skip
        token = await seeded.newsroom.issue_token(writer)
        ids = []
        async with seeded.client(token) as contributor:
            for i, vector in enumerate(VECTORS):
                r = await contributor.post(
                    f"/api/v1/blogs/{SLUG}/posts",
                    json={"headline": f"Draft {i}", "body": "Troops seen.", "status": "draft"},
                )
                assert r.status_code == 201, r.text
                post = f"/api/v1/blogs/{SLUG}/posts/{r.json()['id']}"
                r = await contributor.patch(post, json={"status": "submitted"})
                assert r.status_code == 200, r.text
                r = await api.patch(post, json={"status": "draft", "review_note": vector})
                assert r.status_code == 200, r.text
                ids.append(r.json()["id"])
    desk = Desk(browser, seeded)
    page = await watch.attach(await (await desk.context()).new_page())
    await sign_in(page, seeded, email)
    await page.wait_for_url(f"{base}/newsroom/")
    await page.goto(f"{base}/newsroom/blogs/{SLUG}")
    await watch.check(page, "the contributor's drafts")
    notes = [f"Editor's note: {v}".strip() for v in reversed(VECTORS)]  # newest first
    assert sorted(await _texts(page, ".item__note")) == sorted(notes)
    for i, post_id in enumerate(ids):
        path = f"/newsroom/blogs/{SLUG}/posts/{post_id}"
        await page.goto(base + path)
        await watch.check(page, f"the contributor's {path}")
        assert f"Editor's note: {VECTORS[i]}".strip() in await _texts(page, ".notice"), path
    editor = await watch.attach(await desk.signed_in("admin"))
    await editor.goto(f"{base}/newsroom/blogs/{SLUG}")
    await watch.check(editor, "the editor's console")
    await desk.close()
    assert not watch.problems, "\n".join(watch.problems)


async def test_the_corpus_is_at_least_fifty_vectors() -> None:
    assert len(set(VECTORS)) >= 50


async def test_the_watch_would_see_an_injection(seeded: Running, browser: Browser) -> None:
    """The listeners are live: markup slipped into a page trips them."""
    watch = Watch()
    page = await watch.page(browser)
    await page.goto(f"{seeded.base_url}/xi-putin-moscow")
    await page.evaluate(
        """() => document.body.insertAdjacentHTML(
               'beforeend', '<img src=x onerror="window.__ran=1">')"""
    )
    await watch.check(page, "the page")
    assert any("CSP blocked" in p and "script-src" in p for p in watch.problems), watch.problems
