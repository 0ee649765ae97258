"""Readers' polls: editors attach one to a post (with the post, or by editing it); readers vote
once per browser without an account; readers' pages learn the results from `poll.results` events,
at most one per poll per `poll_results_seconds`, appended by whichever node claims them first.

What may change when: while a poll has no votes, anything (question, options, closing time) and
it may be removed; once it has votes, only its closing time (later or sooner) or `close: true`;
once it has closed, nothing: its result is final. Voting never makes a post revision: a poll is
not part of a post's text."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import datetime, timedelta

from dateline.errors import Conflict, Invalid
from dateline.model import Event, Poll, PollOption
from dateline.newsroom import shapes
from dateline.newsroom.cases import Cases
from dateline.newsroom.inputs import PollCreate, PollPatch
from dateline.store.posts import new_public_id

log = logging.getLogger(__name__)


def new_poll(sent: PollCreate, now: datetime) -> Poll:
    assert sent.closes_at is not None  # PollCreate requires it
    return Poll(
        id=new_public_id(),
        question=sent.question,
        options=tuple(PollOption(text) for text in sent.options),
        closes_at=sent.closes_at,
        created_at=now,
    )


def changed_poll(current: Poll | None, sent: PollPatch | None, now: datetime) -> Poll | None:
    """The post's poll after the change `sent` (None: remove it), decided on the poll as it is
    (`current`, with its counts). Refuses what the rules above do not allow."""
    if sent is None:
        if current is not None and current.total_votes:
            raise Conflict(
                f"the poll has {current.total_votes} votes, so it cannot be removed; close it "
                'instead (PATCH the post with {"poll": {"close": true}})',
                field="poll",
            )
        return None
    if current is None:
        if sent.close:
            raise Conflict("this post has no poll to close", field="poll.close")
        missing = [n for n in ("question", "options", "closes_at") if getattr(sent, n) is None]
        if missing:
            raise Invalid(
                f"poll.{missing[0]}: a new poll needs question, options and closes_at",
                field=f"poll.{missing[0]}",
            )
        return new_poll(PollCreate.model_validate(sent.model_dump(exclude={"close"})), now)
    if current.closed(now):
        raise Conflict(
            "the poll has closed and its result is final; it can no longer change",
            field="poll",
        )
    texts = [o.text for o in current.options]
    question = sent.question if sent.question is not None else current.question
    options = list(sent.options) if sent.options is not None else texts
    if (question != current.question or options != texts) and current.total_votes:
        raise Conflict(
            f"the poll has {current.total_votes} votes, so its question and options can no "
            "longer change; only its closing time can (closes_at, or close: true)",
            field="poll",
        )
    closes_at = now if sent.close else (sent.closes_at or current.closes_at)
    kept = {o.text: o for o in current.options}
    return replace(
        current,
        question=question,
        options=tuple(kept.get(text, PollOption(text)) for text in options),
        closes_at=closes_at,
    )


def voter_key(poll_id: str, voter: str) -> str:
    """What the store keeps of a voter: a hash of the poll and the browser's random id, so the
    votes of one browser in two polls cannot be linked (and no address is ever kept)."""
    return hashlib.sha256(f"{poll_id}:{voter}".encode()).hexdigest()


class PollCases(Cases):
    async def vote(self, slug: str, poll_id: str, voter: str, option: int) -> Poll:
        """A reader's vote (no account: `voter` is the random id of their browser's cookie).
        Readers may vote once in each open poll of a published post in live coverage; the store
        decides "open" and "once" inside the vote's own transaction."""
        blog = await self.store.get_blog(slug)
        assert blog.id is not None
        key = voter_key(poll_id, voter)
        return await self.store.cast_vote(blog.id, poll_id, key, option, self.clock())

    async def announce_polls(self) -> list[Event]:
        """Append a results event for each poll whose counts moved (or that closed) since the
        last one, at most one per poll per `poll_results_seconds`. Safe on every node at once."""
        now = self.clock()
        gap = timedelta(seconds=self.settings.poll_results_seconds)
        events = []
        for poll_id in await self.store.polls_to_announce(now, gap):
            event = await self.store.announce_poll(poll_id, now, gap, shapes.event_payload)
            if event is not None:
                self._announce(event)
                events.append(event)
        return events
