"""The first schema: blogs, users, tokens, memberships, posts, revisions, media, events.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blogs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("coverage_start", sa.DateTime),
        sa.Column("coverage_end", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("post_count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_blogs"),
        sa.UniqueConstraint("slug", name="uq_blogs_slug"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_api_tokens_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "memberships",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("blog_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "blog_id", name="pk_memberships"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_memberships_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blogs.id"], name="fk_memberships_blog_id_blogs", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("blog_id", sa.Integer, nullable=False),
        sa.Column("author_id", sa.Integer),
        sa.Column("headline", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column("byline", sa.JSON, nullable=False),
        sa.Column("contributors", sa.JSON),
        sa.Column("media", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("pinned", sa.Boolean, nullable=False),
        sa.Column("key_event", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("published_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("correction", sa.Text),
        sa.Column("seq", sa.Integer),
        sa.Column("delete_reason", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_posts"),
        sa.UniqueConstraint("public_id", name="uq_posts_public_id"),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blogs.id"], name="fk_posts_blog_id_blogs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name="fk_posts_author_id_users", ondelete="SET NULL"
        ),
    )
    op.create_index(
        "ix_posts_blog_timeline", "posts", ["blog_id", "status", "published_at", "public_id"]
    )
    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("post_id", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("headline", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("byline", sa.JSON, nullable=False),
        sa.Column("contributors", sa.JSON),
        sa.Column("media", sa.JSON, nullable=False),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_revisions"),
        sa.UniqueConstraint("post_id", "number", name="uq_revisions_post_number"),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name="fk_revisions_post_id_posts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_revisions_user_id_users", ondelete="SET NULL"
        ),
    )
    op.create_table(
        "media",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("variants", sa.JSON, nullable=False),
        sa.Column("alt", sa.Text, nullable=False),
        sa.Column("caption", sa.Text, nullable=False),
        sa.Column("credit", sa.Text, nullable=False),
        sa.Column("uploaded_by", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_media"),
        sa.UniqueConstraint("key", name="uq_media_key"),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name="fk_media_uploaded_by_users", ondelete="SET NULL"
        ),
    )
    op.create_table(
        "events",
        sa.Column("blog_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("post_id", sa.String(32)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("blog_id", "seq", name="pk_events"),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blogs.id"], name="fk_events_blog_id_blogs", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    for table in (
        "events", "media", "revisions", "posts", "memberships", "api_tokens", "users", "blogs",
    ):  # fmt: skip
        op.drop_table(table)
