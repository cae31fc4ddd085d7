"""pgconsole benchmarks: `python -m bench --help`. Not part of the test suite (see docs/BENCHMARKS.md)."""
