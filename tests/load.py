"""Read and write load for the outage proofs: writers posting in a loop and live readers that
resume with Last-Event-ID as the page does, against one node or several; every answer counted
by the phase it arrived in (before, during and after the outage), and the books checked at the
end: every acknowledged post present once, the seqs gap-free, every reader given every event
once, in order."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests import logs
from tests.sse import ResumingReader

SLUG = "xi-putin-moscow"
POSTS = f"/api/v1/blogs/{SLUG}/posts"
PHASES = ("before", "during", "after")


def unavailable(r: httpx.Response) -> bool:
    """A 503 as the contract has it: Retry-After, and the error JSON (or, for a reader's page,
    the error page saying so)."""
    if r.status_code != 503 or int(r.headers.get("retry-after", "0")) <= 0:
        return False
    if r.headers["content-type"].startswith("application/json"):
        return bool(r.json()["error"]["code"] == "unavailable")
    return "unavailable" in r.text


@dataclass
class Books:
    """What the store and the readers hold once the load has stopped."""

    last_seq: int
    lost: int  # acknowledged posts missing, plus events some reader never got
    twice: int  # acknowledged posts present more than once, or not at their acknowledged seq
    gap_free: bool
    readers_exact: bool  # every reader: every event after its resume point, once, in order
    reader_events: list[int] = field(default_factory=list)


class Load:
    """`writers` tasks posting to `writer_bases` (round robin) and a ResumingReader on each of
    `reader_ports`, all started at once; `outage_begins()` / `outage_ends()` move the phase."""

    def __init__(
        self, token: str, writer_bases: list[str], reader_ports: list[int], *, after: int = 9
    ) -> None:
        self.token, self.after = token, after
        self.phase = "before"
        self.codes: dict[str, Counter[int]] = {p: Counter() for p in PHASES}
        self.slowest: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.acknowledged: dict[str, tuple[str, int]] = {}  # headline -> (post id, seq)
        self.attempted: set[str] = set()
        self.wrong: list[str] = []  # answers the contract does not allow
        self.ended_at = 0.0
        self.first_after: int | None = None  # the seq of the first write sent after the outage
        self._stop = asyncio.Event()
        self.readers = [ResumingReader(p, f"/{SLUG}/live", after) for p in reader_ports]
        self._writers = [
            asyncio.create_task(self._write(n, writer_bases[n % len(writer_bases)]))
            for n in range(4)
        ]

    async def _write(self, n: int, base: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as c:
            i = 0
            while not self._stop.is_set():
                headline, sent = f"load {n} post {i}", time.monotonic()
                i += 1
                self.attempted.add(headline)
                try:
                    r = await c.post(POSTS, json={"headline": headline})
                except httpx.HTTPError as e:
                    phase = self.phase
                    self.wrong.append(f"{phase}: no answer ({e!r})")
                    await asyncio.sleep(0.2)
                    continue
                phase = self.phase  # counted when answered: the node's state at that moment
                self.codes[phase][r.status_code] += 1
                self.slowest[phase] = max(self.slowest[phase], time.monotonic() - sent)
                if r.status_code == 201:
                    body = r.json()
                    self.acknowledged[headline] = (body["id"], body["seq"])
                    if phase == "after" and self.first_after is None and sent >= self.ended_at:
                        self.first_after = int(body["seq"])
                elif not unavailable(r):
                    self.wrong.append(f"{phase}: {r.status_code} {r.text[:200]}")
                await asyncio.sleep(0.05)

    def outage_begins(self) -> None:
        self.phase = "during"

    def outage_ends(self) -> None:
        self.ended_at = time.monotonic()
        self.phase = "after"

    async def recovered(self, within: float) -> float:
        """Seconds from the outage's end until a write sent after it was acknowledged and every
        reader had it; `within` if that did not happen in time (the caller asserts the bound)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while self.first_after is None:
                    await asyncio.sleep(0.02)
                while any(r.last < self.first_after for r in self.readers):
                    await asyncio.sleep(0.02)
                return time.monotonic() - self.ended_at
        return within

    async def cancel(self) -> None:
        """Stop everything at once (after `finish`, or when a test fails midway)."""
        self._stop.set()
        for task in self._writers:
            task.cancel()
        await asyncio.gather(*self._writers, return_exceptions=True)
        for reader in self.readers:
            await reader.close()

    async def finish(self, base: str, within: float = 10) -> Books:
        """Stop writing, let the readers catch up, and check the books through `base`."""
        self._stop.set()
        await asyncio.gather(*self._writers)
        async with httpx.AsyncClient(base_url=base, timeout=10) as c:
            last_seq = int((await c.get(f"/api/v1/blogs/{SLUG}")).json()["last_seq"])
            headlines: list[str] = []
            cursor = None
            while True:
                query = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
                page = (await c.get(f"{POSTS}{query}")).json()
                headlines += [p["headline"] for p in page["posts"]]
                if not (cursor := page["next_cursor"]):
                    break
            events: dict[int, str | None] = {}
            while len(events) < last_seq:
                delta = f"/api/v1/blogs/{SLUG}/events?after={len(events)}&limit=1000"
                got = (await c.get(delta)).json()["events"]
                if not got:
                    break
                events.update((e["seq"], e["post_id"]) for e in got)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while any(r.last < last_seq for r in self.readers):
                    await asyncio.sleep(0.05)
        for reader in self.readers:
            await reader.close()
        counted = Counter(headlines)
        expected = set(range(self.after + 1, last_seq + 1))
        missing_posts = [h for h in self.acknowledged if counted[h] == 0]
        misplaced = [h for h, (i, seq) in self.acknowledged.items() if events.get(seq) != i]
        return Books(
            last_seq=last_seq,
            lost=len(missing_posts) + sum(len(expected - set(r.seqs)) for r in self.readers),
            twice=sum(1 for h in self.acknowledged if counted[h] > 1) + len(misplaced),
            gap_free=sorted(events) == list(range(1, last_seq + 1)),
            readers_exact=all(r.got_every_event(last_seq) for r in self.readers),
            reader_events=[len(r.seqs) for r in self.readers],
        )

    def figures(self, books: Books, recovery: float) -> dict[str, object]:
        return {
            **{p: dict(sorted(self.codes[p].items())) for p in PHASES},
            "503s": sum(c[503] for c in self.codes.values()),
            "acknowledged": len(self.acknowledged),
            "lost": books.lost,
            "recovery_s": recovery,
            "readers": len(self.readers),
            "reader_events": books.reader_events,
        }


def quiet_log(*paths: Path, at_most: int = 6) -> str | None:
    """None if the nodes' logs show no traceback and at most `at_most` outage lines; else what
    is wrong with them."""
    text = "\n".join(p.read_text("utf-8", errors="replace") for p in paths)
    if found := logs.trouble(text):
        return f"tracebacks in the node log: {found[:3]}\n{text[-3000:]}"
    if len(lines := logs.outage_lines(text)) > at_most:
        return f"{len(lines)} outage lines in the node log: {lines[:10]}"
    return None
