"""Body decoding: what a request or response body is, decided from its content and type.

Apps send JSON as ``text/plain`` and forms without a Content-Type, so the
declared type is a hint, not the answer.  The result is a :class:`Body`:
its kind and the decoded value for structured kinds.  GraphQL and JSON-RPC
(several operations behind one URL) are :mod:`zapi.analyzer.protocols`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from zapi.har import MultipartField

__all__ = ["Body", "BodyKind", "decode_body"]


class BodyKind:
    """The kinds of body the analyzer distinguishes."""

    NONE = "none"
    JSON = "json"
    FORM = "form"
    MULTIPART = "multipart"
    XML = "xml"
    HTML = "html"
    TEXT = "text"
    BINARY = "binary"


MEDIA = {
    BodyKind.JSON: "application/json",
    BodyKind.FORM: "application/x-www-form-urlencoded",
    BodyKind.MULTIPART: "multipart/form-data",
    BodyKind.XML: "application/xml",
    BodyKind.HTML: "text/html",
    BodyKind.TEXT: "text/plain",
    BodyKind.BINARY: "application/octet-stream",
}


@dataclass
class Body:
    """A decoded body.

    ``value`` is the JSON value (JSON), a field mapping (form, multipart:
    repeated fields become lists, files become ``{"filename", "content_type"}``
    markers) or ``None``; ``media`` is the media type to declare.
    """

    kind: str
    value: Any = None
    media: str = ""
    files: list[str] = field(default_factory=list)
    size: int = 0


_FORM_RE = re.compile(r"^[\w.\-\[\]%+*~]+=[^&]*(&[\w.\-\[\]%+*~]+=[^&]*)*$")


def _base_mime(mime: str) -> str:
    return mime.split(";", 1)[0].strip().lower()


def decode_body(
    raw: bytes | None,
    mime: str,
    params: list[MultipartField] | None = None,
    *,
    limit: int = 8_000_000,
) -> Body:
    """Decode a body from its bytes, declared media type and HAR ``params``."""
    base = _base_mime(mime)
    if (raw is None or raw == b"") and params and ("multipart" in base or not base):
        return _multipart_from_params(params)
    if (raw is None or raw == b"") and params and "urlencoded" in base:
        return Body(
            BodyKind.FORM, _fields([(p.name, p.value or "") for p in params]), MEDIA[BodyKind.FORM]
        )
    if raw is None or raw == b"":
        return Body(BodyKind.NONE)
    size = len(raw)
    if size > limit:
        return Body(BodyKind.BINARY, None, base or MEDIA[BodyKind.BINARY], size=size)
    if "multipart/" in base:
        return _multipart_from_bytes(raw, mime, params)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Body(BodyKind.BINARY, None, base or MEDIA[BodyKind.BINARY], size=size)
    stripped = text.lstrip()
    if base.endswith("json") or stripped[:1] in ("{", "["):
        try:
            return Body(BodyKind.JSON, json.loads(text), _json_media(base), size=size)
        except ValueError:
            if base.endswith("json"):
                return Body(BodyKind.TEXT, None, base, size=size)
    if "urlencoded" in base or (not base or base == "text/plain") and _FORM_RE.match(text):
        return Body(
            BodyKind.FORM,
            _fields(parse_qsl(text, keep_blank_values=True)),
            MEDIA[BodyKind.FORM],
            size=size,
        )
    if "html" in base or stripped[:15].lower().startswith(("<!doctype html", "<html")):
        return Body(BodyKind.HTML, None, "text/html", size=size)
    if (
        "xml" in base
        or stripped.startswith("<?xml")
        or (stripped.startswith("<") and stripped.rstrip().endswith(">"))
    ):
        return Body(BodyKind.XML, None, base if "xml" in base else MEDIA[BodyKind.XML], size=size)
    if base.startswith(("image/", "audio/", "video/", "font/")) or base in (
        "application/octet-stream",
        "application/pdf",
        "application/zip",
    ):
        return Body(BodyKind.BINARY, None, base, size=size)
    return Body(BodyKind.TEXT, None, base or MEDIA[BodyKind.TEXT], size=size)


def _json_media(base: str) -> str:
    if base.endswith("json") and base not in ("text/json",):
        return base
    return "application/json"


def _fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k.endswith("[]"):
            k = k[:-2]
            out.setdefault(k, [])
        if k in out:
            if not isinstance(out[k], list):
                out[k] = [out[k]]
            out[k].append(v)
        else:
            out[k] = v
    return out


def _multipart_from_params(params: list[MultipartField]) -> Body:
    value: dict[str, Any] = {}
    files = []
    for p in params:
        if p.filename is not None:
            files.append(p.name)
            value[p.name] = {"filename": p.filename, "content_type": p.content_type or ""}
        else:
            value[p.name] = p.value or ""
    return Body(BodyKind.MULTIPART, value, MEDIA[BodyKind.MULTIPART], files=files)


def _multipart_from_bytes(raw: bytes, mime: str, params: list[MultipartField] | None) -> Body:
    head = f"Content-Type: {mime}\r\n\r\n".encode()
    try:
        msg = BytesParser(policy=HTTP).parsebytes(head + raw)
    except (ValueError, TypeError):
        msg = None
    if msg is None or not msg.is_multipart():
        if params:
            return _multipart_from_params(params)
        return Body(BodyKind.MULTIPART, {}, MEDIA[BodyKind.MULTIPART], size=len(raw))
    value: dict[str, Any] = {}
    files = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = part.get_filename()
        if filename is not None:
            files.append(name)
            value[name] = {"filename": filename, "content_type": part.get_content_type()}
        else:
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            value[name] = text
    return Body(BodyKind.MULTIPART, value, MEDIA[BodyKind.MULTIPART], files=files, size=len(raw))
