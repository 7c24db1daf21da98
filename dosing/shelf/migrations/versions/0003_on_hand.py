"""Each lot's vials on hand, kept by the database: the sum of its movements.

A trigger adds every new movement's quantity to its lot's ``on_hand`` in the
same transaction, so the stock is read from one row per lot however long the
ledger grows, and a CHECK refuses a balance below zero in the database itself.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE lots ADD COLUMN on_hand INTEGER NOT NULL DEFAULT 0 "
        "CONSTRAINT lots_on_hand_not_negative CHECK (on_hand >= 0)"
    )
    op.execute(
        "UPDATE lots SET on_hand = "
        "(SELECT COALESCE(SUM(quantity), 0) FROM movements WHERE movements.lot_id = lots.id)"
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER movements_on_hand AFTER INSERT ON movements BEGIN "
            "UPDATE lots SET on_hand = on_hand + NEW.quantity WHERE id = NEW.lot_id; END"
        )
    else:
        op.execute(
            "CREATE FUNCTION movements_on_hand() RETURNS trigger AS $$ BEGIN "
            "UPDATE lots SET on_hand = on_hand + NEW.quantity WHERE id = NEW.lot_id; "
            "RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER movements_on_hand AFTER INSERT ON movements "
            "FOR EACH ROW EXECUTE FUNCTION movements_on_hand()"
        )


def downgrade() -> None:
    raise NotImplementedError("the ledger is not dropped by a migration")
