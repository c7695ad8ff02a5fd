"""POST /metrics/track: parse, validate and aggregate pushed samples."""
