"""Value flows: which earlier response a request value came from, as producer → consumer edges.

A separate streaming pass over the HAR entries, in recording order.  Every
response leaves its *linkable* values (JSON leaves, ``Location``, custom
headers, ``Set-Cookie``, ``<meta>``/``<input>``/``data-*`` values of a page) in
a capped index; every later request value (path segment, query value, header,
body field) found in that index becomes one observation of an edge
``producer.output → consumer.input``.  Session cookies and CSRF/auth headers are
linked by *role* (the cookie's name, the double-submit pair), never by printing
a value: no value ever leaves this module.

Coincidences are kept out by :func:`linkable`: booleans, small integers, floats,
years, dates, short strings and plain words never link.

The pass is pure: it takes entries and a classifier (entry → node) and returns
a :class:`FlowGraph`; reading files is the caller's business.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from zapi.har import HarEntry, SkippedEntry
from zapi.redact import is_marker, is_secret_name

__all__ = [
    "BodyLinks",
    "Endpoint",
    "FlowEdge",
    "FlowGraph",
    "FlowNode",
    "FlowTracer",
    "linkable",
    "trace_flows",
]

Role = Literal["value", "session", "csrf", "auth"]

MAX_INDEX = 200_000  # values remembered at once (oldest forgotten first)
MAX_LEAVES = 5_000  # JSON leaves / HTML values read per response
MAX_BODY = 4 << 20  # bytes of a response body read for values
_WORD = re.compile(r"^[A-Za-z][A-Za-z .,'&_-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_ENUMISH = re.compile(r"^(?:[a-z]+(?:[_.-][a-z]+)*|[A-Z]+(?:[_.-][A-Z]+)*)$")  # least_connections
_SHORT_CODE = re.compile(r"^[a-z]{1,5}\d{1,2}$")  # ipv4, md5, v2: enum values, not ids
_CSRF = re.compile(r"csrf|xsrf", re.I)
_SKIP_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "connection",
        "content-length",
        "content-type",
        "cookie",
        "date",
        "host",
        "if-modified-since",
        "origin",
        "pragma",
        "referer",
        "server",
        "set-cookie",
        "upgrade-insecure-requests",
        "user-agent",
        "x-request-id",
        "x-requested-with",
        "content-encoding",
        "vary",
        "expires",
        "last-modified",
        "keep-alive",
        "transfer-encoding",
    }
)
_HTML_ATTR = re.compile(
    r"<(meta|input)\b[^>]*?\b(?:name|id)=[\"']([^\"']{1,80})[\"'][^>]*?\b(?:content|value)="
    r"[\"']([^\"']{1,500})[\"']",
    re.I,
)
_HTML_DATA = re.compile(r"\bdata-([a-z0-9_-]{1,40})=[\"']([^\"']{1,200})[\"']", re.I)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlowNode(_Model):
    """A producer or consumer: a tool, or a page/form the recording went through."""

    name: str
    kind: Literal["tool", "page"]
    calls: int = Field(description="requests of this node in the recording")


class FlowEdge(_Model):
    """``producer.output`` fed ``consumer.input`` ``count`` times in the recording."""

    producer: str
    output: str = Field(
        description="where the value was: a response field (items[].sku), header:NAME, "
        "cookie:NAME, html:KIND[NAME]"
    )
    consumer: str
    input: str = Field(
        description="where it went: an argument, or header:NAME / cookie:NAME for the runtime"
    )
    role: Role = Field(description="value, or session/csrf/auth (linked by role, never by value)")
    count: int
    confidence: float = Field(description="share of the consumer input's values this edge explains")

    @property
    def hint(self) -> str:
        """``consumer.input ← producer.output``."""
        return f"{self.consumer}.{self.input} ← {self.producer}.{self.output}"


class FlowGraph(_Model):
    """The dependency graph of one capture (``OUT/flows.json``)."""

    schema_version: Literal["1"] = "1"
    nodes: list[FlowNode]
    edges: list[FlowEdge]
    entries: int = Field(description="entries read")
    linked: int = Field(description="request values explained by an earlier response")
    forgotten: int = Field(0, description="values dropped from the capped index (long captures)")

    def dump(self) -> str:
        """Deterministic JSON text."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Endpoint:
    """What the classifier says about an entry: its node and path template."""

    node: str
    template: str = ""  # /items/{item_id}: path segments in braces are inputs
    kind: Literal["tool", "page"] = "tool"
    names: tuple[tuple[str, str], ...] = ()  # (location:wire-name, argument) renames


