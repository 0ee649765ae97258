"""Animated uploads: whether an upload moves, and its still poster.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media") as batch:
        # Every upload before this revision is a still.
        batch.add_column(
            sa.Column("animated", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("poster", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.drop_column("poster")
        batch.drop_column("animated")
