"""Allow `python -m access_gateway`."""

from access_gateway.main import run

run()
