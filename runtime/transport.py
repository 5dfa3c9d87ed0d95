"""Sending one request: the only place httpx exceptions become zapi errors."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from runtime.policy import origin_of
from runtime.request import WireRequest
from zapi.errors import (
    ExecutionError,
    InvalidArguments,
    ScopeDenied,
    TransportError,
    UpstreamStatusError,
)

__all__ = ["MAX_REDIRECTS", "Transport", "was_refused", "was_sent"]

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Nothing reached the server: the connection never opened or no pool slot was free.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The client itself refused to put the request on the wire.
_REFUSED = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)


def was_sent(exc: TransportError) -> bool:
    """Whether the server may have received the request that failed with ``exc``."""
    return bool(exc.context.get("sent", True))


def was_refused(exc: ExecutionError) -> bool:
    """Whether the request was refused before sending (resending the same cannot help)."""
    return bool(exc.context.get("refused", False))


def _translate(
    exc: httpx.TransportError, tool: str | None, url: str
) -> TransportError | InvalidArguments:
    kind = type(exc).__name__
    if isinstance(exc, _REFUSED):  # like any refusal: invalid input, nothing was sent
        return InvalidArguments(
            f"{tool}: {kind} for {url}: {exc or 'no detail'}; the request was refused before "
            "sending (nothing was sent)",
            tool=tool,
            sent=False,
            refused=True,
            kind=kind,
        )
    sent = not isinstance(exc, _NOT_SENT)
    what = "may have been received" if sent else "was not sent"
    return TransportError(
        f"{kind} calling {url}: {exc or 'no detail'}; the request {what}",
        tool=tool,
        sent=sent,
        kind=kind,
    )


class Transport:
    """Builds and sends requests through an injected ``httpx.Client``.

    Redirects are followed by hand: only for GET/HEAD, only within the same origin, so
    credentials never travel to another host, and never round a loop.
    """

    def __init__(self, client: httpx.Client) -> None:
        """Wrap ``client`` (owned by the caller)."""
        self.client = client

    def build(
        self,
        wire: WireRequest,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        *,
        tool: str | None = None,
    ) -> httpx.Request:
        """The ``httpx.Request`` of ``wire`` (client cookies merged, multipart encoded).

        Raises:
            InvalidArguments: the URL is not one httpx can send; nothing was sent.
        """
        try:
            return self.client.build_request(
                wire.method,
                wire.url,
                headers=list(wire.headers),
                cookies=dict(wire.cookies) or None,
                content=wire.content,
                data=dict(wire.fields) if files is not None or wire.fields else None,
                files=files or None,
            )
        except httpx.InvalidURL as exc:
            raise InvalidArguments(
                f"{tool}: cannot send to {wire.url!r}: {exc}; refused before sending",
                tool=tool,
                sent=False,
            ) from exc

    def send(self, request: httpx.Request, *, tool: str | None = None) -> httpx.Response:
        """Send ``request`` and read the whole response.

        Raises:
            TransportError: the request failed on the wire (see :func:`was_sent`).
            InvalidArguments: the client refused to send it (e.g. an illegal header).
            ScopeDenied: the server redirected to another origin.
            UpstreamStatusError: the redirects loop, or there are too many of them.
        """
        origin = origin_of(str(request.url))
        seen = {str(request.url)}
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
            if str(target) in seen:
                raise UpstreamStatusError(
                    f"{tool}: {response.url.path} redirects in a loop back to {target.path}; "
                    "stopped at the first repeat (the session may have expired: log in again)",
                    tool=tool,
                    status=response.status_code,
                    kind="RedirectLoop",
                )
            seen.add(str(target))
            headers = httpx.Headers(request.headers)
            headers.pop("cookie", None)  # rebuilt from the jar for the new path
            request = self.client.build_request(request.method, target, headers=headers)
        raise UpstreamStatusError(
            f"{tool}: more than {MAX_REDIRECTS} redirects from {origin}; stopped",
            tool=tool,
            status=response.status_code,
            kind="TooManyRedirects",
        )
