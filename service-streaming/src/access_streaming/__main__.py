"""Allow `python -m access_streaming`."""

from access_streaming.main import run

run()
