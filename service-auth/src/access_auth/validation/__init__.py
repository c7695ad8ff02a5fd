"""Token verification: structure, algorithm policy, key selection, signature and claims."""

from access_auth.validation.claims import ClaimsPolicy, Principal, principal_from_claims
from access_auth.validation.token import TokenHeader, parse_header
from access_auth.validation.verifier import TokenVerifier

__all__ = [
    "ClaimsPolicy",
    "Principal",
    "TokenHeader",
    "TokenVerifier",
    "parse_header",
    "principal_from_claims",
]