Classify = Callable[[HarEntry], Endpoint | None]


def linkable(value: Any) -> str | None:
    """The index key of a value worth linking, or ``None`` for a likely coincidence.

    Never: booleans, null, floats, integers below 1000 or that look like a year,
    dates, strings shorter than 3, plain words and phrases (unless 16+ mixed-case
    characters without spaces), enum-like codes (``least_connections``,
    ``CHANGES_REQUESTED``, ``ipv4``), redaction markers.
    """
    if type(value) is str and len(value) <= _LINKABLE_LEN:  # responses repeat their strings
        hit = _LINKABLE.get(value, _UNSEEN)
        if hit is _UNSEEN:
            hit = _linkable_str(value)
            if len(_LINKABLE) >= _LINKABLE_MAX:
                _LINKABLE.clear()
            _LINKABLE[value] = hit
        return hit  # type: ignore[return-value]
    if value is None or isinstance(value, bool | float):
        return None
    if isinstance(value, int):
        return None if abs(value) < 1000 or 1900 <= value <= 2100 else str(value)
    if not isinstance(value, str):
        return None
    return _linkable_str(value)


_UNSEEN = object()
_LINKABLE: dict[str, object] = {}  # string -> linkable(string): a pure function, memoised
_LINKABLE_MAX = 1 << 16
_LINKABLE_LEN = 128  # longer strings are judged every time (the memo stays under ~15 MB)


def _linkable_str(value: str) -> str | None:
    s = value.strip()
    if len(s) < 3 or len(s) > 2048 or is_marker(s) or _DATE.match(s):
        return None
    if s.lstrip("-").isdigit():
        return linkable(int(s)) if len(s) < 19 else s
    if _WORD.match(s) and (len(s) < 16 or " " in s) or _ENUMISH.match(s) or _SHORT_CODE.match(s):
        return None
    if not any(c.isdigit() for c in s) and " " in s:
        return None
    return s


def _field(pointer: list[str | int]) -> str:
    """``["items", 3, "sku"]`` → ``items[].sku``; top-level list → ``[].id``."""
    out = ""
    for p in pointer:
        if isinstance(p, int):
            out += "[]"
        else:
            out += ("." if out else "") + p
    return out or "(body)"


def _leaves(data: Any, limit: int = MAX_LEAVES) -> Iterator[tuple[list[str | int], Any]]:
    stack: list[tuple[list[str | int], Any]] = [([], data)]
    n = 0
    while stack and n < limit:
        path, node = stack.pop()
        if isinstance(node, dict):
            for k in reversed(list(node)):
                stack.append(([*path, str(k)], node[k]))
        elif isinstance(node, list):
            for i in range(len(node) - 1, -1, -1):
                stack.append(([*path, i], node[i]))
        else:
            n += 1
            yield path, node


def _leaf_fields(data: Any, limit: int = MAX_LEAVES) -> list[tuple[str, str, Any]]:
    """``(field, last key, leaf)`` of each leaf, as :func:`_field` of :func:`_leaves` would give.

    The same leaves in the same order, but each field name is built once per level
    instead of once per leaf from its whole pointer (bodies of thousands of leaves).
    """
    out: list[tuple[str, str, Any]] = []
    stack: list[tuple[str, str, Any]] = [("", "", data)]
    while stack and len(out) < limit:
        where, key, node = stack.pop()
        if isinstance(node, dict):
            pre = where + "." if where else ""
            for k in reversed(list(node)):
                sk = str(k)
                stack.append((pre + sk, sk, node[k]))
        elif isinstance(node, list):
            inner = where + "[]"
            for v in reversed(node):
                stack.append((inner, key, v))
        else:
            out.append((where or "(body)", key, node))
    return out


@lru_cache(maxsize=4096)
def _key_role(key: str) -> str:
    """The role a response field of this name plays: ``csrf``, ``auth`` or ``""``."""
    if _CSRF.search(key):
        return "csrf"
    if "token" in key.lower() and is_secret_name(key) and "refresh" not in key:
        return "auth"
    return ""


