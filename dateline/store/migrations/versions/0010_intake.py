"""Reporter inputs: pairing codes, pairings, received messages, linked channels, blog modes.

Revision ID: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("used_at", sa.DateTime),
        sa.PrimaryKeyConstraint("code_hash", name="pk_intake_codes"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_intake_codes_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "intake_pairings",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("identity", sa.String(320), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("blog_id", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime),
        sa.PrimaryKeyConstraint("id", name="pk_intake_pairings"),
        sa.UniqueConstraint("platform", "identity", name="uq_intake_pairings_platform_identity"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_intake_pairings_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blogs.id"], name="fk_intake_pairings_blog_id_blogs", ondelete="SET NULL"
        ),
    )
    op.create_table(
        "intake_messages",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("user_id", sa.Integer),
        sa.Column("blog_id", sa.Integer),
        sa.Column("post_id", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("reply_ref", sa.String(200)),
        sa.Column("auth", sa.JSON),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("platform", "message_id", name="pk_intake_messages"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_intake_messages_user_id_users", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blogs.id"], name="fk_intake_messages_blog_id_blogs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_intake_messages_reply_ref", "intake_messages", ["platform", "reply_ref"])
    op.create_table(
        "intake_channels",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("blog_id", sa.Integer, nullable=False),
        sa.Column("linked_by", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("platform", "channel", name="pk_intake_channels"),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blogs.id"], name="fk_intake_channels_blog_id_blogs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["linked_by"],
            ["users.id"],
            name="fk_intake_channels_linked_by_users",
            ondelete="SET NULL",
        ),
    )
    op.create_table(
        "intake_blogs",
        sa.Column("blog_id", sa.Integer, nullable=False),
        sa.Column("editor_posts", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("blog_id", name="pk_intake_blogs"),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blogs.id"], name="fk_intake_blogs_blog_id_blogs", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("intake_blogs")
    op.drop_table("intake_channels")
    op.drop_index("ix_intake_messages_reply_ref", table_name="intake_messages")
    op.drop_table("intake_messages")
    op.drop_table("intake_pairings")
    op.drop_table("intake_codes")
