"""HAR 1.2 writer for recorded exchanges: complete bodies, scoped hosts, secrets scrubbed.

The recorder turns each browser request into a plain :class:`Exchange`; this
module turns a list of them into a HAR document.  Redaction happens in two
passes over the same :class:`~zapi.redact.Redactor`: the first *learns* every
secret value (cookies, ``Set-Cookie``, credentials and CSRF headers, secret
form/JSON/query fields, hidden CSRF inputs in HTML), the second writes each
entry and then scrubs every string of it, so a token echoed in an HTML page or
a JSON response is replaced too.  No Playwright types appear here.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import fnmatch
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from zapi.har import json_too_deep
from zapi.redact import Redactor

__all__ = [
    "API_RESOURCE_TYPES",
    "Exchange",
    "RecordingSummary",
    "atomic_write_bytes",
    "build_har",
    "host_in_scope",
    "parse_multipart",
]

API_RESOURCE_TYPES = frozenset({"fetch", "xhr", "eventsource", "websocket"})
"""Resource types that count as API calls in the summary (plus any non-GET request)."""

_STABLE_EPOCH_MS = 946_684_800_000.0  # 2000-01-01T00:00:00Z, for stable_times
_HIDDEN_INPUT = re.compile(r"<(?:input|meta)\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


@dataclass
class Exchange:
    """One request the browser sent and what came back, as plain data.

    Attributes:
        started_ms: wall-clock start in milliseconds since the epoch.
        request_body: the exact bytes sent, ``None`` for no body.
        body_missing: the request declared a body the browser did not expose.
        timings: HAR timings (``blocked``, ``dns``, ``connect``, ``ssl``, ``send``,
            ``wait``, ``receive``) in milliseconds, ``-1`` when unknown.
        failure: why no response arrived (``""`` when one did).
    """

    started_ms: float
    method: str
    url: str
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes | None = None
    body_missing: bool = False
    resource_type: str = ""
    status: int = 0
    status_text: str = ""
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes | None = None
    response_body_note: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    failure: str = ""
    page_ref: str = ""
    http_version: str = "HTTP/1.1"

    def header(self, name: str, *, response: bool = False) -> str:
        """First value of a header (case-insensitive), ``""`` when absent."""
        low = name.lower()
        for k, v in self.response_headers if response else self.request_headers:
            if k.lower() == low:
                return v
        return ""

    @property
    def host(self) -> str:
        """``host[:port]`` of the request URL, lower-cased, no userinfo (``""`` if unparsable)."""
        try:
            return urlsplit(self.url).netloc.rpartition("@")[2].lower()
        except ValueError:
            return ""

    @property
    def is_api_call(self) -> bool:
        """True for fetch/XHR-style traffic and for any write."""
        return self.resource_type in API_RESOURCE_TYPES or self.method not in ("GET", "HEAD")


@dataclass(frozen=True)
class RecordingSummary:
    """What a recording wrote: counts for the one-line summary."""

    har_path: str
    actions_path: str
    entries: int
    api_calls: int
    out_of_scope: int
    hosts: tuple[str, ...]
    redacted: dict[str, int]
    actions: int
    attributed: int
    missing_bodies: int
    bytes_written: int

    def describe(self) -> str:
        """One line for the terminal."""
        hosts = ", ".join(self.hosts[:4]) + (
            f" +{len(self.hosts) - 4}" if len(self.hosts) > 4 else ""
        )
        if self.redacted:
            kinds: dict[str, int] = {}
            for what, n in self.redacted.items():
                kind = what.split(":", 1)[0]
                kinds[kind] = kinds.get(kind, 0) + n
            red = "redacted " + ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items()))
        else:
            red = "nothing redacted"
        extra = f", {self.out_of_scope} out of scope" if self.out_of_scope else ""
        missing = f", {self.missing_bodies} request bodies MISSING" if self.missing_bodies else ""
        return (
            f"wrote {self.har_path}: {self.entries} entries ({self.api_calls} API calls{extra}) "
            f"from {hosts or 'no hosts'}; {self.actions} UI actions, {self.attributed} calls "
            f"attributed; {red}{missing}"
        )


def host_in_scope(host: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Apply ``--include-host``/``--exclude-host`` globs to ``host[:port]`` or the bare host."""
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    names = (host, bare)

    def hit(globs: Sequence[str]) -> bool:
        return any(fnmatch.fnmatchcase(n, g.lower()) for g in globs for n in names)

    if include and not hit(include):
        return False
    return not (exclude and hit(exclude))


