"""Request, response and routing primitives shared by the sample servers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Any
from urllib.parse import parse_qs, unquote

__all__ = [
    "DROP",
    "Handler",
    "HttpError",
    "Part",
    "Request",
    "Response",
    "Router",
    "html_response",
    "json_response",
    "redirect",
    "text_response",
]


@dataclass(frozen=True)
class Part:
    """One field of a ``multipart/form-data`` body."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str = "text/plain"

    def text(self) -> str:
        """Return the field value decoded as UTF-8 (invalid bytes replaced)."""
        return self.data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Request:
    """An HTTP request as seen by a sample app handler.

    Attributes:
        method: Upper-case HTTP method.
        path: URL path without the query string, percent-decoding left to the router.
        query: Parsed query string (every value is a list, like ``parse_qs``).
        headers: Header values keyed by lower-case name (repeated headers joined by ``", "``).
        body: Raw request body.
        params: Path parameters filled in by the router.
    """

    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    params: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str, default: str = "") -> str:
        """Return a header value by case-insensitive name."""
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str = "") -> str:
        """Return the first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def int_arg(self, name: str, default: int, *, low: int = 1, high: int = 1_000_000) -> int:
        """Return an integer query parameter clamped to ``[low, high]``.

        Raises:
            HttpError: 422 when the value is not an integer.
        """
        raw = self.arg(name)
        if raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise HttpError.validation(f"{name} must be an integer", name) from None
        return max(low, min(high, value))

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies from the ``Cookie`` header (later duplicates win)."""
        jar: dict[str, str] = {}
        for chunk in self.header("cookie").split(";"):
            name, sep, value = chunk.strip().partition("=")
            if sep and name:
                jar[name] = value.strip().strip('"')
        return jar

    @property
    def media_type(self) -> str:
        """The ``Content-Type`` without parameters, lower-cased."""
        return self.header("content-type").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """Decode the body as JSON.

        Raises:
            HttpError: 415 when the content type is not JSON, 400 when the body is invalid.
        """
        if not self.media_type.endswith("json"):
            raise HttpError(415, {"error": "unsupported_media_type", "detail": "send JSON"})
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HttpError(400, {"error": "bad_json", "detail": str(exc)}) from exc

    def json_object(self) -> dict[str, Any]:
        """Decode the body as a JSON object.

        Raises:
            HttpError: As :meth:`json`, or 422 when the document is not an object.
        """
        document = self.json()
        if not isinstance(document, dict):
            raise HttpError.validation("request body must be a JSON object", "body")
        return document

    def form(self) -> dict[str, str]:
        """Decode an ``application/x-www-form-urlencoded`` body (first value per field).

        Raises:
            HttpError: 415 when the content type is something else.
        """
        if self.media_type != "application/x-www-form-urlencoded":
            raise HttpError(415, {"error": "unsupported_media_type", "detail": "send a form"})
        fields = parse_qs(self.body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {name: values[0] for name, values in fields.items()}

    def multipart(self) -> dict[str, Part]:
        """Decode a ``multipart/form-data`` body into parts keyed by field name.

        Raises:
            HttpError: 415 when the content type is not multipart, 400 when it is malformed.
        """
        header = Message()
        header["content-type"] = self.header("content-type")
        boundary = header.get_param("boundary")
        if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
            raise HttpError(415, {"error": "unsupported_media_type", "detail": "send multipart"})
        return _parse_multipart(self.body, boundary.encode("latin-1"))


def _parse_multipart(body: bytes, boundary: bytes) -> dict[str, Part]:
    delimiter = b"--" + boundary
    sections = body.split(delimiter)
    if len(sections) < 3:
        raise HttpError(400, {"error": "bad_multipart", "detail": "no parts found"})
    parts: dict[str, Part] = {}
    for section in sections[1:]:
        if section.startswith(b"--"):
            break
        head, sep, data = section.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise HttpError(400, {"error": "bad_multipart", "detail": "part without headers"})
        headers = Message()
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip()] = value.strip()
        raw_name = headers.get_param("name", header="content-disposition")
        if raw_name is None:
            raise HttpError(400, {"error": "bad_multipart", "detail": "part without a name"})
        raw_filename = headers.get_param("filename", header="content-disposition")
        name = collapse_rfc2231_value(raw_name)
        parts[name] = Part(
            name=name,
            data=data.removesuffix(b"\r\n"),
            filename=None if raw_filename is None else collapse_rfc2231_value(raw_filename),
            content_type=headers.get_content_type(),
        )
    return parts


