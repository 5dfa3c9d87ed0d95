"""Sending one request: the only place httpx exceptions become zapi errors."""

from __future__ import annotations

import httpx

from runtime.policy import origin_of
from zapi.errors import ScopeDenied, TransportError

__all__ = ["MAX_REDIRECTS", "Transport", "was_sent"]

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def was_sent(exc: TransportError) -> bool:
    """Whether the server may have received the request that failed with ``exc``."""
    return bool(exc.context.get("sent", True))


def _translate(exc: httpx.TransportError, tool: str | None, url: str) -> TransportError:
    kind = type(exc).__name__
    # Nothing reached the server: the connection never opened or no pool slot was free.
    sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    what = "may have been received" if sent else "was not sent"
    return TransportError(
        f"{kind} calling {url}: {exc or 'no detail'}; the request {what}",
        tool=tool,
        sent=sent,
        kind=kind,
    )


class Transport:
    """Sends prepared requests through an injected ``httpx.Client``.

    Redirects are followed by hand: only for GET/HEAD, only within the same origin, so
    credentials never travel to another host.
    """

    def __init__(self, client: httpx.Client) -> None:
        """Wrap ``client`` (owned by the caller)."""
        self.client = client

    def send(self, request: httpx.Request, *, tool: str | None = None) -> httpx.Response:
        """Send ``request`` and read the whole response.

        Raises:
            TransportError: the request failed on the wire (see :func:`was_sent`).
            ScopeDenied: the server redirected to another origin.
        """
        origin = origin_of(str(request.url))
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = self.client.send(request, follow_redirects=False)
            except httpx.TransportError as exc:
                raise _translate(exc, tool, str(request.url)) from exc
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            target = response.url.join(location)
            if origin_of(str(target)) != origin:
                raise ScopeDenied(
                    f"{request.url} redirected to {origin_of(str(target))}; refusing to follow "
                    "a redirect to another host with credentials",
                    tool=tool,
                    host=origin_of(str(target)),
                )
            if request.method not in ("GET", "HEAD"):
                return response
            headers = httpx.Headers(request.headers)
            headers.pop("cookie", None)  # rebuilt from the jar for the new path
            request = self.client.build_request(request.method, target, headers=headers)
        raise TransportError(
            f"more than {MAX_REDIRECTS} redirects from {origin}",
            tool=tool,
            sent=True,
            kind="TooManyRedirects",
        )
