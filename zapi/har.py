"""Streaming HAR reader: entries from any producer, one at a time, in bounded memory.

Tolerant of what producers emit (Chromium/DevTools, Firefox, Playwright,
mitmproxy, Charles): a UTF-8 BOM, headers as a list or a mapping, missing
``postData.text`` (multipart ``params`` instead), base64 bodies, ``-1`` sizes,
underscore extras such as ``_resourceType`` and ``_webSocketMessages``.
An entry that cannot be understood is yielded as a :class:`SkippedEntry`
with the reason, never dropped silently; a file that is not JSON, or not a
HAR, raises :class:`~zapi.errors.HarParseError` naming the file and entry.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

import ijson

from zapi.errors import HarError, HarParseError

__all__ = [
    "HarEntry",
    "HarReader",
    "MultipartField",
    "SkippedEntry",
    "SplitMismatch",
    "iter_har",
    "iter_har_files",
]

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class MultipartField:
    """One field of a multipart body as recorded in ``postData.params``."""

    name: str
    value: str | None = None
    filename: str | None = None
    content_type: str | None = None


@dataclass(slots=True)
class HarEntry:
    """One request/response pair, normalised across producers.

    Bodies stay as recorded (text plus encoding) and are decoded on demand.
    """

    source: str
    index: int
    method: str
    url: str
    status: int
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    request_cookies: list[tuple[str, str]] = field(default_factory=list)
    request_mime: str = ""
    request_text_raw: str | None = None
    request_encoding: str | None = None
    request_params: list[MultipartField] = field(default_factory=list)
    response_mime: str = ""
    response_text_raw: str | None = None
    response_encoding: str | None = None
    response_size: int = -1
    resource_type: str = ""
    started: str = ""
    time_ms: float = -1.0
    is_websocket: bool = False
    redirect_url: str = ""
    failed_reason: str = ""

    # -- derived views -------------------------------------------------------
    @property
    def host(self) -> str:
        """Host (with port when not default) of the request URL."""
        return urlsplit(self.url).netloc.lower()

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of the request URL."""
        parts = urlsplit(self.url)
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}"

    @property
    def path(self) -> str:
        """URL path, ``/`` when empty."""
        return urlsplit(self.url).path or "/"

    @property
    def query(self) -> list[tuple[str, str]]:
        """Query pairs in order, repeated keys kept (decoded from the URL itself)."""
        return parse_qsl(urlsplit(self.url).query, keep_blank_values=True)

    def header(self, name: str, *, response: bool = False) -> str | None:
        """First value of a header (case-insensitive), or ``None``."""
        low = name.lower()
        for k, v in self.response_headers if response else self.request_headers:
            if k.lower() == low:
                return v
        return None

    def request_body(self) -> bytes | None:
        """Decoded request body bytes, or ``None`` when none was recorded."""
        return _decode(self.request_text_raw, self.request_encoding)

    def response_body(self) -> bytes | None:
        """Decoded response body bytes, or ``None`` when none was recorded."""
        return _decode(self.response_text_raw, self.response_encoding)


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    """An entry the reader could not use, and why."""

    source: str
    index: int
    reason: str
    url: str = ""


def _decode(text: str | None, encoding: str | None) -> bytes | None:
    if text is None:
        return None
    if encoding and encoding.lower() == "base64":
        try:
            return base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            return text.encode("utf-8", "surrogatepass")
    return text.encode("utf-8", "surrogatepass")


def _pairs(raw: Any) -> list[tuple[str, str]]:
    """Headers/cookies as name/value pairs from a list of objects or a mapping."""
    if isinstance(raw, dict):
        return [(str(k), str(v)) for k, v in raw.items()]
    out = []
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict) and "name" in item:
                val = item.get("value", "")
                out.append((str(item["name"]), "" if val is None else str(val)))
    return out


def _num(raw: Any, default: float = -1.0) -> float:
    return float(raw) if isinstance(raw, int | float) else default


