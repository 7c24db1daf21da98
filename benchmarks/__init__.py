"""factordose benchmarks: each compares against a baseline measured in the same run.

Run ``python -m benchmarks`` (full) or ``python -m benchmarks --quick`` (what CI
runs, so the suite keeps working).  Never imported by the test suite's
assertions about time: nothing here asserts a duration.
"""
