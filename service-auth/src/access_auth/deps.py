"""FastAPI dependencies of the auth service, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from access_auth.dev.issuer import DevIssuer
from access_auth.runtime import AuthRuntime
from access_auth.settings import AuthSettings
from access_auth.validation.verifier import TokenVerifier
from access_common.errors import NotFound

__all__ = ["DevIssuerDep", "RuntimeDep", "SettingsDep", "VerifierDep", "verifier_of"]


async def get_runtime(request: Request) -> AuthRuntime:
    """The runtime the lifespan stored on the app."""
    runtime: AuthRuntime = request.app.state.auth
    return runtime


async def get_settings(request: Request) -> AuthSettings:
    """The app's settings."""
    settings: AuthSettings = request.app.state.settings
    return settings


def verifier_of(request: Request) -> TokenVerifier:
    """The token verifier of the app serving ``request``."""
    runtime: AuthRuntime = request.app.state.auth
    return runtime.verifier


async def get_verifier(request: Request) -> TokenVerifier:
    """The token verifier, as a dependency."""
    return verifier_of(request)


async def get_dev_issuer(runtime: Annotated[AuthRuntime, Depends(get_runtime)]) -> DevIssuer:
    """The dev issuer; its routes exist only in local, so this is a safety net."""
    if runtime.dev_issuer is None:
        raise NotFound
    return runtime.dev_issuer


RuntimeDep = Annotated[AuthRuntime, Depends(get_runtime)]
SettingsDep = Annotated[AuthSettings, Depends(get_settings)]
VerifierDep = Annotated[TokenVerifier, Depends(get_verifier)]
DevIssuerDep = Annotated[DevIssuer, Depends(get_dev_issuer)]
