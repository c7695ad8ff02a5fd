"""Allow `python -m access_metrics`."""

from access_metrics.main import run

run()
