"""Whole blogs in: other live blogs' pages and dumps (read by importers/), and Dateline's own
archives (importers/archive.py), restored into any store.

Everything imported goes through the rules a post sent to the API goes through: the blog's slug,
title and zone (inputs.BlogCreate), each post's headline, body, byline, images, tags and times
(inputs.PostCreate: lengths, no control characters, no time in the future or before 1900), and
every earlier revision's text. A refusal names the post (its place in the file and its headline)
and what is wrong, and nothing is imported.

Posts are written in batches into a hidden blog (store/transfer.py), so a file of 100,000 posts
is never in memory at once and a live node sharing an SQLite database keeps writing between
batches; readers see the blog only when the last step gives it its slug. A failure at any point
(a file that stops making sense half way, a refusal, an outage) removes what was written."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dateline.embeds import providers
from dateline.errors import Conflict, ImportFailed, Invalid, NotFound
from dateline.importers import ImportedBlog, ImportedPost
from dateline.importers.archive import Archive, PostRecord, RevisionRecord
from dateline.model import (
    Blog,
    BlogStatus,
    Byline,
    Embed,
    EventType,
    Media,
    Person,
    Poll,
    PollOption,
    Post,
    PostStatus,
    Revision,
    Role,
    Score,
    User,
)
from dateline.newsroom import images, inputs, permissions, shapes
from dateline.newsroom.cases import parse
from dateline.newsroom.embeds import EmbedCases
from dateline.newsroom.inputs import BlogCreate, PostCreate
from dateline.newsroom.permissions import Action
from dateline.newsroom.scores import set_score
from dateline.store import LoggedEvent

# (what is being done: "posts" or "events", how many are done, how many there are if known)
Progress = Callable[[str, int, int | None], None]
BATCH = 500
# On SQLite a batch holds the database's one write lock while it is written, and a live node's
# writes wait meanwhile: batches shrink until one is written within this (and grow back, up to
# BATCH, when they are written in well under it). PostgreSQL locks rows, not the database.
HOLD = 0.05  # seconds
MIN_BATCH = 10
_OWN_MEDIA = re.compile(r"^/media/([0-9a-f]{32}\.(?:jpg|png|webp))$")
_SRCSET_ITEM = re.compile(r"^/media/([0-9a-f]{32}\.(?:jpg|png|webp)) \d{1,6}w$")
# What a post's image has that the server fills in from the upload's record.
_DERIVED = frozenset({"srcset", "poster", "poster_srcset"})


@dataclass
class Restored:
    """What restoring an archive did besides the blog: accounts it had to make (deactivated,
    without a password, until an admin lets them in) and other things worth saying."""

    blog: Blog
    new_accounts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _where(number: int, headline: str) -> str:
    shown = headline if len(headline) <= 60 else headline[:57] + "…"
    return f"post {number} ({shown!r})" if shown else f"post {number}"


def _content(
    headline: str,
    body: str,
    byline: Byline,
    contributors: list[str] | None,
    media: list[Media],
) -> dict[str, Any]:
    return {
        "headline": headline,
        "body": body,
        "byline": byline.to_json(),
        "contributors": contributors,
        # The server derives these from its own uploads; they are checked on their own.
        "media": [{k: v for k, v in m.to_json().items() if k not in _DERIVED} for m in media],
    }


def check_post(post: Post, where: str) -> None:
    """Refuse (Invalid, naming `where`) what the API would refuse in this post."""
    data = _content(post.headline, post.body, post.byline, post.contributors, post.media)
    data.update(tags=post.tags, pinned=post.pinned, key_event=post.key_event)
    if post.published_at is not None:
        data["published_at"] = post.published_at
    try:
        parse(PostCreate, data)
        if post.status is PostStatus.PUBLISHED and post.published_at is None:
            raise Invalid("published_at: a published post needs the time it was published")
        for name in ("created_at", "updated_at"):
            moment = getattr(post, name)
            if moment is not None:
                inputs.check_past_time(name, moment)
        if post.publish_at is not None:
            inputs.check_aware("publish_at", post.publish_at)
        for name in ("correction", "delete_reason", "review_note"):
            if getattr(post, name) is not None:
                inputs.check_text(name, getattr(post, name), 2000)
    except Invalid as exc:
        raise Invalid(f"{where}: {exc.message}", field=exc.field) from None


def check_revision(revision: Revision, where: str) -> None:
    data = _content(
        revision.headline, revision.body, revision.byline, revision.contributors, revision.media
    )
    try:
        parse(PostCreate, data)
        inputs.check_past_time("created_at", revision.created_at)
        if revision.note is not None:
            inputs.check_text("note", revision.note, 2000)
    except Invalid as exc:
        raise Invalid(f"{where}, revision {revision.number}: {exc.message}") from None


def check_blog(blog: Blog) -> None:
    """Refuse (Invalid) a blog header the API would refuse, the slug first."""
    try:
        parse(
            BlogCreate,
            {
                "slug": blog.slug,
                "title": blog.title,
                "summary": blog.summary,
                "organisation": blog.organisation,
                "authors": [a.to_json() for a in blog.authors],
                "timezone": blog.timezone,
                "status": blog.status.value,
            },
        )
        for name in ("coverage_start", "coverage_end", "created_at", "updated_at"):
            moment = getattr(blog, name)
            if moment is not None:
                inputs.check_past_time(name, moment)
    except Invalid as exc:
        raise Invalid(f"the blog: {exc.message}", field=exc.field) from None


def _own_media(post_media: Iterable[Media], known: set[str], where: str) -> None:
    """An image at /media/NAME must be one the import brings (or this server holds); its
    srcset, poster and poster's srcset may name only such files."""
    for m in post_media:
        names: list[str] = []
        # An image may be elsewhere; a poster is always one of this server's.
        for url in (m.url if m.url and m.url.startswith("/media/") else None, m.poster):
            if url is not None:
                match = _OWN_MEDIA.fullmatch(url)
                if match is None:
                    raise Invalid(f"{where}: {url!r} is not an image of this server")
                names.append(match[1])
        srcsets = [s for s in (m.srcset, m.poster_srcset) if s]
        for item in (i for srcset in srcsets for i in srcset.split(", ")):
            match = _SRCSET_ITEM.fullmatch(item)
            if match is None:
                raise Invalid(f"{where}: srcset {item!r} is not a width of an uploaded image")
            names.append(match[1])
        for name in names:
            if name not in known:
                raise Invalid(f"{where}: the image /media/{name} is not in the archive")


