"""Embeds: the snapshots of a post's pasted URLs, and when pending ones are fetched.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("embeds", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("embeds_due", sa.DateTime))
        batch.create_index("ix_posts_embeds_due", ["embeds_due"])


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_embeds_due")
        batch.drop_column("embeds_due")
        batch.drop_column("embeds")