def _json(raw: bytes | None, mime: str) -> Any:
    if not raw or len(raw) > MAX_BODY:
        return None
    head = raw[:1].strip() or raw.lstrip()[:1]
    if "json" not in mime.lower() and head not in (b"{", b"["):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _cookie_names(header: str) -> list[tuple[str, str]]:
    name, _, rest = header.partition("=")
    return [(name.strip(), rest.split(";", 1)[0].strip())] if name.strip() else []


_BodyValues = tuple[list[tuple[str, str]], dict[str, str]]  # (key, field) links, role -> field
# What a response body leaves: (key, field) links, then (role, field) in order.
BodyLinks = tuple[list[tuple[str, str]], list[tuple[str, str]]]
_MEMO_MIN = 2048  # smaller bodies are cheap to walk again
# Values of large bodies kept, least recently used forgotten first: at most this many links
# in all (a link is a short key and a field name; bitbucket's 63 distinct large bodies
# hold 14k), so the memo covers the bodies a capture repeats without a fixed count of them
# (32 bodies thrashed on bitbucket: 382 walks where 63 do).
_MEMO_LINKS = 200_000


class FlowTracer:
    """Feed entries in order; :meth:`graph` returns the edges seen so far."""

    def __init__(self, classify: Classify, *, max_index: int = MAX_INDEX) -> None:
        """Start an empty trace.

        Args:
            classify: entry → :class:`Endpoint`, or ``None`` to ignore the entry.
            max_index: values remembered at once; the oldest are forgotten first.
        """
        self._classify = classify
        self._max = max_index
        self._index: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._setters: dict[str, str] = {}  # cookie name -> node that set it
        self._roles: dict[str, tuple[str, str]] = {}  # csrf/auth -> latest (node, output)
        self._edges: Counter[tuple[str, str, str, str, str]] = Counter()
        self._observed: Counter[tuple[str, str]] = Counter()
        self._nodes: dict[str, tuple[str, int]] = {}
        self.entries = 0
        self.linked = 0
        self.forgotten = 0
        self._memo: dict[bytes, _BodyValues] = {}  # large JSON bodies' values, by digest
        self._memo_links = 0

    def classify_with(self, classify: Classify) -> None:
        """Classify the entries fed from now on with ``classify``."""
        self._classify = classify

    # -- index -----------------------------------------------------------
    def _remember(self, key: str | None, node: str, output: str) -> None:
        if key is None:
            return
        if key in self._index:
            self._index.move_to_end(key)
        self._index[key] = (node, output)
        if len(self._index) > self._max:
            self._index.popitem(last=False)
            self.forgotten += 1

    def _json_values(self, body: bytes | None, mime: str) -> _BodyValues | None:
        """The linkable values of a JSON body (index key, field) and its role fields, or ``None``.

        Recordings repeat large responses (a list fetched after every edit): the values
        of a large body are kept by digest, so a repeat costs a replay, not a walk.
        """
        digest = None
        if body and len(body) >= _MEMO_MIN:
            digest = hashlib.blake2b(body, digest_size=16, person=mime[:16].encode()).digest()
            hit = self._memo.pop(digest, None)
            if hit is not None:
                self._memo[digest] = hit  # most recently used last
                return hit
        data = _json(body, mime)
        if data is None:
            return None
        links: list[tuple[str, str]] = []
        roles: dict[str, str] = {}
        for where, key, leaf in _leaf_fields(data):
            k = linkable(leaf)
            if k is not None:
                links.append((k, where))
            role = _key_role(key)
            if role:
                roles[role] = where
        values = (links, roles)
        if digest is not None:
            self._memo[digest] = values
            self._memo_links += len(links) + 1
            while self._memo_links > _MEMO_LINKS:
                old = self._memo.pop(next(iter(self._memo)))
                self._memo_links -= len(old[0]) + 1
        return values

    def _index_response(self, e: HarEntry, node: str, body_links: BodyLinks | None) -> None:
        for name, value in e.response_headers:
            low = name.lower()
            if low == "set-cookie":
                for cname, cvalue in _cookie_names(value):
                    self._setters[cname] = node
                    if not is_marker(cvalue):
                        self._remember(linkable(cvalue), node, f"cookie:{cname}")
            elif low == "location":
                self._remember(linkable(value), node, "header:Location")
                for seg in urlsplit(value).path.split("/"):
                    self._remember(linkable(seg), node, "header:Location")
            elif low not in _SKIP_HEADERS and (low.startswith("x-") or low == "etag"):
                self._remember(linkable(value), node, f"header:{name}")
        if body_links is not None:
            links, roles = body_links
            for key, where in links:
                self._remember(key, node, where)
            for role, where in roles:
                self._roles[role] = (node, where)

    def body_links(self, e: HarEntry) -> BodyLinks | None:
        """The linkable values of ``e``'s response body and the fields that play a role.

        What the response body leaves in the index, without knowing the entry's node:
        this part needs no card, so it can be done before the cards exist
        (``toolgen.flows.flows_early``) and handed to :meth:`feed` later.
        """
        body = e.response_body()
        values = self._json_values(body, e.response_mime)
        if values is not None:
            return values[0], list(values[1].items())
        if not (body and "html" in e.response_mime.lower() and len(body) <= MAX_BODY):
            return None
        text = body.decode("utf-8", "replace")
        links: list[tuple[str, str]] = []
        roles: list[tuple[str, str]] = []
        n = 0
        for m in _HTML_ATTR.finditer(text):
            where = f"html:{m.group(1).lower()}[{m.group(2)}]"
            key = linkable(m.group(3))
            if key is not None:
                links.append((key, where))
            if _CSRF.search(m.group(2)):
                roles.append(("csrf", where))
            n += 1
            if n > MAX_LEAVES:
                break
        for m in _HTML_DATA.finditer(text):
            key = linkable(m.group(2))
            if key is not None:
                links.append((key, f"html:data-{m.group(1).lower()}"))
            n += 1
            if n > MAX_LEAVES:
                break
        return links, roles

    # -- requests --------------------------------------------------------
    def _link(self, node: str, key: str | None, where: str, role: Role = "value") -> None:
        if key is None:
            return
        self._observed[(node, where)] += 1
        hit = self._index.get(key)
        if hit is not None and hit[0] != node:  # a node feeding itself is a refresh, not a flow
            self._edges[(hit[0], hit[1], node, where, role)] += 1
            self.linked += 1

    def _request_values(self, e: HarEntry, ep: Endpoint) -> Iterator[tuple[str, Any]]:
        """(input, value) pairs of the request, inputs named after the card when known."""
        names = dict(ep.names)
        segs = [s for s in e.path.split("/") if s]
        tmpl = [s for s in ep.template.split("/") if s] if ep.template else []
        for i, seg in enumerate(segs):
            if tmpl and len(tmpl) == len(segs):
                t = tmpl[i]
                if t.startswith("{"):
                    yield names.get(f"path:{t.strip('{}+')}", t.strip("{}+")), seg
            elif not tmpl:
                yield f"path[{i}]", seg
        for k, v in e.query:
            yield names.get(f"query:{k}", k), v
        body = e.request_body()
        data = _json(body, e.request_mime)
        if data is not None:
            for path, leaf in _leaves(data):
                top = path[0] if path and isinstance(path[0], str) else ""
                arg = names.get(f"body:{top}", top) if top else ""
                rest = _field(path[1:]) if len(path) > 1 else ""
                name = (
                    arg + ("." + rest if rest and not rest.startswith("[") else rest)
                ) or _field(path)
                yield name, leaf
        elif body and "x-www-form-urlencoded" in e.request_mime.lower():
            for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                yield names.get(f"body:{k}", k), v
        for p in e.request_params:
            if p.value is not None and p.filename is None:
                yield names.get(f"body:{p.name}", p.name), p.value

    def _consume(self, e: HarEntry, ep: Endpoint) -> None:
        node = ep.node
        for name, value in self._request_values(e, ep):
            if is_secret_name(name.split(".")[-1]):
                if not is_marker(value):
                    self._link(node, linkable(value), name, "auth")
                continue
            self._link(node, linkable(value), name)
        cookies = dict(e.request_cookies)
        for header in (v for k, v in e.request_headers if k.lower() == "cookie"):
            for part in header.split(";"):
                cname, _, cval = part.partition("=")
                cookies.setdefault(cname.strip(), cval.strip())
        for cname in sorted(cookies):
            setter = self._setters.get(cname)
            if setter is not None and setter != node:
                # the browser sends cookies by itself: session role, whatever the name
                self._edges[(setter, f"cookie:{cname}", node, f"cookie:{cname}", "session")] += 1
                self._observed[(node, f"cookie:{cname}")] += 1
                self.linked += 1
        for hname, hval in e.request_headers:
            low = hname.lower()
            if low in _SKIP_HEADERS or low.startswith(("sec-", ":")):
                continue
            where = f"header:{hname}"
            if _CSRF.search(hname):
                self._link_csrf(node, where, hval, cookies)
            elif low == "authorization" or is_secret_name(hname):
                token = hval.split(" ", 1)[-1].strip()
                if not is_marker(token):
                    self._link(node, linkable(token), where, "auth")
                elif "auth" in self._roles:  # redacted: the latest token a response gave
                    self._observed[(node, where)] += 1
                    prod, out = self._roles["auth"]
                    self._edges[(prod, out, node, where, "auth")] += 1
                    self.linked += 1
            else:
                self._link(node, linkable(hval), where)

    def _link_csrf(self, node: str, where: str, value: str, cookies: dict[str, str]) -> None:
        """A CSRF header: its cookie twin (double submit) or the page value it equals."""
        self._observed[(node, where)] += 1
        twin = [c for c, v in cookies.items() if _CSRF.search(c) and (v == value or is_marker(v))]
        if not is_marker(value):
            hit = self._index.get(value)
            if hit is not None:
                self._edges[(hit[0], hit[1], node, where, "csrf")] += 1
                self.linked += 1
                return
            twin = [c for c, v in cookies.items() if v == value] or twin
        for cname in twin[:1]:
            setter = self._setters.get(cname)
            if setter is not None:
                self._edges[(setter, f"cookie:{cname}", node, where, "csrf")] += 1
                self.linked += 1
                return
        if is_marker(value) and "csrf" in self._roles:  # redacted: the latest page token
            prod, out = self._roles["csrf"]
            self._edges[(prod, out, node, where, "csrf")] += 1
            self.linked += 1

    # -- driving -----------------------------------------------------------
    def feed(
        self, item: HarEntry | SkippedEntry, body_links: BodyLinks | None | bool = True
    ) -> None:
        """Consume one entry's request values, then remember its response values.

        ``body_links``: what :meth:`body_links` gave for this entry, when it was asked
        before (``True``: ask now).
        """
        if not isinstance(item, HarEntry):
            return
        self.entries += 1
        ep = self._classify(item)
        if ep is None:
            return
        kind, calls = self._nodes.get(ep.node, (ep.kind, 0))
        self._nodes[ep.node] = (kind, calls + 1)
        self._consume(item, ep)
        links = self.body_links(item) if body_links is True else body_links
        self._index_response(item, ep.node, links or None)

    def graph(self) -> FlowGraph:
        """The edges so far, strongest first within each consumer."""
        edges = []
        for (prod, out, cons, inp, role), count in self._edges.items():
            seen = max(self._observed[(cons, inp)], count)
            ratio = count / seen
            confidence = round(ratio * min(1.0, 0.6 + 0.2 * count), 2)
            edges.append(
                FlowEdge(
                    producer=prod,
                    output=out,
                    consumer=cons,
                    input=inp,
                    role=role,
                    count=count,
                    confidence=confidence,
                )
            )
        edges.sort(key=lambda x: (x.consumer, x.input, -x.count, x.producer, x.output))
        nodes = [FlowNode(name=n, kind=k, calls=c) for n, (k, c) in sorted(self._nodes.items())]
        return FlowGraph(
            nodes=nodes,
            edges=edges,
            entries=self.entries,
            linked=self.linked,
            forgotten=self.forgotten,
        )


def trace_flows(
    items: Iterable[HarEntry | SkippedEntry], classify: Classify, *, max_index: int = MAX_INDEX
) -> FlowGraph:
    """The dependency graph of ``items`` (in recording order) under ``classify``."""
    tracer = FlowTracer(classify, max_index=max_index)
    for item in items:
        tracer.feed(item)
    return tracer.graph()
