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
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import ijson

from zapi._har_stream import _ENDS, _STARTS, MAX_NESTING, _entry_objects, _TooDeep
from zapi._memo import TextMemo
from zapi.errors import HarError, HarParseError

__all__ = [
    "MAX_BODY_CHARS",
    "MAX_NESTING",
    "HarEntry",
    "HarReader",
    "MultipartField",
    "SkippedEntry",
    "SplitMismatch",
    "iter_har",
    "json_too_deep",
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
    notes: tuple[str, ...] = ()

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


# Limits that keep one hostile entry from costing the whole analysis.
MAX_BODY_CHARS = 8 * 1024 * 1024
"""Longest body text kept; a longer body is dropped (the entry stays, without that body)."""
_METHOD = re.compile(r"[A-Za-z]{1,16}")
OPENAPI_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"})
"""Methods an OpenAPI 3.1 path item can describe; entries with others are skipped."""
# A JSON string, unrolled (runs of plain characters, then one escape): twice as fast as
# an alternation per character on megabyte bodies, and matches the same strings.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


def _decode(text: str | None, encoding: str | None) -> bytes | None:
    if text is None:
        return None
    if encoding and encoding.lower() == "base64":
        try:
            return base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            return text.encode("utf-8", "surrogatepass")
    return text.encode("utf-8", "surrogatepass")


def json_too_deep(text: str, limit: int = MAX_NESTING) -> bool:
    """True when JSON ``text`` nests arrays/objects deeper than ``limit`` (linear time).

    Brackets inside strings do not count; the text need not be valid JSON.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for m in _BRACKET.finditer(_JSON_STRING.sub("", text)):
        if m.group(0) in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _pairs(raw: Any) -> list[tuple[str, str]]:
    """Headers/cookies as name/value pairs from a list of objects or a mapping."""
    if isinstance(raw, dict):
        return [(str(k), _str(v)) for k, v in raw.items()]
    out = []
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict) and "name" in item:
                name, val = item["name"], item.get("value", "")
                out.append(
                    (
                        name if type(name) is str else _str(name),
                        val if type(val) is str else _str(val),
                    )
                )
    return out


def _str(raw: Any) -> str:
    """A scalar as text; containers (never expected here) become ``""``."""
    if raw is None or isinstance(raw, dict | list):
        return ""
    return str(raw)


def _num(raw: Any, default: float = -1.0) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        return default
    try:
        out = float(raw)
    except OverflowError:
        return default
    return out if out == out and abs(out) != float("inf") else default


def _text(raw: Any) -> str | None:
    return raw if isinstance(raw, str) else None


def _encoding(raw: Any) -> str | None:
    return raw if isinstance(raw, str) and raw else None


def _vet_url(url: str) -> tuple[str, str]:
    """``(url without userinfo, "")`` or ``("", why the URL is unusable)``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError as exc:
        return "", f"request.url is not a valid URL ({exc})"
    if not parts.scheme or not parts.netloc:
        return "", "request.url is not an absolute URL"
    if "@" in parts.netloc:
        # Userinfo (user:password@) is a credential: it never reaches origins or outputs.
        netloc = parts.netloc.rpartition("@")[2]
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url, ""


def _status(raw: Any) -> int | None:
    """The HTTP status (0: no response), or ``None`` when it is not one."""
    if raw is None or raw == "":
        return 0
    if isinstance(raw, bool):
        return None
    if isinstance(raw, Decimal | float):
        try:
            whole = int(raw)
        except (ValueError, OverflowError):  # NaN, infinity
            return None
        if whole != raw:
            return None
        raw = whole
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if not isinstance(raw, int):
        return None
    if raw == -1:  # Playwright's and Chrome's exports: the request got no response
        return 0
    return raw if raw == 0 or 100 <= raw <= 599 else None


_SURROGATE_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
)


def _pair_or_replacement(m: re.Match[str]) -> str:
    return m.group(0) if len(m.group(0)) == 12 else "\\ufffd"


_OPENS_JSON = re.compile(r"\s*[\[{]")
_OPENS_JSON_BYTES = re.compile(rb"\s*[\[{]")


# Vetting looks at every character of a body; recordings repeat large bodies.
_VETTED: TextMemo[str, tuple[str, bool]] = TextMemo()


def _body(text: str | None, encoding: str | None, what: str) -> tuple[str | None, str]:
    """Vet one body: ``(text kept, "")``, ``(None, note)`` or ``(None, "!" + skip reason)``.

    A lone surrogate escape in JSON text (``"\\ud800"``) becomes U+FFFD: decoded, it
    could never be written as UTF-8.
    """
    if text is None:
        return None, ""
    if len(text) > MAX_BODY_CHARS:
        return None, f"{what} body of {len(text)} characters dropped (over {MAX_BODY_CHARS})"
    if encoding is None and _VETTED.wanted(text):
        vetted = _VETTED.get(text) or _VETTED.put(text, _vet(text, encoding))
    else:
        vetted = _vet(text, encoding)
    kept, too_deep = vetted
    if too_deep:
        return None, f"!{what} body nests JSON deeper than {MAX_NESTING} levels"
    return kept, ""


def _vet(text: str, encoding: str | None) -> tuple[str, bool]:
    """``(text with lone surrogate escapes replaced, whether its JSON nests too deep)``."""
    if "\\u" in text:
        text = _SURROGATE_ESCAPE.sub(_pair_or_replacement, text)
    # Only a body that opens as JSON is ever parsed as JSON (``bodies.decode_body``):
    # the brackets of a script or a page are no nesting to guard against.
    probe = text if _OPENS_JSON.match(text) else ""
    if encoding and encoding.lower() == "base64":
        raw = _decode(text, encoding) or b""
        probe = raw.decode("utf-8", "replace") if _OPENS_JSON_BYTES.match(raw) else ""
    return text, bool(probe) and json_too_deep(probe)


