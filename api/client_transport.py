"""JSON over HTTP to the API, knowing nothing of wallets.

:class:`ApiTransport` sends one call and hands back the parsed JSON; a non-2xx answer
becomes :class:`~api.client_errors.ApiProblem` and no answer at all
:class:`~api.client_errors.ApiUnreachable`. Calls to paths outside
:data:`PUBLIC_PATHS` carry ``Bearer {token()}``; on a 401 the token is forgotten and the
call sent once more. The token comes from a subclass: :class:`api.client_sign_in.ApiSession`
signs in for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Self

import httpx

from api.client_errors import ApiProblem, ApiUnreachable

DEFAULT_API = "http://127.0.0.1:8000"

#: Paths anyone may read: no sign-in for these.
PUBLIC_PATHS = frozenset(
    {"/health", "/eip712", "/schema", "/departments", "/auth/challenge", "/auth/token"}
)


class ApiTransport:
    """One httpx client to the API at ``base_url``. Use as a context manager or call
    :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json, application/problem+json"},
        )

    # -- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the bearer token: a subclass signs in for it --------------------------------

    @property
    def signs_in(self) -> bool:
        """Whether calls to paths outside :data:`PUBLIC_PATHS` carry a token by default."""
        return False

    def token(self) -> str:
        """A valid bearer token."""
        raise NotImplementedError("a transport alone has no token (see ApiSession)")

    def forget_token(self) -> None:
        """Drop the token the server refused (401), so that the retry signs in afresh."""

    # -- calls ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        auth: bool | None = None,
    ) -> Any:
        """One call; parsed JSON (``None`` for an empty body); :class:`ApiProblem` if non-2xx.

        ``auth`` defaults to "yes unless the path is public"; a 401 on an authenticated
        call signs in again once and retries.
        """
        if auth is None:
            auth = path not in PUBLIC_PATHS and self.signs_in
        response = self._send(method, path, json=json, params=params, auth=auth)
        if response.status_code == 401 and auth:
            self.forget_token()
            response = self._send(method, path, json=json, params=params, auth=auth)
        if not response.is_success:
            raise ApiProblem.from_response(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiProblem(
                response.status_code,
                {"title": "Not JSON", "detail": f"{method} {path} answered non-JSON: {exc}"},
            ) from exc

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        auth: bool,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}"} if auth else {}
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            return self._http.request(method, path, json=json, params=clean, headers=headers)
        except httpx.TimeoutException as exc:
            raise ApiUnreachable(f"{method} {self.base_url}{path}: timed out") from exc
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"cannot reach the API at {self.base_url}: {exc}") from exc

    def _get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def _stream(self, path: str, params: Mapping[str, Any]) -> Iterator[bytes]:
        clean = {k: v for k, v in params.items() if v is not None}
        try:
            for attempt in (1, 2):
                headers = {"Authorization": f"Bearer {self.token()}"}
                with self._http.stream("GET", path, params=clean, headers=headers) as response:
                    if response.status_code == 401 and attempt == 1:
                        self.forget_token()
                        continue
                    if not response.is_success:
                        response.read()
                        raise ApiProblem.from_response(response)
                    yield from response.iter_bytes()
                    return
        except httpx.TimeoutException as exc:
            raise ApiUnreachable(f"GET {self.base_url}{path}: timed out") from exc
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"cannot reach the API at {self.base_url}: {exc}") from exc

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a ``{"data", "next_cursor"}`` list, following the cursor (a
        bare JSON list, from a server without pagination there, is one whole page)."""
        cursor = params.pop("cursor", None)
        while True:
            page = self._get(path, cursor=cursor, **params)
            if isinstance(page, list):
                yield from page
                return
            yield from page.get("data", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return
