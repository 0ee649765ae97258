"""Web push: followers' subscriptions, each blog's place in its event log, messages and their
deliveries; posts' "notify followers".

Revision ID: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("notify", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("blog_id", sa.Integer, nullable=False),
        sa.Column("endpoint", sa.String(1000), nullable=False),
        sa.Column("p256dh", sa.String(100), nullable=False),
        sa.Column("auth", sa.String(50), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_push_subscriptions"),
        sa.UniqueConstraint("blog_id", "endpoint", name="uq_push_subscriptions_blog_id"),
        sa.ForeignKeyConstraint(
            ["blog_id"],
            ["blogs.id"],
            name="fk_push_subscriptions_blog_id_blogs",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "push_blogs",
        sa.Column("blog_id", sa.Integer, nullable=False),
        sa.Column("seen_seq", sa.Integer, nullable=False),
        sa.Column("pending_post", sa.String(32)),
        sa.Column("sent_at", sa.DateTime),
        sa.PrimaryKeyConstraint("blog_id", name="pk_push_blogs"),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blogs.id"], name="fk_push_blogs_blog_id_blogs", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "push_messages",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("blog_id", sa.Integer, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("final", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_push_messages"),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blogs.id"], name="fk_push_messages_blog_id_blogs", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "push_deliveries",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("message_id", sa.Integer, nullable=False),
        sa.Column("subscription_id", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_push_deliveries"),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["push_messages.id"],
            name="fk_push_deliveries_message_id_push_messages",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["push_subscriptions.id"],
            name="fk_push_deliveries_subscription_id_push_subscriptions",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_push_deliveries_next_at", "push_deliveries", ["next_at"])


def downgrade() -> None:
    op.drop_index("ix_push_deliveries_next_at", table_name="push_deliveries")
    op.drop_table("push_deliveries")
    op.drop_table("push_messages")
    op.drop_table("push_blogs")
    op.drop_table("push_subscriptions")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("notify")
