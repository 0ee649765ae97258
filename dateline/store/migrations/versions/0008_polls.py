"""Readers' polls attached to posts, and their votes.

Revision ID: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("post_id", sa.Integer, nullable=False),
        sa.Column("blog_id", sa.Integer, nullable=False),
        sa.Column("question", sa.String(300), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("closes_at", sa.DateTime, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("votes", sa.Integer, nullable=False),
        sa.Column("announced_votes", sa.Integer, nullable=False),
        sa.Column("announced_at", sa.DateTime),
        sa.Column("final_announced", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_polls"),
        sa.UniqueConstraint("post_id", name="uq_polls_post_id"),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name="fk_polls_post_id_posts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["blog_id"], ["blogs.id"], name="fk_polls_blog_id_blogs", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "poll_votes",
        sa.Column("poll_id", sa.String(32), nullable=False),
        sa.Column("voter", sa.String(64), nullable=False),
        sa.Column("option", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("poll_id", "voter", name="pk_poll_votes"),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name="fk_poll_votes_poll_id_polls", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("poll_votes")
    op.drop_table("polls")
