"""The ledger: lots, dispenses, and append-only movements.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("lot", sa.String(64), nullable=False),
        sa.Column("ndc", sa.String(11)),
        sa.Column("product", sa.String(64)),
        sa.Column("amount", sa.String(64), nullable=False),
        sa.Column("expires", sa.Date),
        sa.Column("volume_ml", sa.String(32)),
        sa.UniqueConstraint("site", "lot", name="lots_site_lot"),
    )
    op.create_table(
        "dispenses",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("patient", sa.String(64)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_json", sa.Text),
        sa.Column("plan_json", sa.Text),
    )
    op.create_table(
        "movements",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lot_id", sa.Integer, sa.ForeignKey("lots.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("patient", sa.String(64)),
        sa.Column("dispense_id", sa.Integer, sa.ForeignKey("dispenses.id")),
        sa.Column("reason", sa.String(200)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind in ('receive', 'dispense', 'return', 'waste', 'adjust')", name="movement_kind"
        ),
    )
    op.create_index("movements_lot", "movements", ["lot_id"])
    op.create_index("movements_dispense", "movements", ["dispense_id"])
    # movements are never changed or removed: corrections are new movements
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER movements_no_{action.lower()} BEFORE {action} ON movements "
                "BEGIN SELECT RAISE(ABORT, 'movements are append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION movements_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'movements are append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER movements_append_only BEFORE UPDATE OR DELETE ON movements "
            "FOR EACH ROW EXECUTE FUNCTION movements_append_only()"
        )


def downgrade() -> None:
    raise NotImplementedError("the ledger is not dropped by a migration")
