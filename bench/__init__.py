"""Benchmarks of the access layer: `make bench` runs them and writes docs/benchmarks.md."""
