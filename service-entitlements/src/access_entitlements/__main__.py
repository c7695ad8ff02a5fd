"""Allow `python -m access_entitlements`."""

from access_entitlements.main import run

run()
