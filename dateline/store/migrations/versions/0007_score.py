"""A blog's live score box: two sides, their scores and a status line, as JSON.

Revision ID: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("blogs") as batch:
        batch.add_column(sa.Column("score", sa.JSON(none_as_null=True)))


def downgrade() -> None:
    with op.batch_alter_table("blogs") as batch:
        batch.drop_column("score")
