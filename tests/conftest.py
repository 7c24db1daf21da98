"""Shared pytest configuration: hypothesis profiles.

``ci`` (the default) runs enough examples to find boundary bugs without a
deadline (these machines are noisy); ``dev`` is quicker; ``thorough`` digs;
``fuzz`` is the long run of tests/test_fuzz.py.
Choose with HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import os

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