def entry_from_raw(raw: Any, source: str, index: int) -> HarEntry | SkippedEntry:
    """Normalise one parsed HAR entry object, or say why it cannot be used."""
    if not isinstance(raw, dict):
        return SkippedEntry(source, index, "entry is not an object")
    req = raw.get("request")
    resp = raw.get("response") or {}
    if not isinstance(req, dict) or not isinstance(req.get("url"), str) or not req.get("url"):
        return SkippedEntry(source, index, "entry has no request.url")
    if not isinstance(resp, dict):
        resp = {}
    url: str = req["url"]
    method = str(req.get("method") or "GET").upper()
    post: dict[str, Any] = req["postData"] if isinstance(req.get("postData"), dict) else {}
    content: dict[str, Any] = resp["content"] if isinstance(resp.get("content"), dict) else {}
    status_raw = resp.get("status", 0)
    try:
        status = int(status_raw or 0)
    except (TypeError, ValueError):
        status = 0
    params: list[MultipartField] = []
    if isinstance(post.get("params"), list):
        for p in post["params"]:
            if isinstance(p, dict) and "name" in p:
                params.append(
                    MultipartField(
                        name=str(p["name"]),
                        value=None if p.get("value") is None else str(p.get("value")),
                        filename=p.get("fileName") or None,
                        content_type=p.get("contentType") or None,
                    )
                )
    resource_type = str(raw.get("_resourceType") or raw.get("resourceType") or "").lower()
    is_ws = (
        bool(raw.get("_webSocketMessages"))
        or resource_type == "websocket"
        or status == 101
        or url.startswith(("ws://", "wss://"))
    )
    failed = ""
    if raw.get("_error") or resp.get("_error"):
        failed = str(raw.get("_error") or resp.get("_error"))
    text = content.get("text") if isinstance(content.get("text"), str) else None
    req_text = post.get("text") if isinstance(post.get("text"), str) else None
    return HarEntry(
        source=source,
        index=index,
        method=method,
        url=url,
        status=status,
        request_headers=_pairs(req.get("headers")),
        response_headers=_pairs(resp.get("headers")),
        request_cookies=_pairs(req.get("cookies")),
        request_mime=str(post.get("mimeType") or ""),
        request_text_raw=req_text,
        request_encoding=post.get("encoding") or post.get("_encoding"),
        request_params=params,
        response_mime=str(content.get("mimeType") or ""),
        response_text_raw=text,
        response_encoding=content.get("encoding") or None,
        response_size=int(_num(content.get("size"))),
        resource_type=resource_type,
        started=str(raw.get("startedDateTime") or ""),
        time_ms=_num(raw.get("time")),
        is_websocket=is_ws,
        redirect_url=str(resp.get("redirectURL") or ""),
        failed_reason=failed,
    )


def _open(path: str) -> IO[bytes]:
    try:
        fh = open(path, "rb")  # noqa: SIM115 -- closed by HarReader's finally
    except FileNotFoundError as exc:
        raise HarError(f"{path}: no such file; check the path", har_path=path) from exc
    except OSError as exc:
        raise HarError(f"{path}: cannot open ({exc.strerror})", har_path=path) from exc
    return fh


# A byte range of a HAR read on its own is framed as a small HAR of its own:
# ``{"log":{"entries":[`` before a range that starts at an entry, and, after a
# range that stops before one, an end marker entry and the closers.  The end
# marker proves the cut was inside ``log.entries`` (see ``zapi.analyzer.parallel``).
RANGE_PREFIX = b'{"log":{"entries":['
END_MARKER_KEY = "__zapi_range_end__"
RANGE_SUFFIX = b',{"' + END_MARKER_KEY.encode() + b'":true}]}}'


class SplitMismatch(Exception):
    """A byte range did not end inside ``log.entries``; read the file whole instead."""


class _Window:
    """A read-only view of ``prefix + file[start:end] + suffix`` that counts file bytes read."""

    def __init__(
        self, fh: IO[bytes], start: int, end: int | None, prefix: bytes, suffix: bytes
    ) -> None:
        self._fh = fh
        fh.seek(start)
        self._left = None if end is None else end - start
        self._head = prefix
        self._tail = suffix
        self.consumed = 0

    def read(self, n: int = -1) -> bytes:
        if n == 0:  # ijson probes with read(0) for bytes vs text
            return b""
        if self._head:
            out, self._head = self._head, b""
            return out
        want = n if n >= 0 else (self._left if self._left is not None else -1)
        if self._left is not None:
            want = min(want, self._left) if want >= 0 else self._left
        data = self._fh.read(want) if want != 0 else b""
        if data:
            self.consumed += len(data)
            if self._left is not None:
                self._left -= len(data)
            return data
        out, self._tail = self._tail, b""
        return out


