"""Signals behind what a card says: who set a cookie, what an error demanded, what a write changed.

Two bounded, mergeable accumulators fed while streaming:

* :class:`CaptureSignals`, one per capture, sees *every* entry (dropped ones
  too: the page that sets the session cookie or carries the CSRF meta tag is a
  document).  It tallies the cookies servers set, where CSRF tokens come from
  (a response header, a page's ``<meta>`` or hidden ``<input>``) and keeps the
  last JSON read of each resource so writes can be compared with it.
* :class:`OpSignals`, one per operation, records the cookies and CSRF headers
  its responses set, the inputs a 4xx named while they were absent, the body
  fields a write changed (sent value differs from what the resource held) or
  carried over unchanged, and whether the same request was answered the same
  way twice.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from zapi.analyzer.bodies import Body, BodyKind
from zapi.har import HarEntry

__all__ = ["CaptureSignals", "OpSignals"]

_MAX_NAMES = 64
_MAX_ANSWERS = 64
_MAX_READS = 4096
_MAX_FIELDS = 64
_MAX_FIELD_LEN = 200
_HTML_SCAN = 200_000
_CSRF = re.compile(r"(csrf|xsrf)", re.I)
_META_CSRF = re.compile(r"<meta\s[^>]*name\s*=\s*[\"']([^\"']*(?:csrf|xsrf)[^\"']*)[\"']", re.I)
_INPUT_CSRF = re.compile(
    r"<input\s[^>]*name\s*=\s*[\"']([^\"']*(?:csrf|xsrf|authenticity_token|_token)[^\"']*)[\"']",
    re.I,
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-\[\]]{1,63}")
_NOT_FIELDS = frozenset(
    [
        "is",
        "are",
        "be",
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "for",
        "with",
        "not",
        "no",
        "must",
        "required",
        "missing",
        "invalid",
        "field",
        "fields",
        "value",
        "values",
        "error",
        "errors",
        "detail",
        "message",
        "validation",
        "parameter",
        "param",
        "argument",
        "expected",
        "bad",
        "request",
        "body",
        "query",
        "header",
        "this",
        "that",
        "should",
        "cannot",
        "empty",
        "null",
        "none",
        "type",
        "string",
        "integer",
        "number",
        "boolean",
        "object",
        "array",
        "please",
        "provide",
        "provided",
        "one",
    ]
)
# Status codes whose body can name a missing input (not auth, not routing, not rate limits).
_DEMAND_STATUSES = frozenset({400, 409, 412, 422})


def _add(into: dict[str, int], key: str, n: int = 1) -> None:
    if key in into or len(into) < _MAX_NAMES:
        into[key] = into.get(key, 0) + n


def _merge(into: dict[str, int], other: dict[str, int]) -> None:
    for k, n in other.items():
        _add(into, k, n)


def _cookie_names(header_value: str) -> list[str]:
    out = []
    for line in header_value.split("\n"):  # some producers fold several into one header
        name = line.split("=", 1)[0].strip()
        if name and "=" in line:
            out.append(name)
    return out


def set_cookie_names(entry: HarEntry) -> list[str]:
    """Names of the cookies a response sets."""
    out = []
    for k, v in entry.response_headers:
        if k.lower() == "set-cookie":
            out += _cookie_names(v)
    return out


def _digest(*parts: bytes | str | None) -> str:
    h = hashlib.blake2b(digest_size=8)
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass") if isinstance(p, str) else (p or b""))
        h.update(b"\x00")
    return h.hexdigest()


def _scalar_fields(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, (str, int, float, bool)) or v is None}


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values, or as text when one side came from a form (all strings)."""
    if a == b:
        return True
    if isinstance(a, str) != isinstance(b, str) and a is not None and b is not None:
        return str(a).lower() == str(b).lower()
    return False


def _error_words(resp: Body, text: str) -> set[str]:
    """Identifier-like words of an error body (field names an API says are missing)."""
    strings: list[str] = []
    if resp.kind == BodyKind.JSON:
        stack: list[Any] = [resp.value]
        while stack and len(strings) < 64:
            v = stack.pop()
            if isinstance(v, str):
                strings.append(v[:500])
            elif isinstance(v, dict):
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v[:16])
    elif resp.kind in (BodyKind.TEXT, BodyKind.HTML, BodyKind.XML):
        strings.append(text[:2000])
    words: set[str] = set()
    for s in strings:
        for w in _WORD.findall(s):
            low = w.lower().strip(".-[]")
            if low and low not in _NOT_FIELDS and not low.isdigit():
                words.add(low)
    return words


