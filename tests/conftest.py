"""Shared pytest configuration: hypothesis profiles.

``ci`` (the default) runs enough examples to find boundary bugs without a
deadline (these machines are noisy); ``dev`` is quicker; ``thorough`` digs;
``fuzz`` is the long run of tests/test_fuzz.py.
Choose with HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
# the long fuzz run (README "Development"): 10,000 examples a test
settings.register_profile(
    "fuzz",
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# In CI (``FACTORDOSE_REQUIRE_SERVERS``, set by ``.ci/run``) nothing may be
# skipped: a skipped test, or a module skipped at import, fails instead.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("FACTORDOSE_REQUIRE_SERVERS"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may be: {report.longrepr}"


_SKIPPED_MODULES: list[str] = []


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped and os.environ.get("FACTORDOSE_REQUIRE_SERVERS"):
        _SKIPPED_MODULES.append(report.nodeid)
        report.outcome = "failed"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SKIPPED_MODULES:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


#: The site's today in every test, and in the commands they run
#: (dosing.shelf.clock): receiving and dispensing judge expiry on it, so no test
#: depends on the day it runs.  A test of the clock itself unsets it.
TEST_TODAY = "2026-12-08"
os.environ["FACTORDOSE_TODAY"] = TEST_TODAY
