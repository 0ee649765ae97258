"""The tables, as SQLAlchemy Core metadata. Alembic migrations create them; a test checks that the
migrations and this file agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes on every engine (SQLite keeps no offset, so store naive UTC)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLite without type detection
            value = datetime.fromisoformat(value)
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

blogs = sa.Table(
    "blogs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("slug", sa.String(100), nullable=False, unique=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("organisation", sa.String(200), nullable=False, default=""),
    sa.Column("authors", sa.JSON, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("coverage_start", UTCDateTime),
    sa.Column("coverage_end", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("last_seq", sa.Integer, nullable=False, default=0),
    sa.Column("post_count", sa.Integer, nullable=False, default=0),
    # The live score box (model.Score as JSON); NULL while the blog has none.
    sa.Column("score", sa.JSON(none_as_null=True)),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(200)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Set while the account is deactivated; deactivating also ends its sessions and revokes its
    # tokens and pairings (store/people.py set_active).
    sa.Column("deactivated_at", UTCDateTime),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # sha256 of the token: a stolen database does not hand out working tokens.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("label", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)

memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "blog_id",
        sa.Integer,
        sa.ForeignKey("blogs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

posts = sa.Table(
    "posts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("public_id", sa.String(32), nullable=False, unique=True),
    sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("headline", sa.String(300), nullable=False, default=""),
    sa.Column("body", sa.Text, nullable=False, default=""),
    sa.Column("body_html", sa.Text, nullable=False, default=""),
    sa.Column("byline", sa.JSON, nullable=False),
    sa.Column("contributors", sa.JSON),
    sa.Column("media", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("pinned", sa.Boolean, nullable=False, default=False),
    sa.Column("key_event", sa.Boolean, nullable=False, default=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("published_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False, default=1),
    sa.Column("correction", sa.Text),
    sa.Column("seq", sa.Integer),
    sa.Column("delete_reason", sa.Text),
    # When a scheduled post goes out; the scheduler claims due posts by (status, publish_at).
    sa.Column("publish_at", UTCDateTime),
    # An editor's comment when sending a submitted post back to its writer.
    sa.Column("review_note", sa.Text),
    # Snapshots of the URLs alone on a line of the body, and when pending ones are fetched.
    sa.Column("embeds", sa.JSON, nullable=False, default=list),
    sa.Column("embeds_due", UTCDateTime),
    # A post from a reporter input: "PLATFORM:MESSAGE ID", unique (a redelivery posts nothing).
    sa.Column("origin", sa.String(320)),
    # Whether the blog's followers get a web push notification when the post goes out.
    sa.Column("notify", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_posts_blog_timeline", "blog_id", "status", "published_at", "public_id"),
    sa.Index("ix_posts_schedule", "status", "publish_at"),
    sa.Index("ix_posts_embeds_due", "embeds_due"),
    sa.Index("ix_posts_origin", "origin", unique=True),
)

revisions = sa.Table(
    "revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("headline", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("byline", sa.JSON, nullable=False),
    sa.Column("contributors", sa.JSON),
    sa.Column("media", sa.JSON, nullable=False),
    sa.Column("note", sa.Text),
    sa.UniqueConstraint("post_id", "number", name="uq_revisions_post_number"),
)

media = sa.Table(
    "media",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(80), nullable=False, unique=True),
    sa.Column("content_type", sa.String(64), nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("variants", sa.JSON, nullable=False),
    # An animated upload's variants are animated WebP; `poster` holds its first frame as a still:
    # {"content_type", "variants": [{"name", "width", "height"}]} (null for a still).
    sa.Column("animated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("poster", sa.JSON),
    sa.Column("alt", sa.Text, nullable=False),
    sa.Column("caption", sa.Text, nullable=False),
    sa.Column("credit", sa.Text, nullable=False),
    sa.Column("uploaded_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Console sign-ins. The cookie holds the session id; the store keeps only its sha256, so a stolen
# database does not hand out working sessions.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

# Failed sign-ins, by key ("email:…" and "ip:…"), for throttling across processes.
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(400), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_login_failures_key_at", "key", "at"),
)

# Values the instance makes once and every process shares (the cookie-signing key when
# DATELINE_SECRET_KEY is not set).
instance = sa.Table(
    "instance",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# The spine: one row per reader-visible change, written in the change's own transaction.
# (blog_id, seq) is the primary key, so a duplicate seq cannot be committed.
events = sa.Table(
    "events",
    metadata,
    sa.Column(
        "blog_id",
        sa.Integer,
        sa.ForeignKey("blogs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("post_id", sa.String(32)),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Who has a post open in the console's editor (renewed every few seconds while they do; a row
# older than a minute means they have gone). Shown to the others; it locks nobody out.
presence = sa.Table(
    "presence",
    metadata,
    sa.Column("post_id", sa.String(32), primary_key=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("seen_at", UTCDateTime, nullable=False),
)

# Readers' polls, one per post at most (store/polls.py). `votes` is the total, raised in each
# vote's own transaction by the same conditional UPDATE that refuses a vote on a closed poll;
# `announced_votes`/`announced_at`/`final_announced` say what the last results event told
# readers, so that of several nodes only one announces each change, at most once a second.
polls = sa.Table(
    "polls",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "post_id",
        sa.Integer,
        sa.ForeignKey("posts.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("question", sa.String(300), nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("closes_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("votes", sa.Integer, nullable=False, default=0),
    sa.Column("announced_votes", sa.Integer, nullable=False, default=0),
    sa.Column("announced_at", UTCDateTime),
    sa.Column("final_announced", sa.Boolean, nullable=False, default=False),
)

# One row per vote. `voter` is the sha256 of the poll's id and the random id in the browser's
# signed cookie: no address, no account, and one browser's votes in two polls cannot be linked.
poll_votes = sa.Table(
    "poll_votes",
    metadata,
    sa.Column(
        "poll_id",
        sa.String(32),
        sa.ForeignKey("polls.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("voter", sa.String(64), primary_key=True),
    sa.Column("option", sa.Integer, nullable=False),
)

# Signed webhooks (store/webhooks.py): every event of a blog's log, POSTed in seq order to each
# URL. `cursor` is the last seq the URL answered 2xx to; a node delivers to a webhook only while
# it holds its lease (`leased_by` until `lease_until`, taken by a conditional UPDATE), so two
# nodes never deliver to one URL at once, and a dead node's lease runs out.
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    # The HMAC key; the receiver holds the same (a hash would not let Dateline sign).
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("cursor", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("failing_since", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("paused_reason", sa.Text),
    sa.Column("leased_by", sa.String(64)),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_webhooks_due", "state", "next_attempt_at"),
)

# The last attempts of each webhook (a bounded log: older rows are dropped as new ones come).
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "webhook_id",
        sa.Integer,
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("status", sa.Integer),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Index("ix_webhook_deliveries_webhook_id", "webhook_id", "id"),
)

# -- reporter inputs (intake/): Telegram, Slack, email ------------------------------------------

# One-time pairing codes made in the console. Only the code's sha256 is kept; a code is used once
# (the UPDATE that spends it is conditional on `used_at IS NULL` and `expires_at`).
intake_codes = sa.Table(
    "intake_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime),
)

# A platform identity (a Telegram user id, "TEAM:USER" on Slack, an email address) paired with a
# Dateline user; revoking sets `revoked_at` and the identity is a stranger again at once.
# `blog_id` is the blog a Telegram reporter chose with /blog.
intake_pairings = sa.Table(
    "intake_pairings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("identity", sa.String(320), nullable=False),
    sa.Column("label", sa.String(200), nullable=False, default=""),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id", ondelete="SET NULL")),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
    sa.UniqueConstraint("platform", "identity", name="uq_intake_pairings_platform_identity"),
)

# Each platform message received, by the platform's own id: a retried delivery finds its row
# (the primary key refuses a second) and is answered with the same post. `reply_ref` is the id
# of the bot's confirmation (a reply to it edits the post); `auth` the DKIM/SPF results of mail.
intake_messages = sa.Table(
    "intake_messages",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("message_id", sa.String(300), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id", ondelete="CASCADE")),
    sa.Column("post_id", sa.String(32)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("reply_ref", sa.String(200)),
    sa.Column("auth", sa.JSON),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_intake_messages_reply_ref", "platform", "reply_ref"),
)

# A chat channel linked to a blog by an editor ("TEAM:CHANNEL" on Slack).
intake_channels = sa.Table(
    "intake_channels",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("channel", sa.String(200), primary_key=True),
    sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("linked_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# What an editor's message does in a blog: "publish" (the default, no row) or "draft".
# Contributors' messages are always submitted for review.
intake_blogs = sa.Table(
    "intake_blogs",
    metadata,
    sa.Column(
        "blog_id",
        sa.Integer,
        sa.ForeignKey("blogs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("editor_posts", sa.String(16), nullable=False),
)

# Web push (store/push.py). A follower is the push service's endpoint and the browser's two keys
# for one blog: no address, no user agent, no account.
push_subscriptions = sa.Table(
    "push_subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("endpoint", sa.String(1000), nullable=False),
    sa.Column("p256dh", sa.String(100), nullable=False),
    sa.Column("auth", sa.String(50), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("blog_id", "endpoint", name="uq_push_subscriptions_blog_id"),
)

# How far web push has read each followed blog's event log, the newest post waiting to be
# announced (at most one notification per push_min_minutes), and when the last one went out.
# Whichever node moves `seen_seq` (a conditional UPDATE) turns those events into messages.
push_blogs = sa.Table(
    "push_blogs",
    metadata,
    sa.Column(
        "blog_id", sa.Integer, sa.ForeignKey("blogs.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("seen_seq", sa.Integer, nullable=False),
    sa.Column("pending_post", sa.String(32)),
    sa.Column("sent_at", UTCDateTime),
)

# One notification of a blog (its JSON, encrypted per follower when sent); `final` is the last
# notice of ended coverage, after which each follower's subscription is removed.
push_messages = sa.Table(
    "push_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("blog_id", sa.Integer, sa.ForeignKey("blogs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("final", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# A message still to deliver to one follower; a node claims it by moving `next_at` past now
# (a lease), and puts it off further after a failure (back-off).
push_deliveries = sa.Table(
    "push_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "message_id",
        sa.Integer,
        sa.ForeignKey("push_messages.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("push_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_at", UTCDateTime, nullable=False),
    sa.Index("ix_push_deliveries_next_at", "next_at"),
)