@dataclass
class OpSignals:
    """Per-operation evidence about login, required inputs and safety (bounded, mergeable)."""

    set_cookies: dict[str, int] = field(default_factory=dict)
    csrf_headers: dict[str, int] = field(default_factory=dict)
    demanded: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    carried: dict[str, int] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    same_answer: int = 0
    other_answer: int = 0
    html_documents: int = 0

    def add(self, entry: HarEntry, body: Body, resp: Body, capture: CaptureSignals) -> None:
        """Record one request of the operation (``body``: this operation's own request body)."""
        for k, v in entry.response_headers:
            low = k.lower()
            if low == "set-cookie":
                for name in _cookie_names(v):
                    _add(self.set_cookies, name)
            elif "srf" in low:
                _add(self.csrf_headers, k)
        read = entry.method in ("GET", "HEAD")
        if read and not (resp.kind == BodyKind.HTML or entry.status in _DEMAND_STATUSES):
            # A read's answer matters for nothing but its request count: hash the URL only.
            if len(self.answers) < _MAX_ANSWERS:
                self.answers.setdefault(_digest(entry.url), "")
            if 200 <= entry.status < 300 and resp.kind == BodyKind.JSON:
                capture.note_read(entry.origin, entry.path, resp.value)
            return
        raw_resp = entry.response_body()
        text = ""
        if resp.kind in (BodyKind.TEXT, BodyKind.HTML, BodyKind.XML) and raw_resp:
            text = raw_resp[:4000].decode("utf-8", "replace")
        if resp.kind == BodyKind.HTML and text.lstrip()[:15].lower().startswith(
            ("<!doctype html", "<html")
        ):
            self.html_documents += 1
        sent = _scalar_fields(body.value) if body.kind in (BodyKind.JSON, BodyKind.FORM) else {}
        if entry.status in _DEMAND_STATUSES:
            present = {k.lower() for k, _ in entry.query}
            if isinstance(body.value, dict):
                present |= {k.lower() for k in body.value}
            for w in _error_words(resp, text):
                if w not in present:
                    _add(self.demanded, w)
        if read:
            if len(self.answers) < _MAX_ANSWERS:
                self.answers.setdefault(_digest(entry.url), "")
            return
        self._note_answer(entry, raw_resp)
        if not (200 <= entry.status < 300) or not sent:
            return
        before = capture.read_before(entry.origin, entry.path)
        if before is not None and entry.method == "POST" and before[0] != entry.path.rstrip("/"):
            before = None  # a POST below a read creates something new: nothing to compare with
        after = resp.value if resp.kind == BodyKind.JSON and isinstance(resp.value, dict) else None
        if before is not None:
            key, old = before
            for f, v in sent.items():
                if f not in old:
                    continue
                if _same(old[f], v):
                    _add(self.carried, f)
                elif after is None or _same(after.get(f), v):
                    _add(self.changed, f)
            if after is not None and entry.method in ("PUT", "PATCH"):
                capture.note_read(entry.origin, key, after)  # the resource as it is now

    def _note_answer(self, entry: HarEntry, raw_resp: bytes | None) -> None:
        req = _digest(entry.method, entry.url, entry.request_body())
        ans = _digest(str(entry.status), raw_resp)
        prev = self.answers.get(req)
        if prev is None:
            if len(self.answers) < _MAX_ANSWERS:
                self.answers[req] = ans
        elif prev == ans:
            self.same_answer += 1
        else:
            self.other_answer += 1

    def merge(self, other: OpSignals) -> None:
        """Fold another accumulator in (same operation)."""
        _merge(self.set_cookies, other.set_cookies)
        _merge(self.csrf_headers, other.csrf_headers)
        _merge(self.demanded, other.demanded)
        _merge(self.changed, other.changed)
        _merge(self.carried, other.carried)
        for req, ans in other.answers.items():
            prev = self.answers.get(req)
            if prev is None:
                if len(self.answers) < _MAX_ANSWERS:
                    self.answers[req] = ans
            elif prev == ans:
                self.same_answer += 1
            else:
                self.other_answer += 1
        self.same_answer += other.same_answer
        self.other_answer += other.other_answer
        self.html_documents += other.html_documents

    @property
    def distinct_requests(self) -> int:
        """Distinct requests seen (capped): how many independent calls back the evidence."""
        return len(self.answers)


@dataclass
class CaptureSignals:
    """Capture-wide evidence: cookies servers set, CSRF token sources, last reads."""

    set_cookies: dict[str, int] = field(default_factory=dict)
    csrf_sources: dict[str, int] = field(default_factory=dict)
    csrf_pages: dict[str, str] = field(default_factory=dict)  # meta:/input: source -> page path
    reads: dict[str, dict[str, Any]] = field(default_factory=dict)  # insertion order: LRU

    def note_entry(self, entry: HarEntry) -> None:
        """Look at any entry, kept or dropped: Set-Cookie, CSRF headers, pages' CSRF tokens."""
        for k, v in entry.response_headers:
            low = k.lower()
            if low == "set-cookie":
                for name in _cookie_names(v):
                    _add(self.set_cookies, name)
                    if _CSRF.search(name):
                        _add(self.csrf_sources, f"cookie:{name}")
            elif "srf" in low:
                _add(self.csrf_sources, f"header:{k}")
        mime = (entry.response_mime or entry.header("content-type", response=True) or "").lower()
        if "html" in mime and entry.status < 400:
            raw = entry.response_body()
            if raw:
                page = raw[:_HTML_SCAN].decode("utf-8", "replace")
                for kind, rx in (("meta", _META_CSRF), ("input", _INPUT_CSRF)):
                    for m in rx.finditer(page):
                        key = f"{kind}:{m.group(1)}"
                        _add(self.csrf_sources, key)
                        if key in self.csrf_sources:
                            self.csrf_pages.setdefault(key, entry.path)

    def note_read(self, origin: str, path: str, value: Any) -> None:
        """Remember what a read of ``path`` showed (top-level scalars, bounded LRU)."""
        fields = _scalar_fields(value)
        if not fields:
            return
        key = origin + path.rstrip("/")
        self.reads.pop(key, None)
        self.reads[key] = fields
        if len(self.reads) > _MAX_READS:
            del self.reads[next(iter(self.reads))]

    def read_before(self, origin: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """The last read of ``path`` or of its nearest parent resource, with the path it was."""
        segs = path.rstrip("/").split("/")
        for cut in range(len(segs), 1, -1):
            p = "/".join(segs[:cut])
            got = self.reads.get(origin + p)
            if got is not None:
                return p, got
        return None

    def merge(self, other: CaptureSignals) -> None:
        """Fold another capture's tallies in (reads are per stream and stay apart)."""
        _merge(self.set_cookies, other.set_cookies)
        _merge(self.csrf_sources, other.csrf_sources)
        for k, page in other.csrf_pages.items():
            self.csrf_pages.setdefault(k, page)
