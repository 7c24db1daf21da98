"""Sign-in throttling: failed sign-ins counted per account and per client address.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(128), primary_key=True),  # "user:NAME" or "address:ADDR"
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger is not dropped by a migration")
