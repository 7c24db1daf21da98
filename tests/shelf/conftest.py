"""The shelf's tests run on SQLite and, where a server is named, PostgreSQL.

``FACTORDOSE_TEST_PG`` names an empty PostgreSQL database (``.ci/run`` starts
one); without it the PostgreSQL cases are skipped with that reason, unless
``FACTORDOSE_REQUIRE_SERVERS`` is set (CI), where they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_ENV = "FACTORDOSE_TEST_PG"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shelf.db'}"
        return
    url = os.environ.get(PG_ENV)
    if not url:
        reason = f"no PostgreSQL server: set {PG_ENV} to an empty database (.ci/run starts one)"
        if os.environ.get("FACTORDOSE_REQUIRE_SERVERS"):
            pytest.fail(reason)
        pytest.skip(reason)
    engine = sa.create_engine(url)
    with engine.begin() as db:  # every test starts from an empty database
        db.execute(sa.text("DROP SCHEMA public CASCADE"))
        db.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    yield url