def parse_multipart(body: bytes, content_type: str) -> list[dict[str, str]]:
    """HAR ``postData.params`` of a ``multipart/form-data`` body (name, value, fileName...).

    Text parts carry their value; file parts carry ``fileName`` and
    ``contentType`` and their value only when it is short UTF-8 text.
    Returns ``[]`` when the body is not parseable multipart.
    """
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        return []
    params: list[dict[str, str]] = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        item = {"name": name}
        filename = part.get_filename()
        if filename is not None:
            item["fileName"] = filename
            item["contentType"] = part.get_content_type()
        text = _utf8(data)
        if text is not None and (filename is None or len(data) <= 4096):
            item["value"] = text
        params.append(item)
    return params


def build_har(
    exchanges: Sequence[Exchange],
    *,
    redactor: Redactor,
    pages: Sequence[tuple[str, str, float]] = (),
    include_hosts: Sequence[str] = (),
    exclude_hosts: Sequence[str] = (),
    secrets: Iterable[str] = (),
    creator_version: str = "0",
    browser: tuple[str, str] | None = None,
    stable_times: bool = False,
) -> tuple[dict[str, Any], list[Exchange]]:
    """Build a redacted HAR 1.2 document from recorded exchanges.

    Args:
        exchanges: what the browser sent and received, in any order.
        redactor: the shared redactor; it learns the session's secrets here.
        pages: ``(page id, first URL, opened at ms)`` for ``log.pages``.
        include_hosts: keep only these hosts (globs); empty keeps all.
        exclude_hosts: drop these hosts (globs).
        secrets: values known to be secret up front (cookies in the browser,
            injected bearer tokens and headers); scrubbed wherever they appear.
        creator_version: the zapi version for ``log.creator``.
        browser: ``(name, version)`` for ``log.browser``.
        stable_times: replace wall-clock times with a fixed epoch plus the entry
            index, and timings with zeros, so recordings diff cleanly.

    Returns:
        The HAR document and the exchanges it holds, in entry order.
    """
    kept = sorted(
        (e for e in exchanges if host_in_scope(e.host, include_hosts, exclude_hosts)),
        key=lambda e: e.started_ms,
    )
    for value in secrets:
        redactor.learn(value)
    for ex in kept:
        _learn(ex, redactor)
    redactor.counts.clear()  # the summary counts what the written file had replaced
    entries = [_safe_entry(i, ex, redactor, stable_times) for i, ex in enumerate(kept)]
    log: dict[str, Any] = {
        "version": "1.2",
        "creator": {"name": "zapi", "version": creator_version},
        "pages": [
            {
                "startedDateTime": _iso(_STABLE_EPOCH_MS if stable_times else at),
                "id": pid,
                "title": redactor.url(url),
                "pageTimings": {"onContentLoad": -1, "onLoad": -1},
            }
            for pid, url, at in pages
        ],
        "entries": entries,
    }
    if browser is not None:
        log["browser"] = {"name": browser[0], "version": browser[1]}
    return {"log": log}, kept


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename.

    The file is owner-readable only (``mkstemp``'s 0600): recordings can hold
    personal data even when redacted.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".zapi-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# -- learning ------------------------------------------------------------------


def _learn(ex: Exchange, red: Redactor) -> None:
    """Feed every secret this exchange carries to the redactor (results discarded)."""
    red.headers(ex.request_headers)
    red.headers(ex.response_headers)
    red.url(ex.url)
    mime = _mime(ex.header("content-type"))
    body = ex.request_body
    if body:
        text = _utf8(body)
        if mime == "application/x-www-form-urlencoded" and text is not None:
            red.form(text)
        elif _is_json(mime) and text is not None:
            _learn_json(text, red)
        elif mime == "multipart/form-data":
            for p in parse_multipart(body, ex.header("content-type")):
                if "fileName" not in p and "value" in p and red.is_secret(p["name"]):
                    red.value(p["value"], what=f"field:{p['name']}")
    rbody = ex.response_body
    rmime = _mime(ex.header("content-type", response=True))
    if rbody:
        text = _utf8(rbody)
        if text is None:
            return
        if _is_json(rmime):
            _learn_json(text, red)
        elif "html" in rmime or "xml" in rmime:
            _learn_html(text, red)


def _learn_json(text: str, red: Redactor) -> None:
    if json_too_deep(text):
        return  # written as scrubbed text; never parsed (no RecursionError)
    try:
        red.json(json.loads(text))
    except ValueError:
        return


def _learn_html(text: str, red: Redactor) -> None:
    """Hidden inputs and ``<meta>`` tags that carry CSRF tokens (``name=csrf_token``)."""
    for tag in _HIDDEN_INPUT.finditer(text):
        attrs = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _ATTR.finditer(tag.group(0))
        }
        name = attrs.get("name") or attrs.get("id") or ""
        value = attrs.get("value") or attrs.get("content") or ""
        if name and value and red.is_secret(name):
            red.learn(value)