def entry_from_raw(raw: Any, source: str, index: int) -> HarEntry | SkippedEntry:
    """Normalise one parsed HAR entry object, or say why it cannot be used."""
    if isinstance(raw, _TooDeep):
        return SkippedEntry(source, index, f"entry nests deeper than {MAX_NESTING} levels")
    if not isinstance(raw, dict):
        return SkippedEntry(source, index, "entry is not an object")
    req = raw.get("request")
    resp = raw.get("response") or {}
    if not isinstance(req, dict) or not isinstance(req.get("url"), str) or not req.get("url"):
        return SkippedEntry(source, index, "entry has no request.url")
    if not isinstance(resp, dict):
        resp = {}
    url, why = _vet_url(req["url"])
    if why:
        return SkippedEntry(source, index, why)
    method_raw = req.get("method") or "GET"
    method = method_raw.upper() if isinstance(method_raw, str) else ""
    if not _METHOD.fullmatch(method):
        return SkippedEntry(source, index, "request.method is not an HTTP method", url)
    if method not in OPENAPI_METHODS:
        return SkippedEntry(
            source, index, f"method {method} cannot be described in OpenAPI 3.1", url
        )
    if any(c in unquote(urlsplit(url).path) for c in "{}"):
        # A path template cannot hold a literal brace: it would declare a parameter.
        return SkippedEntry(
            source, index, "path holds a literal '{' or '}' a path template cannot express", url
        )
    status = _status(resp.get("status", 0))
    if status is None:
        return SkippedEntry(source, index, "response.status is not an HTTP status (100-599)", url)
    post: dict[str, Any] = req["postData"] if isinstance(req.get("postData"), dict) else {}
    content: dict[str, Any] = resp["content"] if isinstance(resp.get("content"), dict) else {}
    params: list[MultipartField] = []
    if isinstance(post.get("params"), list):
        for p in post["params"]:
            if isinstance(p, dict) and "name" in p:
                params.append(
                    MultipartField(
                        name=_str(p["name"]),
                        value=None if p.get("value") is None else _str(p.get("value")),
                        filename=_text(p.get("fileName")) or None,
                        content_type=_text(p.get("contentType")) or None,
                    )
                )
    resource_type = _str(raw.get("_resourceType") or raw.get("resourceType") or "").lower()
    is_ws = (
        bool(raw.get("_webSocketMessages"))
        or resource_type == "websocket"
        or status == 101
        or url.startswith(("ws://", "wss://"))
    )
    failed = ""
    error = raw.get("_error") or resp.get("_error") or resp.get("_failureText")
    if error:
        failed = _str(error)
    req_enc = _encoding(post.get("encoding")) or _encoding(post.get("_encoding"))
    resp_enc = _encoding(content.get("encoding"))
    req_text, req_note = _body(_text(post.get("text")), req_enc, "request")
    text, resp_note = _body(_text(content.get("text")), resp_enc, "response")
    for note in (req_note, resp_note):
        if note.startswith("!"):
            return SkippedEntry(source, index, note[1:], url)
    redirect = _text(resp.get("redirectURL")) or ""
    if redirect:
        redirect = _vet_url(redirect)[0] if "://" in redirect else redirect
    return HarEntry(
        source=source,
        index=index,
        method=method,
        url=url,
        status=status,
        request_headers=_pairs(req.get("headers")),
        response_headers=_pairs(resp.get("headers")),
        request_cookies=_pairs(req.get("cookies")),
        request_mime=_str(post.get("mimeType") or ""),
        request_text_raw=req_text,
        request_encoding=req_enc,
        request_params=params,
        response_mime=_str(content.get("mimeType") or ""),
        response_text_raw=text,
        response_encoding=resp_enc,
        response_size=int(_num(content.get("size"))),
        resource_type=resource_type,
        started=_str(raw.get("startedDateTime") or ""),
        time_ms=_num(raw.get("time")),
        is_websocket=is_ws,
        redirect_url=redirect,
        failed_reason=failed,
        notes=tuple(n for n in (req_note, resp_note) if n),
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

    def _objects(self, fh: IO[bytes], win: _Window, start: int, ranged: bool) -> Iterator[Any]:
        """Entry objects from the C parser; from the pure-Python one if it must.

        The C parser cannot decode a lone surrogate escape (``"\\udc80"``) and
        cannot go on after it; the file (never a range) is then read again with
        the Python parser, entries already yielded skipped, strings made valid.
        """
        done = 0
        try:
            for raw in _entry_objects(win):
                done += 1
                yield raw
            return
        except UnicodeDecodeError as exc:
            if ranged or self.start:
                raise SplitMismatch(f"{self.path}: range holds a lone surrogate") from exc
        again = self._window = self._rewind(fh, start)
        for i, raw in enumerate(_entry_objects(again, python=True)):
            if i >= done:
                yield raw

    def _rewind(self, fh: IO[bytes], start: int) -> _Window:
        return _Window(
            fh,
            start,
            self.end,
            RANGE_PREFIX if self.start else b"",
            RANGE_SUFFIX if self.end is not None else b"",
        )

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
                self._objects(fh, win, start, ranged_end), self.first_index
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
    keys: list[Any] = []
    for event, value in ijson.basic_parse(fh):
        if event == "map_key":
            keys[-1] = value
        elif event in _ENDS:
            keys.pop()
        elif event == "start_array" and keys == ["log", "entries"]:
            return
        elif event in _STARTS:
            keys.append("" if event == "start_map" else None)
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
