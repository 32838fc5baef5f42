"""Benchmarks, run as `python bench/<name>.py`; a package only so tests import one by name."""
