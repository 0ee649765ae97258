"""The live score box: set it, count a goal with one click, change its status line, take it down.

Every change is made to the score as it is inside the write transaction (the blog's row locked),
so two editors clicking "+1" at once both count: the second click adds to the first's result,
never to the score both saw on their screens. A score never goes below 0: the click that would
take it there is refused (409) and writes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from dateline.errors import Conflict
from dateline.model import Blog, EventType, Score, ScoreKind, Side, User
from dateline.newsroom import shapes
from dateline.newsroom.cases import Cases, parse
from dateline.newsroom.inputs import ScoreChange, ScoreIn
from dateline.newsroom.permissions import Action


def set_score(current: Score | None, sent: ScoreIn | None) -> Score | None:
    """The box `sent` describes (None takes it down); what it leaves out stays as `current` has
    it: each side's score (0 in a new box), the status and the kind."""
    if sent is None:
        return None
    old = current.sides if current is not None else (Side(""), Side(""))
    home, away = (
        Side(new.name, new.score if new.score is not None else was.score)
        for new, was in zip(sent.sides, old, strict=True)
    )
    return Score(
        sides=(home, away),
        status=sent.status if sent.status is not None else (current.status if current else ""),
        kind=ScoreKind(sent.kind) if sent.kind else (current.kind if current else ScoreKind.SPORT),
    )


def counted(score: Score, side: int, by: int) -> Score:
    """`score` with `by` added to side `side`; refused if it would go below 0."""
    was = score.sides[side]
    now = was.score + by
    if now < 0:
        raise Conflict(
            f"{was.name} has {was.score}; taking {-by} off would leave less than 0",
            field="by",
            extra={"score": score.to_json()},
        )
    sides = list(score.sides)
    sides[side] = Side(was.name, now)
    return replace(score, sides=(sides[0], sides[1]))


class ScoreCases(Cases):
    async def change_score(
        self, user: User, slug: str, data: Mapping[str, Any] | ScoreChange
    ) -> Blog:
        """One click on the score box: a side's score up or down (`by`), the status line, or
        both; one `blog.score` event."""
        await self._ensure(user, Action.KEEP_SCORE, await self.store.get_blog(slug))
        sent = parse(ScoreChange, data)

        def change(blog: Blog) -> EventType:
            score = blog.score
            if score is None:
                raise Conflict(
                    f"blog {slug!r} has no score box; set one first with PATCH /api/v1/blogs/"
                    f'{slug} {{"score": {{"sides": [{{"name": …}}, {{"name": …}}]}}}}',
                    field="score",
                )
            if sent.side is not None:
                score = counted(score, sent.side, sent.by)
            if sent.status is not None:
                score = replace(score, status=sent.status)
            blog.score = score
            return EventType.BLOG_SCORE

        blog, event = await self.store.change_blog(slug, change, shape=shapes.event_payload)
        self._announce(event)
        return blog
