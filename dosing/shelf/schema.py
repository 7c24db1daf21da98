"""The ledger's tables, for queries (the migrations in ``migrations/`` create them)."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "KINDS",
    "dispenses",
    "keys",
    "lots",
    "metadata",
    "movements",
    "serials",
    "sessions",
    "sign_in_failures",
    "tokens",
    "users",
]

#: What a movement records: vials in (receive, return) or out (dispense, waste),
#: or a signed correction (adjust).
KINDS = ("receive", "dispense", "return", "waste", "adjust")

metadata = sa.MetaData()

lots = sa.Table(
    "lots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("lot", sa.String(64), nullable=False),
    sa.Column("ndc", sa.String(11)),
    sa.Column("product", sa.String(64)),
    sa.Column("amount", sa.String(64), nullable=False),  # an exact fraction, "2125/2"
    sa.Column("expires", sa.Date),
    sa.Column("volume_ml", sa.String(32)),
    # the sum of the lot's movements, kept by a trigger on movements (migration 0003)
    sa.Column("on_hand", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("site", "lot", name="lots_site_lot"),
)

dispenses = sa.Table(
    "dispenses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("user", sa.String(64), nullable=False),
    sa.Column("patient", sa.String(64)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("order_json", sa.Text),
    sa.Column("plan_json", sa.Text),
    # the caller's key for the request: the same key twice records one dispense (0005)
    sa.Column("request_key", sa.String(64), unique=True),
    # what the dispense was for and when its vials left, and a stop's override (0006)
    sa.Column("service_date", sa.Date),
    sa.Column("drug", sa.String(64)),  # the code set's drug (codes sharing it)
    sa.Column("left_on", sa.Date),  # the site's day the vials left: expiry judged on it
    sa.Column("override_reason", sa.String(200)),
    sa.Column("override_by", sa.String(64)),
    sa.Column("override_stops", sa.String(200)),  # the stop ids overridden, comma-separated
)

#: failed sign-ins per account ("user:NAME") and client address ("address:ADDR") (0007)
sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last", sa.DateTime(timezone=True), nullable=False),
)

#: secrets the service keeps (the key its pages sign Dispense forms with)
keys = sa.Table(
    "keys",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
)

movements = sa.Table(
    "movements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("lot_id", sa.Integer, sa.ForeignKey("lots.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("user", sa.String(64), nullable=False),
    sa.Column("patient", sa.String(64)),
    sa.Column("dispense_id", sa.Integer, sa.ForeignKey("dispenses.id"), index=True),
    sa.Column("reason", sa.String(200)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

serials = sa.Table(
    "serials",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("gtin", sa.String(14), nullable=False),
    sa.Column("serial", sa.String(20), nullable=False),
    sa.Column("movement_id", sa.Integer, sa.ForeignKey("movements.id"), nullable=False),
    sa.UniqueConstraint("gtin", "serial", name="serials_gtin_serial"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("password", sa.String(256), nullable=False),  # scrypt$n$r$p$salt$hash
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),  # SHA-256 of the token
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),  # SHA-256 of the cookie
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
)
