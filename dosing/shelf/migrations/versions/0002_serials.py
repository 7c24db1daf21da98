"""Serial numbers of scanned packages: each GTIN and serial received once.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "serials",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("serial", sa.String(20), nullable=False),
        sa.Column("movement_id", sa.Integer, sa.ForeignKey("movements.id"), nullable=False),
        # a GTIN and serial name one package worldwide (DSCSA), at every site
        sa.UniqueConstraint("gtin", "serial", name="serials_gtin_serial"),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger is not dropped by a migration")