@dataclass(frozen=True)
class Response:
    """An HTTP response; ``drop=True`` closes the connection without answering."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False

    def with_headers(self, *headers: tuple[str, str]) -> Response:
        """Return a copy with extra headers appended."""
        return Response(self.status, self.body, self.content_type, self.headers + headers)


DROP = Response(status=0, drop=True)
"""Sentinel response: shut the socket down without sending a byte."""


class HttpError(Exception):
    """Raised by handlers to answer with a JSON error document."""

    def __init__(
        self, status: int, payload: Mapping[str, Any], headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        """Build the error.

        Args:
            status: HTTP status code.
            payload: JSON object sent as the body.
            headers: Extra response headers.
        """
        super().__init__(f"{status} {payload}")
        self.response = json_response(payload, status, headers=headers)

    @classmethod
    def validation(cls, detail: str, field_name: str) -> HttpError:
        """A 422 ``{"error": "validation", "detail": ..., "field": ...}`` error."""
        return cls(422, {"error": "validation", "detail": detail, "field": field_name})

    @classmethod
    def not_found(cls, detail: str = "not found") -> HttpError:
        """A 404 ``{"error": "not_found"}`` error."""
        return cls(404, {"error": "not_found", "detail": detail})


def json_response(
    payload: object, status: int = 200, *, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """Serialise ``payload`` as a JSON response."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Response(status, body, "application/json", headers)


def html_response(
    html: str, status: int = 200, *, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """An HTML response."""
    return Response(status, html.encode("utf-8"), "text/html; charset=utf-8", headers)


def text_response(text: str, status: int = 200, content_type: str = "text/plain") -> Response:
    """A text response with the given media type (UTF-8)."""
    return Response(status, text.encode("utf-8"), f"{content_type}; charset=utf-8")


def redirect(
    location: str, status: int = 303, *, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """A redirect to ``location``."""
    return Response(status, b"", None, (("Location", location), *headers))


Handler = Callable[[Request], Response]


class Router:
    """Maps ``(method, path pattern)`` pairs to handlers; patterns use ``{name}`` segments."""

    def __init__(self) -> None:
        """Create an empty router."""
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` on paths matching ``pattern``.

        Args:
            method: HTTP method, e.g. ``"GET"``.
            pattern: Path such as ``/api/items/{sku}``; each ``{name}`` matches one segment.
            handler: Callable receiving the request with ``params`` filled in.
        """
        regex = ""
        for literal, name in re.findall(r"([^{]*)(?:\{(\w+)\})?", pattern):
            regex += re.escape(literal) + (f"(?P<{name}>[^/]+)" if name else "")
        self._routes.append((method.upper(), re.compile(f"^{regex}$"), handler))

    def dispatch(self, request: Request) -> Response:
        """Call the matching handler, mapping :class:`HttpError` to its response.

        ``HEAD`` is served by the ``GET`` handler (the body is not sent). Returns 404 when
        no pattern matches and 405 when only the method differs.
        """
        allowed: list[str] = []
        wanted = "GET" if request.method == "HEAD" else request.method
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match is None:
                continue
            if method != wanted:
                allowed.append(method)
                continue
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            try:
                return handler(_with_params(request, params))
            except HttpError as exc:
                return exc.response
        if allowed:
            return json_response(
                {"error": "method_not_allowed"}, 405, headers=(("Allow", ", ".join(allowed)),)
            )
        return json_response({"error": "not_found", "detail": request.path}, 404)


def _with_params(request: Request, params: dict[str, str]) -> Request:
    return Request(
        request.method, request.path, request.query, request.headers, request.body, params
    )
