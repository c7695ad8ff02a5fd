"""Allow `python -m access_auth`."""

from access_auth.main import run

run()
