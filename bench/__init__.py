"""Benchmarks run by `make bench`; each writes a JSON report under runtime/bench/."""
