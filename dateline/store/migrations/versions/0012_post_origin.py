"""Where a post from a reporter input came from, unique: a redelivered message makes no second
post, even when the node that posted it died before recording so.

Revision ID: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("origin", sa.String(320)))
        batch.create_index("ix_posts_origin", ["origin"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_origin")
        batch.drop_column("origin")
