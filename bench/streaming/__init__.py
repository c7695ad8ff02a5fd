"""Streaming fan-out benchmark: `make bench-streaming` (`python -m bench.streaming`)."""