# -- writing -------------------------------------------------------------------


def _safe_entry(index: int, ex: Exchange, red: Redactor, stable: bool) -> dict[str, Any]:
    """One HAR entry; an exchange that cannot be written whole is kept as a stub saying why.

    One odd request (an unparsable URL, a body the JSON codec refuses) must never
    cost the rest of the session.
    """
    try:
        return _entry(index, ex, red, stable)
    except (ValueError, RecursionError, UnicodeError) as exc:
        try:
            url = red.url(ex.url)
        except ValueError:
            url = "about:invalid-url"
        return {
            "startedDateTime": _iso(_STABLE_EPOCH_MS + index if stable else ex.started_ms),
            "time": 0,
            "request": {
                "method": red.text(ex.method),
                "url": url,
                "httpVersion": ex.http_version,
                "cookies": [],
                "headers": [],
                "queryString": [],
                "headersSize": -1,
                "bodySize": -1,
            },
            "response": {
                "status": ex.status,
                "statusText": "",
                "httpVersion": ex.http_version,
                "cookies": [],
                "headers": [],
                "content": {"size": -1, "mimeType": "x-unknown"},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": -1,
            },
            "cache": {},
            "timings": {"send": 0.0, "wait": 0.0, "receive": 0.0},
            "comment": f"zapi could not write this exchange whole ({type(exc).__name__})",
            "_resourceType": ex.resource_type or "other",
        }


