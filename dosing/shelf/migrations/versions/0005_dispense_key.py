"""A dispense's request key: the same request sent twice (a double click, a
retry) records one dispense.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dispenses") as batch:
        batch.add_column(sa.Column("request_key", sa.String(64)))
    op.create_index("dispenses_request_key", "dispenses", ["request_key"], unique=True)


def downgrade() -> None:
    raise NotImplementedError("the ledger is not dropped by a migration")
