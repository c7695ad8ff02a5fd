#!/usr/bin/env python3
"""Warm the gateway's served cache for one tenant (runbook: docs/gateway.md#cache-warm).

./scripts/warm_served_cache.py --tenant tenant-1 --user deploy-bot \
        --redis-url $ACCESS_REDIS_URL --projection-url $ACCESS_PROJECTION_SERVICE_URL
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    repo = Path(__file__).resolve().parents[1]
    venv_python = repo / ".venv" / "bin" / "python"
    try:
        from access_gateway.warm.cli import main
    except ModuleNotFoundError:
        if venv_python.exists() and Path(sys.executable) != venv_python:
            import os

            os.execv(venv_python, [str(venv_python), __file__, *sys.argv[1:]])  # noqa: S606
        raise
    sys.exit(main())