class HarReader:
    """Stream the entries of one HAR file, or of one byte range of it, in file order.

    Iterate it for :class:`HarEntry`/:class:`SkippedEntry` items; ``bytes_read``
    tells how far into the file the parser has got (for progress bars).

    Args:
        path: the HAR file.
        start: byte offset where a range starts (0: the whole file, BOM allowed).
        end: byte offset where a range stops (``None``: end of file).
        first_index: entry index of the first entry read (provenance).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        start: int = 0,
        end: int | None = None,
        first_index: int = 0,
    ) -> None:
        self.path = os.fspath(path)
        self.start = start
        self.end = end
        self.first_index = first_index
        self._window: _Window | None = None

    @property
    def bytes_read(self) -> int:
        """File bytes handed to the parser so far."""
        return self._window.consumed if self._window is not None else 0

    def __iter__(self) -> Iterator[HarEntry | SkippedEntry]:
        """Yield the entries.

        Raises:
            HarError: the file cannot be opened.
            HarParseError: the file is not JSON or has no ``log.entries``; the
                message names the file and the entry being read.
            SplitMismatch: a range with an ``end`` did not end inside ``log.entries``.
        """
        spath = self.path
        fh = _open(spath)
        start = self.start
        if start == 0 and fh.read(3) == _BOM:
            start = 3
        ranged_end = self.end is not None
        win = self._window = _Window(
            fh,
            start,
            self.end,
            RANGE_PREFIX if self.start else b"",
            RANGE_SUFFIX if ranged_end else b"",
        )
        index = self.first_index - 1
        try:
            saw_entries = False
            for index, raw in enumerate(  # noqa: B007 -- read in the except clauses
                ijson.items(win, "log.entries.item", use_float=True), self.first_index
            ):
                saw_entries = True
                if ranged_end and isinstance(raw, dict) and END_MARKER_KEY in raw:
                    break
                yield entry_from_raw(raw, spath, index)
            else:
                if ranged_end:
                    raise SplitMismatch(f"{spath}: range [{self.start}, {self.end}) is no cut")
                if not saw_entries:
                    _check_shape(fh, spath)
        except ijson.common.IncompleteJSONError as exc:
            if ranged_end or self.start:
                raise SplitMismatch(f"{spath}: range does not parse ({exc})") from exc
            at = index + 1 if index >= 0 else None
            msg = str(exc).splitlines()[0] if str(exc) else "unexpected end of file"
            raise HarParseError(
                f"not valid JSON ({msg}); the file may be truncated — re-export the HAR",
                har_path=spath,
                entry_index=at,
            ) from exc
        except ijson.common.JSONError as exc:
            if ranged_end or self.start:
                raise SplitMismatch(f"{spath}: range does not parse ({exc})") from exc
            at = index + 1 if index >= 0 else None
            raise HarParseError(
                f"not valid JSON ({exc}); re-export the HAR", har_path=spath, entry_index=at
            ) from exc
        finally:
            fh.close()


def iter_har(path: str | os.PathLike[str]) -> Iterator[HarEntry | SkippedEntry]:
    """Yield the entries of one HAR file, streaming, in file order.

    Raises:
        HarError: the file cannot be opened.
        HarParseError: the file is not JSON or has no ``log.entries``; the
            message names the file and the entry being read.
    """
    return iter(HarReader(path))


def _check_shape(fh: IO[bytes], path: str) -> None:
    """Distinguish 'a HAR with no entries' from 'not a HAR at all'."""
    fh.seek(0)
    if fh.read(3) != _BOM:
        fh.seek(0)
    for prefix, event, _ in ijson.parse(fh):
        if prefix == "log.entries" and event == "start_array":
            return
    raise HarParseError("not a HAR file (no log.entries array)", har_path=path)


def iter_har_files(paths: list[str]) -> Iterator[HarEntry | SkippedEntry]:
    """Yield the entries of several HAR files (folders expand to their ``*.har``), in order."""
    for p in expand_paths(paths):
        yield from iter_har(p)


def expand_paths(paths: list[str]) -> list[str]:
    """Expand folders to their ``*.har`` files (sorted); keep files as given."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(
                os.path.join(dp, f)
                for dp, _, files in os.walk(p)
                for f in files
                if f.lower().endswith(".har")
            )
            if not found:
                raise HarError(f"{p}: folder holds no *.har files", har_path=p)
            out.extend(found)
        else:
            out.append(p)
    return out
