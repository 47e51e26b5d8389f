"""Answering a registry's 401: Basic credentials, or a bearer token from the challenge's realm.

The token flow is Docker's (distribution's token spec): GET ``realm?service=…&scope=…`` with Basic
credentials when there are some (anonymous otherwise); the answer is JSON with ``token`` (or
``access_token``). Tokens are cached per scope for the life of the client.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from runtime.image.registry.challenge import Challenge
from runtime.image.registry.credentials import Credentials
from runtime.image.registry.errors import AuthenticationFailed, RegistryError, RegistryUnreachable

if TYPE_CHECKING:
    import httpx  # only the calls that talk to a registry import it: ~2.4 MiB of an engine that never pulls


class Authenticator:
    def __init__(self, http: httpx.Client, registry: str, credentials: Credentials | None) -> None:
        self._http = http
        self._registry = registry
        self._credentials = credentials
        self._headers: dict[str, str] = {}      # scope -> Authorization value
        self._lock = threading.Lock()

    def header(self, scope: str) -> str | None:
        with self._lock:
            return self._headers.get(scope) or self._headers.get("*")

    def answer(self, challenges: list[Challenge], scope: str) -> str:
        """Work out the Authorization header for ``scope``; raises when it cannot be had."""
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        if bearer is not None:
            value = "Bearer " + self._token(bearer, scope)
            key = scope
        elif basic is not None:
            if self._credentials is None:
                raise AuthenticationFailed(f"registry {self._registry} wants a user name and password: "
                                           f"run `pyorch login {self._registry}`")
            value, key = self._credentials.basic(), "*"
        else:
            schemes = ", ".join(c.scheme for c in challenges) or "none"
            raise AuthenticationFailed(f"registry {self._registry} asks for unsupported authentication ({schemes})")
        with self._lock:
            self._headers[key] = value
        return value

    def _token(self, challenge: Challenge, scope: str) -> str:
        import httpx
        realm = challenge.params.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            raise AuthenticationFailed(f"registry {self._registry} sent a bearer challenge without a usable realm")
        params = {k: v for k, v in (("service", challenge.params.get("service")),
                                    ("scope", scope or challenge.params.get("scope"))) if v}
        headers = {"Authorization": self._credentials.basic()} if self._credentials else {}
        try:
            response = self._http.get(realm, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise RegistryUnreachable(f"token server {realm} of {self._registry}: {exc}") from exc
        if response.status_code in (401, 403):
            who = f"as {self._credentials.username}" if self._credentials else "anonymously"
            raise AuthenticationFailed(f"registry {self._registry} refused access {who} to {scope or 'the registry'}"
                                       + ("" if self._credentials else f" (try `pyorch login {self._registry}`)"))
        if response.status_code != 200:
            raise RegistryError(f"token server {realm} answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise RegistryError(f"token server {realm} did not answer JSON") from None
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"token server {realm} answered without a token")
        return token