class ImportCases(EmbedCases):
    async def blog_for_export(self, user: User | None, slug: str) -> Blog:
        """The blog, if `user` may export it whole (editors of it; None: the instance itself).
        Its posts in every status and its members' emails go with it."""
        blog = await self.store.get_blog(slug)
        if user is not None:
            await self._ensure(user, Action.EXPORT_BLOG, blog)
        return blog

    # -- other live blogs -------------------------------------------------------------------

    async def import_blog(
        self,
        imported: ImportedBlog,
        user: User | None = None,
        *,
        progress: Progress | None = None,
        batch: int = BATCH,
    ) -> Blog:
        """Import a blog read by one of the importers; on any error nothing is imported. `user`
        None is the instance itself (the command line, with the database's own credentials)."""
        if user is not None:
            permissions.check(user, Action.CREATE_BLOG)
        final = replace(imported.blog, id=None)
        check_blog(final)
        hidden, _ = await self.store.open_import(final)
        try:
            written, size = 0, batch
            pending: list[tuple[Post, Sequence[Revision]]] = []
            for number, item in enumerate(imported.posts, 1):
                pending.append(await self._prepared(item, number, final, user))
                if len(pending) >= size:
                    took = await self._write(hidden, pending)
                    written, pending = written + len(pending), []
                    size = self._next_batch(size, took, batch)
                    if progress is not None:
                        progress("posts", written, None)
            await self._write(hidden, pending)
            written += len(pending)
            if progress is not None:
                progress("posts", written, written)
            if written == 0:
                raise ImportFailed("there is nothing to import: the file holds no posts")
            async for done in self.store.log_imported(hidden, final, shapes.event_payload):
                if progress is not None:
                    progress("events", done, None)
                await self._breathe(0.0)
            members = [user.id] if user is not None and user.id is not None else []
            final.last_seq = 0  # the log decides
            blog = await self.store.close_import(hidden, final, members)
        except BaseException:
            await self._drop(hidden)
            raise
        await self._announce_last(blog)
        return blog

    async def _prepared(
        self, item: Post | ImportedPost, number: int, blog: Blog, user: User | None
    ) -> tuple[Post, list[Revision]]:
        """A post as the store takes it: checked, rendered, with all its revisions."""
        wrapped = item if isinstance(item, ImportedPost) else ImportedPost(item)
        post = wrapped.post
        where = _where(number, post.headline)
        post.id = ""
        post.blog_slug = blog.slug
        post.seq = None
        post.published_at = post.published_at if post.status is not PostStatus.DRAFT else None
        post.created_at = post.created_at or post.published_at
        post.updated_at = post.updated_at or post.created_at
        if post.created_at is None or post.updated_at is None:
            raise Invalid(f"{where}: a post needs the time it was written")
        check_post(post, where)
        for m in post.media:
            if m.url and m.url.startswith("/media/"):
                stored = await self.store.get_media(m.url.removeprefix("/media/").partition(".")[0])
                if stored is None:
                    raise Invalid(f"{where}: {m.url!r} is not an image of this server")
        post.author_id = user.id if user is not None else None
        self.apply_body(post, post.body)
        history: list[Revision] = []
        for i, earlier in enumerate(wrapped.earlier, 1):
            revision = replace(earlier, post_id="", number=i, user_id=None)
            check_revision(revision, where)
            history.append(revision)
        post.revision = len(history) + 1
        history.append(
            Revision(
                post_id="",
                number=post.revision,
                user_id=post.author_id,
                created_at=post.updated_at,
                note=post.correction,
                headline=post.headline,
                body=post.body,
                byline=post.byline,
                contributors=post.contributors,
                media=post.media,
            )
        )
        return post, history

    async def _slug_free(self, slug: str) -> None:
        try:
            await self.store.get_blog(slug)
        except NotFound:
            return
        raise Conflict(
            f"a blog with slug {slug!r} already exists; choose another slug", field="slug"
        )

    async def _write(self, hidden: Blog, pending: list[tuple[Post, Sequence[Revision]]]) -> float:
        """Write a batch, then breathe: how long the write took (seconds)."""
        if not pending:
            return 0.0
        started = time.monotonic()
        await self.store.add_imported(hidden, pending)
        took = time.monotonic() - started
        await self._breathe(took)
        return took

    def _next_batch(self, size: int, took: float, largest: int) -> int:
        if self.store.dialect != "sqlite":
            return largest
        if took > HOLD:
            return max(MIN_BATCH, size // 2)
        if took < HOLD / 2:
            return min(largest, size * 2)
        return size

    async def _breathe(self, took: float) -> None:
        """Between two batches, leave SQLite's one write lock free for as long as the batch
        held it (at least 50 ms): a live node's writes, waiting on the lock, get in."""
        if self.store.dialect == "sqlite":
            await asyncio.sleep(max(0.05, took))

    async def _drop(self, hidden: Blog, user_ids: Sequence[int] = ()) -> None:
        """Remove a failed import; if even that fails (the database is gone), the next import
        removes it once it is a day old, and nobody sees it meanwhile."""
        with contextlib.suppress(Exception):
            await asyncio.shield(self.store.drop_import(hidden, user_ids))

    async def _announce_last(self, blog: Blog) -> None:
        assert blog.id is not None
        if blog.last_seq:
            last = await self.store.events_after(blog.id, blog.last_seq - 1, limit=1)
            if last:
                self._announce(last[-1])

    # -- Dateline's own archives -------------------------------------------------------------

    async def restore_archive(
        self, archive: Archive, *, slug: str | None = None, progress: Progress | None = None
    ) -> Restored:
        """Restore an exported blog whole, as the instance itself (the command line): its posts
        in every status with their revisions and ids, its event log, its members and images.
        People the store does not know get accounts that are deactivated and have no password
        until an admin lets them in. Checked whole before anything is written."""
        header = archive.header
        b = header.blog
        final = Blog(
            slug=slug or b.slug,
            title=b.title,
            timezone=b.timezone,
            summary=b.summary,
            organisation=b.organisation,
            authors=[Person(a.name) for a in b.authors],
            status=BlogStatus(b.status),
            coverage_start=b.coverage_start,
            coverage_end=b.coverage_end,
            created_at=b.created_at,
            updated_at=b.updated_at,
            last_seq=b.last_seq,
            score=_restored_score(b.score),
        )
        check_blog(final)
        await self._slug_free(final.slug)
        people = {p.email: p for p in header.people}
        for email in people:
            if "@" not in email or email != email.strip().lower():
                raise Invalid(f"people: {email!r} is not an email address as Dateline keeps them")
        files = {f.name.removeprefix("media/") for f in header.files if f.name.startswith("media/")}
        uploads = {u.key: u for u in header.uploads}
        for upload in header.uploads:
            poster = upload.poster.variants if upload.poster else []
            for variant in [*upload.variants, *poster]:
                if variant.name not in files:
                    raise ImportFailed(f"upload {upload.key}: the file {variant.name} is missing")
            if upload.uploaded_by is not None and upload.uploaded_by not in people:
                raise ImportFailed(f"upload {upload.key}: {upload.uploaded_by!r} is not in people")
        # First pass: check every record before anything is written.
        ids = await self._check_archive(archive, final, people, files)
        taken = await self.store.post_ids_taken(sorted(ids))
        if taken:
            raise Conflict(
                f"this store already holds post {taken[0]!r} of this archive (and "
                f"{len(taken) - 1} more): an archive is restored once into a store"
            )
        known = await self.store.users_by_email(people)
        new_users = [
            User(
                email=p.email,
                name=p.name,
                role=Role(p.role),
                deactivated_at=datetime.now(UTC),
            )
            for email, p in sorted(people.items())
            if email not in known
        ]
        hidden, made = await self.store.open_import(final, new_users)
        added_files: list[str] = []
        try:
            user_ids = {u.email: u.id for u in [*known.values(), *new_users]}
            written, size = 0, BATCH
            pending: list[tuple[Post, Sequence[Revision]]] = []
            for _, record in archive.posts():
                pending.append(self._restored_post(record, final, user_ids))
                if len(pending) >= size:
                    took = await self._write(hidden, pending)
                    written, pending = written + len(pending), []
                    size = self._next_batch(size, took, BATCH)
                    if progress is not None:
                        progress("posts", written, header.posts)
            await self._write(hidden, pending)
            written += len(pending)
            if progress is not None:
                progress("posts", written, header.posts)
            done = 0
            events: list[LoggedEvent] = []
            for _, event in archive.events():
                events.append(
                    LoggedEvent(event.seq, EventType(event.type), event.post_id, event.at)
                )
                if len(events) >= 2000:
                    done += await self._write_events(hidden, final, events)
                    events = []
                    if progress is not None:
                        progress("events", done, header.events)
            done += await self._write_events(hidden, final, events)
            if progress is not None:
                progress("events", done, header.events)
            added_files = await asyncio.to_thread(
                images.add_files, Path(self.settings.media_dir), archive.media_dir, sorted(files)
            )
            records = [
                {
                    "key": u.key,
                    "content_type": u.content_type,
                    "width": u.width,
                    "height": u.height,
                    "variants": [v.model_dump() for v in u.variants],
                    "animated": u.animated,
                    "poster": u.poster.model_dump() if u.poster else None,
                    "alt": u.alt,
                    "caption": u.caption,
                    "credit": u.credit,
                    "uploaded_by": user_ids.get(u.uploaded_by) if u.uploaded_by else None,
                    "created_at": u.created_at,
                }
                for u in uploads.values()
            ]
            members = [user_ids[p.email] for p in people.values() if p.member]
            blog = await self.store.close_import(
                hidden, final, [i for i in members if i is not None], uploads=records
            )
        except BaseException:
            await self._drop(hidden, made)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    images.remove_files, Path(self.settings.media_dir), added_files
                )
            raise
        await self._announce_last(blog)
        return Restored(blog=blog, new_accounts=[u.email for u in new_users])

    async def _write_events(self, hidden: Blog, final: Blog, events: list[LoggedEvent]) -> int:
        if not events:
            return 0
        started = time.monotonic()
        await self.store.restore_events(hidden, final, events, shapes.event_payload)
        await self._breathe(time.monotonic() - started)
        return len(events)

    async def _check_archive(
        self, archive: Archive, final: Blog, people: dict[str, Any], files: set[str]
    ) -> set[str]:
        """Every post and event of the archive checked (the API's rules, references to people,
        images and posts, seqs): the posts' ids. Raises on the first problem."""
        ids: set[str] = set()
        seqs: set[int] = set()
        for number, record in archive.posts():
            where = f"posts.jsonl line {number}, {_where(len(ids) + 1, record.headline)}"
            if record.id in ids:
                raise ImportFailed(f"{where}: the id {record.id!r} appears twice")
            ids.add(record.id)
            for email in [record.author, *(r.by for r in record.revisions)]:
                if email is not None and email not in people:
                    raise ImportFailed(f"{where}: {email!r} is not in the archive's people")
            post, revisions = self._restored_post(record, final, {})
            check_post(post, where)
            _own_media(post.media, files, where)
            for e in record.embeds:
                if not providers.frame_allowed(e.url, e.frame):
                    raise ImportFailed(f"{where}: the embed of {e.url!r} has a frame from "
                                       f"{e.frame!r}, not its provider's")  # fmt: skip
                thumb = _OWN_MEDIA.fullmatch(e.thumbnail or "")
                if e.thumbnail is not None and (thumb is None or thumb[1] not in files):
                    raise ImportFailed(f"{where}: the embed thumbnail {e.thumbnail!r} is not in "
                                       "the archive's media")  # fmt: skip
            numbers = [r.number for r in revisions]
            if numbers != list(range(1, len(numbers) + 1)) or numbers[-1] != record.revision:
                raise ImportFailed(
                    f"{where}: its revisions are not numbered 1 to {record.revision}"
                )
            for revision in revisions:
                check_revision(revision, where)
                _own_media(revision.media, files, where)
            if record.seq is not None:
                if not 1 <= record.seq <= final.last_seq:
                    raise ImportFailed(f"{where}: seq {record.seq} is outside the event log")
                seqs.add(record.seq)
        previous = 0
        for number, event in archive.events():
            where = f"events.jsonl line {number}"
            if event.seq != previous + 1:
                raise ImportFailed(f"{where}: seq {event.seq} follows {previous}; seqs go 1, 2, 3…")
            previous = event.seq
            try:
                kind = EventType(event.type)
            except ValueError:
                raise ImportFailed(f"{where}: {event.type!r} is not an event type") from None
            if (event.post_id is None) != kind.value.startswith("blog."):
                raise ImportFailed(f"{where}: a {kind.value} event names {event.post_id!r}")
            if event.post_id is not None and event.post_id not in ids:
                raise ImportFailed(f"{where}: post {event.post_id!r} is not in the archive")
            inputs.check_past_time("at", event.at)
        if previous != final.last_seq:
            raise ImportFailed(
                f"events.jsonl ends at seq {previous}; the blog's last_seq is {final.last_seq}"
            )
        return ids

    def _restored_post(
        self, record: PostRecord, blog: Blog, user_ids: dict[str, int | None]
    ) -> tuple[Post, list[Revision]]:
        """An archived post and its revisions as the store takes them (writers by their id in
        this store)."""
        post = Post(
            blog_slug=blog.slug,
            id=record.id,
            headline=record.headline,
            body=record.body,
            byline=Byline.from_json(record.byline.model_dump()),
            contributors=record.contributors,
            media=[Media.from_json(m.model_dump()) for m in record.media],
            tags=record.tags,
            pinned=record.pinned,
            key_event=record.key_event,
            status=PostStatus(record.status),
            published_at=record.published_at,
            created_at=record.created_at,
            updated_at=record.updated_at,
            revision=record.revision,
            correction=record.correction,
            seq=record.seq,
            author_id=user_ids.get(record.author) if record.author else None,
            delete_reason=record.delete_reason,
            publish_at=record.publish_at,
            review_note=record.review_note,
            notify=record.notify,
            embeds=_embeds(record),
            poll=_poll(record),
        )
        # The archive's snapshots are kept (the originals may be gone); what it lacks is fetched.
        self.apply_body(post, post.body)
        revisions = [
            _revision(r, record.id, user_ids.get(r.by) if r.by else None) for r in record.revisions
        ]
        return post, revisions


def _poll(record: PostRecord) -> Poll | None:
    if record.poll is None:
        return None
    found = record.poll
    options = tuple(PollOption(o.text, o.votes) for o in found.options)
    return Poll(found.id, found.question, options, found.closes_at, found.created_at)


def _embeds(record: PostRecord) -> list[Embed]:
    found = (Embed.from_json(r.model_dump()) for r in record.embeds)
    return [e for e in found if providers.frame_allowed(e.url, e.frame)]


def _revision(record: RevisionRecord, post_id: str, user_id: int | None) -> Revision:
    return Revision(
        post_id=post_id,
        number=record.number,
        user_id=user_id,
        created_at=record.created_at,
        note=record.note,
        headline=record.headline,
        body=record.body,
        byline=Byline.from_json(record.byline.model_dump()),
        contributors=record.contributors,
        media=[Media.from_json(m.model_dump()) for m in record.media],
    )


def _restored_score(data: dict[str, Any] | None) -> Score | None:
    """An archive's score box, held to the API's rules (an archive may have been edited)."""
    if data is None:
        return None
    try:
        return set_score(None, inputs.parse(inputs.ScoreIn, data))
    except Invalid as exc:
        raise ImportFailed(f"archive.json: blog.score.{exc.message}") from None
