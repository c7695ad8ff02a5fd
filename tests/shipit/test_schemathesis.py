"""Schemathesis against every running service: no 500, no response that breaks its schema.

Each service runs as a real process (tests/shipit/stack.py, ACCESS_ENV=local, so auth's
dev issuer routes are fuzzed too) and is called with a valid dev token, so operations
behind authentication are reached past the 401.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .stack import SERVICES, LocalStack

pytestmark = pytest.mark.timeout(600)

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"
# Examples per operation and phase: enough to find 500s in every parameter and body
# shape; a few seconds per service on two cores.
MAX_EXAMPLES = 40


@pytest.mark.parametrize("service", SERVICES)
def test_no_server_error_and_no_schema_breach(
    stack: LocalStack, service: str, tmp_path: Path
) -> None:
    token = stack.token()
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")), "run",
            f"{stack.urls[service]}/openapi.json",
            "--checks", CHECKS,
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(MAX_EXAMPLES),
            "--workers", "1",
            "--seed", "254",
            "--header", f"Authorization: Bearer {token}",
            "--request-timeout", "10",
            # A long poll (wait up to 25 s by design) outlives any sane request timeout;
            # its own tests are in service-entitlements/tests.
            "--exclude-path", "/entitlements/policy-versions",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
