"""Print a dev token: ``python -m access_auth.dev --sub alice --tenant tenant-a --roles trader``.

Uses the same key file as the running service (creating it when missing), so the token
verifies against a local auth service. Refuses to run unless ACCESS_ENV=local.
"""

from __future__ import annotations

import argparse
import sys

from access_auth.dev.issuer import MAX_TTL_SECONDS, DevIssuer
from access_auth.settings import AuthSettings
from access_common.settings import SettingsError, load_settings


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m access_auth.dev", description="Print a development access token."
    )
    parser.add_argument("--sub", default="dev-user", help="subject (default: dev-user)")
    parser.add_argument("--tenant", default="tenant-a", help="tenant id (default: tenant-a)")
    parser.add_argument("--roles", type=_csv, default=[], help="comma-separated realm roles")
    parser.add_argument("--scopes", type=_csv, default=[], help="comma-separated scopes")
    parser.add_argument(
        "--ttl", type=int, default=3600, help=f"lifetime in seconds, 1..{MAX_TTL_SECONDS}"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Mint and print one token; exit 2 on bad arguments or outside local."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(AuthSettings)
    except SettingsError as exc:
        print(f"access_auth.dev: {exc}", file=sys.stderr)
        return 2
    if not settings.dev_issuer_enabled:
        print("access_auth.dev: the dev issuer exists only with ACCESS_ENV=local", file=sys.stderr)
        return 2
    if not 1 <= args.ttl <= MAX_TTL_SECONDS:
        print(f"access_auth.dev: --ttl must be within 1..{MAX_TTL_SECONDS}", file=sys.stderr)
        return 2
    issuer = DevIssuer.from_settings(settings)
    token = issuer.mint(
        sub=args.sub,
        tenant_id=args.tenant,
        roles=args.roles,
        scopes=args.scopes,
        ttl_seconds=args.ttl,
    )
    print(token)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
