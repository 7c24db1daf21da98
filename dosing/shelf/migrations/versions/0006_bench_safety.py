"""Bench safety: what each dispense was for (drug, date of service, the day its
vials left the shelf) and the override of its stops; a key the pages sign their
Dispense forms with.

Dispenses recorded before this revision get their date of service and drug from
the order and plan JSON they recorded (the day they were recorded, when the order
named no date), so a second dispense for the same patient and day is caught on
an old ledger too.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dispenses") as batch:
        batch.add_column(sa.Column("service_date", sa.Date))
        batch.add_column(sa.Column("drug", sa.String(64)))
        batch.add_column(sa.Column("left_on", sa.Date))
        batch.add_column(sa.Column("override_reason", sa.String(200)))
        batch.add_column(sa.Column("override_by", sa.String(64)))
        batch.add_column(sa.Column("override_stops", sa.String(200)))
    op.create_index("dispenses_patient_day", "dispenses", ["patient", "service_date"])
    op.create_table(
        "keys",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )
    _backfill()


def _backfill() -> None:
    db = op.get_bind()
    table = sa.table(
        "dispenses",
        sa.column("id", sa.Integer),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("order_json", sa.Text),
        sa.column("plan_json", sa.Text),
        sa.column("service_date", sa.Date),
        sa.column("drug", sa.String(64)),
    )
    for row in db.execute(sa.select(table)).all():
        service, drug = _recorded(row.order_json, row.plan_json, row.at)
        db.execute(
            table.update().where(table.c.id == row.id).values(service_date=service, drug=drug)
        )


def _recorded(
    order_json: str | None, plan_json: str | None, at: dt.datetime | str | None
) -> tuple[dt.date | None, str | None]:
    """The date of service and drug a dispense recorded before 0006 was for."""
    from dosing.billing.codesets import load_code_set
    from dosing.errors import DosingError

    order = _object(order_json)
    plan = _object(plan_json)
    service = None
    named = order.get("date_of_service")
    if isinstance(named, str):
        try:
            service = dt.date.fromisoformat(named)
        except ValueError:
            service = None
    if service is None and at is not None:
        service = (at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(at)).date()
    drug = None
    code, code_set = plan.get("code"), plan.get("code_set")
    if isinstance(code, str) and isinstance(code_set, str):
        try:
            found = load_code_set(code_set).get(code)
        except (DosingError, OSError):
            found = None
        drug = None if found is None else found.product
    return service, drug


def _object(text: str | None) -> dict[str, object]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def downgrade() -> None:
    raise NotImplementedError("the ledger is not dropped by a migration")