def _entry(index: int, ex: Exchange, red: Redactor, stable: bool) -> dict[str, Any]:
    url = red.url(ex.url)
    req_headers = red.headers(ex.request_headers)
    resp_headers = red.headers(ex.response_headers)
    request: dict[str, Any] = {
        "method": ex.method,
        "url": url,
        "httpVersion": ex.http_version,
        "cookies": _request_cookies(req_headers),
        "headers": _header_list(req_headers),
        "queryString": [
            {"name": k, "value": v}
            for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": len(ex.request_body) if ex.request_body is not None else 0,
    }
    if ex.request_body is not None or ex.body_missing:
        request["postData"] = _post_data(ex, red)
    content: dict[str, Any] = {
        "size": len(ex.response_body) if ex.response_body is not None else 0,
        "mimeType": ex.header("content-type", response=True) or "x-unknown",
    }
    if ex.response_body is not None:
        content.update(_body_text(ex.response_body, _mime(content["mimeType"]), red))
    elif ex.response_body_note:
        content["comment"] = ex.response_body_note
    response: dict[str, Any] = {
        "status": ex.status,
        "statusText": ex.status_text,
        "httpVersion": ex.http_version,
        "cookies": _response_cookies(resp_headers),
        "headers": _header_list(resp_headers),
        "content": content,
        "redirectURL": red.url(ex.header("location", response=True)),
        "headersSize": -1,
        "bodySize": content["size"] if ex.status else -1,
    }
    timings = {k: -1.0 for k in ("blocked", "dns", "connect", "ssl")}
    timings.update({"send": 0.0, "wait": 0.0, "receive": 0.0})
    if not stable:
        timings.update({k: round(v, 3) for k, v in ex.timings.items()})
    total = sum(v for k, v in timings.items() if v > 0 and k != "ssl")
    entry: dict[str, Any] = {
        "startedDateTime": _iso(_STABLE_EPOCH_MS + index if stable else ex.started_ms),
        "time": round(total, 3),
        "request": request,
        "response": response,
        "cache": {},
        "timings": timings,
        "_resourceType": ex.resource_type or "other",
    }
    if ex.page_ref:
        entry["pageref"] = ex.page_ref
    if ex.failure:
        entry["_error"] = ex.failure
    scrubbed: dict[str, Any] = _scrub(entry, red)
    return scrubbed


def _post_data(ex: Exchange, red: Redactor) -> dict[str, Any]:
    ctype = ex.header("content-type")
    mime = _mime(ctype)
    post: dict[str, Any] = {"mimeType": ctype or "application/octet-stream"}
    body = ex.request_body
    if body is None:
        post["text"] = ""
        post["comment"] = "the browser did not expose this request body"
        return post
    post.update(_body_text(body, mime, red))
    if mime == "multipart/form-data":
        post["params"] = [
            {**p, "value": red.value(p["value"], what=f"field:{p['name']}")}
            if "value" in p and "fileName" not in p and red.is_secret(p["name"])
            else p
            for p in parse_multipart(body, ctype)
        ]
    elif mime == "application/x-www-form-urlencoded" and "encoding" not in post:
        post["params"] = [
            {"name": k, "value": v} for k, v in parse_qsl(post["text"], keep_blank_values=True)
        ]
    return post


def _body_text(body: bytes, mime: str, red: Redactor) -> dict[str, Any]:
    """``text`` (redacted, structure-aware) or base64 ``text`` + ``encoding``."""
    text = _utf8(body)
    if text is None:
        # Binary: scrub known secrets byte-for-byte (latin-1 maps bytes 1:1, markers are ASCII).
        scrubbed = red.text(body.decode("latin-1")).encode("latin-1")
        return {"text": base64.b64encode(scrubbed).decode("ascii"), "encoding": "base64"}
    if mime in _UNDECLARED:  # no type, or fetch's default: redact by what the body looks like
        mime = _sniff(text)
    if _is_json(mime) and not json_too_deep(text):
        try:
            data = json.loads(text)
        except ValueError:
            return {"text": red.text(text)}
        clean = red.json(data)
        if clean != data:
            return {"text": json.dumps(clean, ensure_ascii=False, separators=(",", ":"))}
        return {"text": red.text(text)}
    if mime == "application/x-www-form-urlencoded":
        clean_form = red.form(text)
        if dict(parse_qsl(clean_form)) != dict(parse_qsl(text)):
            return {"text": clean_form}
    return {"text": red.text(text)}


# Types that say nothing of the body's structure: a request still in flight when the HAR is
# written has no headers yet, and ``fetch(url, {body: "a=b"})`` sends ``text/plain``.
_UNDECLARED = frozenset({"", "text/plain", "application/octet-stream"})
_FORM_TEXT = re.compile(r"[^=&\s]+=[^&\s]*(?:&[^=&\s]+=[^&\s]*)*")


def _sniff(text: str) -> str:
    """The structure an undeclared body has, so its fields are redacted by name."""
    head = text.lstrip()[:1]
    if head in ("{", "["):
        return "application/json"
    if _FORM_TEXT.fullmatch(text.strip()):
        return "application/x-www-form-urlencoded"
    return ""


def _scrub(obj: Any, red: Redactor) -> Any:
    """Every string of a built entry through ``red.text`` (base64 bodies are done already)."""
    if isinstance(obj, dict):
        b64 = obj.get("encoding") == "base64"
        return {k: (v if b64 and k == "text" else _scrub(v, red)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scrub(v, red) for v in obj]
    if isinstance(obj, str):
        return red.text(obj)
    return obj


def _header_list(headers: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in headers]


def _request_cookies(headers: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    out = []
    for k, v in headers:
        if k.lower() != "cookie":
            continue
        for item in v.split(";"):
            name, eq, val = item.strip().partition("=")
            if name and eq:
                out.append({"name": name, "value": val})
    return out


def _response_cookies(headers: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k, v in headers:
        if k.lower() != "set-cookie":
            continue
        for line in v.split("\n"):
            first, _, attrs = line.partition(";")
            name, eq, val = first.strip().partition("=")
            if not (name and eq):
                continue
            cookie: dict[str, Any] = {"name": name, "value": val}
            for attr in attrs.split(";"):
                key, _, aval = attr.strip().partition("=")
                low = key.lower()
                if low in ("path", "domain", "expires", "samesite"):
                    cookie[{"samesite": "sameSite"}.get(low, low)] = aval
                elif low in ("httponly", "secure"):
                    cookie["httpOnly" if low == "httponly" else "secure"] = True
            out.append(cookie)
    return out


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _mime(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(mime: str) -> bool:
    return mime == "application/json" or mime.endswith("+json") or mime == "text/json"


def _iso(ms: float) -> str:
    dt = datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
