"""The analysis pipeline: stream entries into bounded evidence, then template and assemble.

``Collector.feed`` runs the per-entry passes (noise filters, body decoding,
auth and parameter tallies) and files the evidence under a *provisional*
operation key, where id-shaped path segments are already placeholders.
``Collector.finish`` decides first-party hosts, templates every path with
the evidence of the whole capture, merges provisional groups into
operations and returns an :class:`Analysis`.  The collector is pure: no
file, network, clock or environment access; callers feed it entries.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from zapi.analyzer import auth as authmod
from zapi.analyzer.bodies import Body, BodyKind
from zapi.analyzer.evidence import (
    BodyMemo,
    BodyStats,
    Decoded,
    OpEvidence,
    ParamStats,
    ResponseStats,
)
from zapi.analyzer.filters import DEFAULT_FILTERS, Filter, Reason, drop_reason, first_party_hosts
from zapi.analyzer.model import Analysis, AuthScheme, Operation
from zapi.analyzer.paths import (
    PLACEHOLDER,
    PathObservation,
    Rules,
    Template,
    TemplateTrie,
    build_templates,
    normalise_segment,
)
from zapi.analyzer.protocols import graphql_kind, split_operations
from zapi.analyzer.signals import CaptureSignals
from zapi.har import HarEntry, SkippedEntry
from zapi.redact import Redactor
from zapi.shapes import Shape, classify

__all__ = ["AnalyzeOptions", "Collector", "analyze_entries"]

# Request headers that say nothing about the API (browser and transport noise).
NOISE_HEADERS = frozenset(
    [
        "accept",
        "accept-encoding",
        "accept-language",
        "user-agent",
        "referer",
        "origin",
        "connection",
        "host",
        "content-length",
        "content-type",
        "cookie",
        "cache-control",
        "pragma",
        "dnt",
        "upgrade-insecure-requests",
        "te",
        "priority",
        "if-none-match",
        "if-modified-since",
        "if-match",
        "if-unmodified-since",
        "range",
        "keep-alive",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-real-ip",
        "via",
        "traceparent",
        "tracestate",
        "sentry-trace",
        "baggage",
        "x-amzn-trace-id",
        "x-cloud-trace-context",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-sampled",
        "x-b3-parentspanid",
        "b3",
        "x-request-id",
        "x-correlation-id",
        "purpose",
        "sec-purpose",
        "proxy-connection",
        "expect",
        "authorization",
        "proxy-authorization",
        "idempotency-key",
        "x-idempotency-key",
        ":authority",
        ":method",
        ":path",
        ":scheme",
    ]
)
IDEMPOTENCY_HEADERS = ("idempotency-key", "x-idempotency-key", "idempotency_key")
MAX_EXAMPLES_PER_REASON = 3
MAX_SKIPPED = 50
COMPACT_AT = 4096  # provisional groups before rare values are folded into parameters


@dataclass(frozen=True)
class AnalyzeOptions:
    """Knobs of one analysis.

    Args:
        include_hosts: only these hosts (glob patterns) are analysed.
        exclude_hosts: these hosts (glob patterns) are dropped.
        rules: user templating overrides.
        filters: per-entry noise filters, in order.
        ui_actions: (entry started time → UI action label) attributions from a
            recorder sidecar, keyed by ``(source, index)``.
    """

    include_hosts: tuple[str, ...] = ()
    exclude_hosts: tuple[str, ...] = ()
    rules: Rules = field(default_factory=Rules)
    filters: tuple[Filter, ...] = DEFAULT_FILTERS
    ui_actions: dict[tuple[str, int], str] = field(default_factory=dict)


def _host_matches(host: str, patterns: Iterable[str]) -> bool:
    h = host.lower()
    bare = h.split(":", 1)[0]
    return any(fnmatch.fnmatch(h, p.lower()) or fnmatch.fnmatch(bare, p.lower()) for p in patterns)


def _typed(v: str) -> Any:
    if v.isdigit() and (len(v) == 1 or v[0] != "0") and len(v) < 16:
        return int(v)
    if v in ("true", "false"):
        return v == "true"
    try:
        if v and v.count(".") == 1 and v.replace(".", "", 1).lstrip("-").isdigit():
            return float(v)
    except ValueError:
        pass
    return v


def _body_sig(body: Body) -> str:
    if body.kind == BodyKind.JSON:
        v = body.value
        if isinstance(v, dict):
            if len(v) <= 3:  # envelopes like {"data": {...}} say little at the top level
                for inner in v.values():
                    if isinstance(inner, list) and inner and isinstance(inner[0], dict):
                        inner = inner[0]
                    if isinstance(inner, dict) and inner:
                        return "obj:" + ",".join(sorted(v)) + ">" + ",".join(sorted(inner)[:24])
            return "obj:" + ",".join(sorted(v)[:24])
        if isinstance(v, list):
            first = v[0] if v else None
            inner = (
                ",".join(sorted(first)[:24]) if isinstance(first, dict) else type(first).__name__
            )
            return "arr:" + inner
        return type(v).__name__
    return body.kind


_ECHO = re.compile(r"\|e:[0-9,]+")


def _echo_positions(sig: str) -> tuple[int, ...]:
    """The echoed segment positions recorded in an observation signature."""
    m = _ECHO.search(sig)
    return tuple(int(x) for x in m.group(0)[3:].split(",")) if m else ()


def _scalars(value: Any, out: set[str], depth: int = 0) -> None:
    """Short scalar values of a JSON document (a few levels deep, bounded)."""
    if len(out) >= 400 or depth > 3:
        return
    if isinstance(value, dict):
        for v in value.values():
            _scalars(v, out, depth + 1)
    elif isinstance(value, list):
        for v in value[:20]:
            _scalars(v, out, depth + 1)
    elif isinstance(value, str) and 0 < len(value) <= 80:
        out.add(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        out.add(str(value))


# Escapes whose decoding would change what the path means: a slash inside a segment, a
# literal '%', '?', '#', a backslash (a separator to some servers), a brace (a template).
_MEANINGFUL_ESCAPE = re.compile(r"(%(?:2[fF]|25|3[fF]|23|5[cC]|7[bB]|7[dD]))")


def wire_segment(segment: str) -> str:
    """A path segment as the card keeps it: decoded, except escapes that change its meaning.

    ``..%2F..%2Fetc`` stays one segment (not ``../../etc``); ``caf%C3%A9`` and ``a%20b``
    decode (the runtime encodes them again when it sends).
    """
    if "%" not in segment:
        return segment
    parts = _MEANINGFUL_ESCAPE.split(segment)
    return "".join(p.upper() if i % 2 else unquote(p) for i, p in enumerate(parts))


def _echoed_positions(
    raw: tuple[str, ...], norm: tuple[str, ...], resp: Decoded, req: Decoded
) -> tuple[int, ...]:
    """Positions of word-like path segments whose value the bodies repeat (``/items/A-1`` →
    ``{"sku": "A-1"}``): evidence that the segment is an identifier, not a route word."""
    weak = [
        i
        for i, (r, n) in enumerate(zip(raw, norm, strict=True))
        if r == n and i > 0 and classify(r) != Shape.WORD  # plain words never count as echoes
    ]
    if not weak:
        return ()
    if resp.scalars is None:
        resp.scalars = set()
        if resp.body.kind == BodyKind.JSON:
            _scalars(resp.body.value, resp.scalars)
    values = resp.scalars
    if req.body.kind == BodyKind.JSON:
        values = set(values)  # the response's are shared: add the request's to a copy
        _scalars(req.body.value, values)
    return tuple(i for i in weak if raw[i] in values or unquote(raw[i]) in values)


# Body fields whose string values name things (ids, names, keys, slugs, codes, file paths).
_ID_KEY = re.compile(
    r"^(?:id|ids|uuid|guid|key|keys|name|names|slug|path|username|login|handle|filename|code)$"
    r"|(?:_id|Id|ID|_ids|Ids|_key|Key|_name|Name|_slug|Slug|_uuid|Uuid|_path|Path|_code|Code)$"
)
MAX_ID_VALUES = 50_000  # distinct named values remembered (bounded memory, ~25 MB)
MAX_ID_SOURCES = 4  # request paths remembered per value
_ID_KEYS_SEEN: dict[str, bool] = {}


def _source_order(path: str) -> tuple[int, str]:
    """Shorter request paths first: a collection (the likely listing) outlives deep routes."""
    return (len(path), path)


# Endpoints that query a collection for its items (``POST /pools/filter``).
_QUERY_WORDS = frozenset({"filter", "search", "query", "list", "paginate", "find", "lookup", "all"})


def _lists_beside(source: str, parent: str) -> bool:
    """True when ``source`` is the query endpoint of the same collection (``/pools/filter``
    for ``/pools/gpu-pool``): its body listed the collection's items.  Another sibling
    (``/storages/types`` beside ``/storages/s3``) lists something else."""
    head, _, last = source.rpartition("/")
    return head == parent and last.lower() in _QUERY_WORDS


def _is_id_key(key: str) -> bool:
    hit = _ID_KEYS_SEEN.get(key)
    if hit is None:
        hit = bool(_ID_KEY.search(key))
        if len(_ID_KEYS_SEEN) < 65536:
            _ID_KEYS_SEEN[key] = hit
    return hit


def _named_values(value: Any, out: list[str], depth: int = 0, key: str = "") -> None:
    """String values of id/name/key fields in a JSON document (bounded depth and count)."""
    if depth > 5 or len(out) >= 256:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str):
                if 0 < len(v) <= 200 and not v.isdigit() and _is_id_key(k):
                    out.append(v)
            elif isinstance(v, dict | list):
                _named_values(v, out, depth + 1, k)
    elif isinstance(value, list):
        named = bool(key) and _is_id_key(key)
        for v in value[:25]:
            if isinstance(v, str):
                if named and 0 < len(v) <= 200 and not v.isdigit():
                    out.append(v)
            elif isinstance(v, dict | list):
                _named_values(v, out, depth + 1, key)


@dataclass
class Collector:
    """Streaming accumulator: feed entries, then ``finish()`` for the Analysis."""

    options: AnalyzeOptions = field(default_factory=AnalyzeOptions)
    groups: dict[tuple[str, str, tuple[str, ...], str], OpEvidence] = field(default_factory=dict)
    observations: dict[tuple[str, str, tuple[str, ...], str], int] = field(default_factory=dict)
    entries_read: int = 0
    entries_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_examples: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[tuple[str, int, str]] = field(default_factory=list)
    skipped_count: int = 0
    hosts: dict[str, int] = field(default_factory=dict)
    api_hosts: dict[str, int] = field(default_factory=dict)
    page_hosts: dict[str, int] = field(default_factory=dict)
    # hosts of kept requests that got no response (status 0): scoped like the others,
    # but never first-party by their share of the traffic alone
    unanswered_hosts: dict[str, int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    redactor: Redactor = field(default_factory=Redactor)
    compact_at: int = COMPACT_AT
    learned: dict[str, TemplateTrie] = field(default_factory=dict)
    signals: CaptureSignals = field(default_factory=CaptureSignals)
    # value -> a few request paths whose bodies named it as an id/name/key
    id_values: dict[str, list[str]] = field(default_factory=dict)
    memo: BodyMemo = field(default_factory=BodyMemo, repr=False, compare=False)
    finished: bool = False

    # -- streaming -----------------------------------------------------------
    def feed_all(self, items: Iterable[HarEntry | SkippedEntry]) -> Collector:
        """Feed every item; return self."""
        for item in items:
            self.feed(item)
        return self

    def feed(self, item: HarEntry | SkippedEntry) -> None:
        """Run the per-entry passes on one entry."""
        self.entries_read += 1
        if item.source not in self.sources:
            self.sources.append(item.source)
        if isinstance(item, SkippedEntry):
            self.skipped_count += 1
            if len(self.skipped) < MAX_SKIPPED:
                self.skipped.append((item.source, item.index, item.reason))
            return
        entry = item
        host = entry.host
        self.hosts[host] = self.hosts.get(host, 0) + 1
        self._note_page_hosts(entry)
        self.signals.note_entry(entry)
        opts = self.options
        reason = None
        if opts.exclude_hosts and _host_matches(host, opts.exclude_hosts):
            reason = Reason.EXCLUDED
        elif opts.include_hosts and not _host_matches(host, opts.include_hosts):
            reason = Reason.OUT_OF_SCOPE
        else:
            reason = drop_reason(entry, opts.filters)
            if reason == Reason.TRACKER and opts.include_hosts:
                reason = None  # explicitly included hosts are never treated as trackers
        if reason is not None:
            self._drop(reason, entry.url)
            return
        self.entries_kept += 1
        tally = self.api_hosts if entry.status else self.unanswered_hosts
        tally[host] = tally.get(host, 0) + 1
        self._collect(entry)

    def _note_page_hosts(self, entry: HarEntry) -> None:
        if entry.resource_type == "document" and 0 < entry.status < 400:
            h = entry.host
            self.page_hosts[h] = self.page_hosts.get(h, 0) + 1
            return
        for name in ("origin", "referer"):
            v = entry.header(name)
            if v and v != "null":
                h = urlsplit(v).netloc.lower()
                if h:
                    self.page_hosts[h] = self.page_hosts.get(h, 0) + 1
                return

    def _drop(self, reason: str, url: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        ex = self.dropped_examples.setdefault(reason, [])
        if len(ex) < MAX_EXAMPLES_PER_REASON:
            short = self.redactor.url(url)
            if short not in ex:
                ex.append(short)

    def _collect(self, entry: HarEntry) -> None:
        parts = urlsplit(entry.url)
        raw_segs = tuple(wire_segment(s) for s in parts.path.split("/") if s != "")
        norm = tuple(normalise_segment(s) for s in raw_segs)
        learned = self.learned.get(entry.origin)
        if learned is not None:
            norm = learned.fold(norm)
        req_raw = entry.request_body()
        req = self.memo.decode(
            req_raw, entry.request_mime or entry.header("content-type") or "", entry.request_params
        )
        req_body = req.body
        resp_raw = entry.response_body()
        resp = self.memo.decode(
            resp_raw, entry.response_mime or entry.header("content-type", response=True) or ""
        )
        resp_body = resp.body
        splits: list[tuple[str, str, Body]] = [("", "rest", req_body)]
        ops = split_operations(
            entry.method, entry.query, req_body.value, req_body.kind == BodyKind.JSON
        )
        if ops is not None:
            splits = [
                (
                    n,
                    p,
                    Body(BodyKind.JSON, v, req_body.media) if v is not req_body.value else req_body,
                )
                for n, p, v in ops
            ]
        query = entry.query
        qkeys = ",".join(sorted({k for k, _ in query}))
        if resp.sig is None:
            resp.sig = _body_sig(resp_body)
        sig = f"{entry.status // 100}:{resp.sig}|q:{qkeys}"
        self._note_named(norm, resp, req)
        echoed = _echoed_positions(raw_segs, norm, resp, req) if len(norm) == len(raw_segs) else ()
        if echoed:
            sig += "|e:" + ",".join(map(str, echoed))
        for disc, protocol, body in splits:
            okey = (entry.origin, entry.method, norm, sig if not disc else sig + "|" + disc)
            self.observations[okey] = self.observations.get(okey, 0) + 1
            gkey = (entry.origin, entry.method, norm, disc)
            ev = self.groups.get(gkey)
            if ev is None:
                ev = self.groups[gkey] = OpEvidence(
                    origin=entry.origin,
                    method=entry.method,
                    discriminator=disc,
                    protocol=protocol,
                )
            whole = req if body is req_body else None  # not one operation of a batch
            self._fill(ev, entry, raw_segs, norm, query, body, resp, whole)
            if len(self.groups) >= self.compact_at:
                self.compact()
            if protocol == "graphql" and isinstance(body.value, dict):
                ev.graphql_kind = ev.graphql_kind or graphql_kind(body.value.get("query"))

    def _note_named(self, norm: tuple[str, ...], *bodies: Decoded) -> None:
        """Remember the id/name/key values of the bodies, with the (normalised) path."""
        found: list[str] = []
        for d in bodies:
            if d.named is None:
                d.named = []
                if d.body.kind == BodyKind.JSON:
                    _named_values(d.body.value, d.named)
            found += d.named
        if not found:
            return
        where = sys.intern("/" + "/".join(norm))  # ids are placeholders: paths repeat
        ids = self.id_values
        for v in found:
            src = ids.get(v)
            if src is None:
                if len(ids) < MAX_ID_VALUES:
                    ids[v] = [where]
            elif where not in src:
                src.append(where)
                src.sort(key=_source_order)
                del src[MAX_ID_SOURCES:]

    def _observation(
        self, key: tuple[str, str, tuple[str, ...], str], count: int
    ) -> PathObservation:
        """A path observation with the provenance of its values (see ``paths``)."""
        origin, method, segs, sig = key
        sourced: list[int] = []
        listed: list[int] = []
        spans: list[tuple[int, int]] = []
        ids = self.id_values
        own = "/" + "/".join(segs)
        for i, seg in enumerate(segs):
            if seg.startswith(PLACEHOLDER) or i == 0:
                continue
            src = ids.get(seg)
            if src is not None:
                parent = "/" + "/".join(segs[:i])
                if parent in src or any(_lists_beside(p, parent) for p in src):
                    listed.append(i)
                elif any(p != own for p in src) or classify(seg) != Shape.WORD:
                    sourced.append(i)
            for j in range(i + 2, len(segs) + 1):
                if segs[j - 1].startswith(PLACEHOLDER):
                    break
                if "/".join(segs[i:j]) in ids:
                    spans.append((i, j))
        return PathObservation(
            origin=origin,
            method=method,
            segments=segs,
            count=count,
            signature=_ECHO.sub("", sig),
            echoed=_echo_positions(sig),
            sourced=tuple(sourced),
            listed=tuple(listed),
            spans=tuple(spans),
        )

    def _fill(
        self,
        ev: OpEvidence,
        entry: HarEntry,
        raw_segs: tuple[str, ...],
        norm: tuple[str, ...],
        query: list[tuple[str, str]],
        body: Body,
        decoded: Decoded,
        req: Decoded | None,
    ) -> None:
        """Add one request to a group (``req``: its decoded body when ``body`` is all of it)."""
        ev.count += 1
        resp = decoded.body
        if raw_segs and entry.url.split("?", 1)[0].endswith("/"):
            ev.trailing_slash += 1
        ev.note_entry(entry.source, entry.index)
        path = "/" + "/".join(raw_segs)
        if not ev.example_path or path < ev.example_path:
            ev.example_path = path
        for i, (r, n) in enumerate(zip(raw_segs, norm, strict=False)):
            if r != n and len(raw_segs) == len(norm):
                vals = ev.path_values.setdefault(str(i), [])
                value = unquote(r)  # an argument value; the runtime encodes it again
                if value not in vals and len(vals) < 8:
                    vals.append(value)
        grouped: dict[str, list[str]] = {}
        for k, v in query:
            grouped.setdefault(k[:-2] if k.endswith("[]") else k, []).append(v)
        for k, vs in grouped.items():
            ev.query.setdefault(k, ParamStats()).add(vs, [_typed(v) for v in vs])
        for name, value in entry.request_headers:
            low = name.lower()
            if low in IDEMPOTENCY_HEADERS:
                ev.idempotency_header[name] = ev.idempotency_header.get(name, 0) + 1
                continue
            if low in NOISE_HEADERS or low.startswith(("sec-", "x-datadog", "x-b3", ":")):
                continue
            if self.redactor.is_secret(low):
                continue  # credentials are auth, not inputs
            ev.headers.setdefault(low, ParamStats()).add([value], [value])
        for name in authmod.cookie_names(entry):
            if (
                not authmod.session_cookie(name)
                and not authmod.TRACKING_COOKIE.match(name)
                and (not authmod.is_csrf_name(name))
            ):
                ev.cookies[name] = ev.cookies.get(name, 0) + 1
        for key in authmod.auth_keys(entry):
            ev.auth[key] = ev.auth.get(key, 0) + 1
        for c, h in authmod.csrf_pairs(entry):
            ev.csrf[(c, h)] = ev.csrf.get((c, h), 0) + 1
        if body.kind != BodyKind.NONE:
            structured = body.kind in (BodyKind.JSON, BodyKind.FORM, BodyKind.MULTIPART)
            bs = ev.request_bodies.setdefault(body.kind, BodyStats())
            if body.kind == BodyKind.JSON and body.size >= BodyMemo.MIN_SIZE and req is not None:
                bs.add_repeat(body.media, req, body.size)
            else:
                bs.add(body.media, body.value, structured, body.files, body.size)
        label = self.options.ui_actions.get((entry.source, entry.index))
        if label:
            ev.ui_actions[label] = ev.ui_actions.get(label, 0) + 1
        if not entry.status:
            # No response was recorded (aborted, cut off): the request is evidence of the
            # route and its inputs, but status 0 is no answer and says nothing of behaviour.
            return
        rs = ev.responses.get(entry.status)
        if rs is None:
            rs = ev.responses[entry.status] = ResponseStats()
        rs.count += 1
        for hname in ("location", "etag", "retry-after"):
            if entry.header(hname, response=True) is not None:
                rs.headers[hname] = rs.headers.get(hname, 0) + 1
        if entry.status == 405 and _allow_excludes(entry):
            rs.headers["allow"] = rs.headers.get("allow", 0) + 1
        if resp.kind != BodyKind.NONE:
            rbs = rs.bodies.setdefault(resp.kind, BodyStats())
            if resp.kind == BodyKind.JSON and resp.size >= BodyMemo.MIN_SIZE:
                rbs.add_repeat(resp.media, decoded, resp.size)  # walked when folded
            else:
                rbs.add(resp.media, resp.value, resp.kind == BodyKind.JSON, [], resp.size)
        ev.signals.add(entry, body, resp, self.signals)

    def compact(self) -> None:
        """Fold rare values into parameters with the templates learnt so far.

        Word-like ids (slugs) are not placeholders while streaming, so every
        distinct one would keep its own provisional group; past ``compact_at``
        groups, the paths seen so far are templated and every value that lands
        on a parameter becomes a placeholder, here and for later entries, which
        keeps memory bounded on captures of any length.
        """
        self.learned = build_templates(
            (self._observation(k, n) for k, n in self.observations.items()),
            self.options.rules,
        )
        obs: dict[tuple[str, str, tuple[str, ...], str], int] = {}
        for (o, m, segs, sig), n in self.observations.items():
            trie = self.learned.get(o)
            key = (o, m, trie.fold(segs) if trie else segs, sig)
            obs[key] = obs.get(key, 0) + n
        groups: dict[tuple[str, str, tuple[str, ...], str], OpEvidence] = {}
        for (o, m, segs, disc), ev in self.groups.items():
            trie = self.learned.get(o)
            key2 = (o, m, trie.fold(segs) if trie else segs, disc)
            mine = groups.get(key2)
            if mine is None:
                groups[key2] = ev
            else:
                mine.merge(ev)
        self.observations, self.groups = obs, groups
        self.compact_at = max(self.compact_at, 2 * len(groups))

    # -- combining -----------------------------------------------------------
    def merge(self, other: Collector) -> None:
        """Fold another collector (e.g. another file or process) into this one."""
        for k, ev in other.groups.items():
            mine = self.groups.get(k)
            if mine is None:
                self.groups[k] = ev
            else:
                mine.merge(ev)
        for k2, n in other.observations.items():
            self.observations[k2] = self.observations.get(k2, 0) + n
        self.entries_read += other.entries_read
        self.entries_kept += other.entries_kept
        for r, n in other.dropped.items():
            self.dropped[r] = self.dropped.get(r, 0) + n
        for r, exs in other.dropped_examples.items():
            mine_ex = self.dropped_examples.setdefault(r, [])
            for e in exs:
                if e not in mine_ex and len(mine_ex) < MAX_EXAMPLES_PER_REASON:
                    mine_ex.append(e)
        self.skipped = (self.skipped + other.skipped)[:MAX_SKIPPED]
        self.skipped_count += other.skipped_count
        for d, o in (
            (self.hosts, other.hosts),
            (self.api_hosts, other.api_hosts),
            (self.page_hosts, other.page_hosts),
            (self.unanswered_hosts, other.unanswered_hosts),
        ):
            for h, n in o.items():
                d[h] = d.get(h, 0) + n
        for s in other.sources:
            if s not in self.sources:
                self.sources.append(s)
        self.signals.merge(other.signals)
        ids = self.id_values
        for v, src in other.id_values.items():
            mine_src = ids.get(v)
            if mine_src is None:
                if len(ids) < MAX_ID_VALUES:
                    ids[v] = list(src)
            else:
                ids[v] = sorted({*mine_src, *src}, key=_source_order)[:MAX_ID_SOURCES]

    def shift_indexes(self, source: str, offset: int) -> None:
        """Add ``offset`` to the entry indexes of ``source`` (a range read apart from its start)."""
        if not offset:
            return
        for ev in self.groups.values():
            ev.entries = [(s, i + offset if s == source else i) for s, i in ev.entries]
        self.skipped = [(s, i + offset if s == source else i, r) for s, i, r in self.skipped]

    # -- finishing -----------------------------------------------------------
    def finish(self) -> Analysis:
        """Decide scope, template paths and assemble the operations.

        The collector's evidence becomes the operations' evidence: call it once, last.

        Raises:
            ValueError: ``finish`` was called before on this collector.
        """
        if self.finished:
            raise ValueError("Collector.finish() was already called; feed a new Collector")
        self.finished = True
        self.memo = BodyMemo()  # repeated-body evidence is of no use from here on
        opts = self.options
        kept_hosts = dict(self.api_hosts)
        for h, n in self.unanswered_hosts.items():
            kept_hosts[h] = kept_hosts.get(h, 0) + n
        if opts.include_hosts:
            first = set(kept_hosts)
        else:
            first = first_party_hosts(kept_hosts, self.page_hosts)
            # A host carrying a large share of the API traffic is first-party too.
            if self.api_hosts:
                top = max(self.api_hosts.values())
                first |= {h for h, n in self.api_hosts.items() if n * 4 >= top and n >= 3}
        analysis = Analysis(
            entries_read=self.entries_read,
            dropped=dict(self.dropped),
            dropped_examples={k: list(v) for k, v in self.dropped_examples.items()},
            skipped=list(self.skipped),
            skipped_count=self.skipped_count,
            hosts=dict(sorted(self.hosts.items())),
            first_party=sorted(first),
            sources=list(self.sources),
            signals=self.signals,
        )
        third = {h: n for h, n in kept_hosts.items() if h not in first}
        for h, n in sorted(third.items()):
            analysis.dropped[Reason.THIRD_PARTY] = analysis.dropped.get(Reason.THIRD_PARTY, 0) + n
            ex = analysis.dropped_examples.setdefault(Reason.THIRD_PARTY, [])
            if len(ex) < MAX_EXAMPLES_PER_REASON:
                ex.append(h)
        analysis.entries_kept = self.entries_kept - sum(third.values())
        obs = [
            self._observation(k, n)
            for k, n in sorted(self.observations.items())
            if urlsplit(k[0]).netloc in first
        ]
        tries = _templates(obs, opts.rules)
        merged: dict[tuple[str, str, str, str], tuple[Template, OpEvidence]] = {}
        for (origin, method, norm, disc), ev in sorted(self.groups.items(), key=lambda kv: kv[0]):
            if urlsplit(origin).netloc not in first:
                continue
            trie = tries.get(origin)
            tmpl = trie.route(norm) if trie else None
            if tmpl is None:  # cannot happen for observed paths; keep the literal path
                tmpl = Template("/" + "/".join(norm), (), 1.0, ("literal path",))
            key = (origin, method, tmpl.path, disc)
            have = merged.get(key)
            if have is None:
                # The operation's first group gathers the others (merging into a fresh record
                # would copy every schema tree, 100k nodes on bitbucket, to the same result,
                # entry indexes aside, which a merge sorts).
                ev.entries = sorted(set(ev.entries))
                merged[key] = (tmpl, ev)
            else:
                have[1].merge(ev)
        self.groups = {}  # consumed: the operations hold the evidence now
        ops = []
        for (o, m, _, d), (t, ev) in merged.items():
            if _not_allowed(ev):
                analysis.entries_kept -= ev.count
                analysis.dropped[Reason.NOT_ALLOWED] = (
                    analysis.dropped.get(Reason.NOT_ALLOWED, 0) + ev.count
                )
                ex = analysis.dropped_examples.setdefault(Reason.NOT_ALLOWED, [])
                if len(ex) < MAX_EXAMPLES_PER_REASON:
                    ex.append(f"{m} {self.redactor.url(o + ev.example_path)}")
                continue
            ops.append(
                Operation(
                    origin=o,
                    method=m,
                    template=t,
                    evidence=ev,
                    discriminator=d,
                    protocol=ev.protocol,
                )
            )
        ops.sort(key=lambda op: op.key)
        analysis.operations = ops
        analysis.auth_schemes = _auth_schemes(ops)
        csrf: dict[tuple[str, str], int] = {}
        for op in ops:
            for pair, n in op.evidence.csrf.items():
                csrf[pair] = csrf.get(pair, 0) + n
        analysis.csrf = sorted(csrf)
        return analysis


def _unanswered(ob: PathObservation) -> bool:
    """An observation of requests that got no response (their signature's status is 0)."""
    return ob.signature.startswith("0:")


def _templates(obs: list[PathObservation], rules: Rules) -> dict[str, TemplateTrie]:
    """Template the paths; requests with no response only add the routes answers do not show.

    A request cut off before its answer says nothing of how its route behaves, and the
    templating compares siblings by behaviour: beside an answered ``/runs/a/summary``, a
    cut-off ``/runs/b/summary`` would look unlike it and split the route.  So the answered
    paths are templated first; a cut-off path they already route (``/runs/{run}/summary``)
    is left to that template, and only the others (a route no answer shows) join the tree.
    """
    silent = [ob for ob in obs if _unanswered(ob)]
    if not silent:
        return build_templates(obs, rules)
    answered = [ob for ob in obs if not _unanswered(ob)]
    first = build_templates(answered, rules)
    new = []
    for ob in silent:
        trie = first.get(ob.origin)
        if trie is None or trie.route(ob.segments) is None:
            new.append(ob)
    return build_templates(answered + new, rules) if new else first


def _allow_excludes(entry: HarEntry) -> bool:
    """A 405 whose ``Allow`` header lists the route's methods, and not this one."""
    allow = entry.header("allow", response=True)
    if allow is None:
        return False
    methods = {m.strip().upper() for m in allow.split(",")}
    return entry.method not in methods


def _not_allowed(ev: OpEvidence) -> bool:
    """True when the server refused the method on this route and never served it.

    ``405 Method Not Allowed`` with the ``Allow`` header RFC 9110 requires of it (listing
    the methods the route has, not this one), or ``501 Not Implemented``, says the route
    has no such operation, however often the UI sent it.  A 405 without ``Allow`` is some
    API's own error (the classic petstore answers an invalid body with it), and one answer
    below 400 for the same method and template (another value of a parameter) says the
    route serves the method: the operation stays.
    """
    if any(s < 400 for s in ev.responses):
        return False
    refused = ev.responses.get(405)
    return 501 in ev.responses or (refused is not None and refused.headers.get("allow", 0) > 0)


def _auth_schemes(ops: list[Operation]) -> list[AuthScheme]:
    counts: dict[str, int] = {}
    for op in ops:
        for k, n in op.evidence.auth.items():
            counts[k] = counts.get(k, 0) + n
    out = []
    for key in sorted(counts):
        if key in ("bearer", "basic"):
            out.append(AuthScheme(key, "http", scheme=key, count=counts[key]))
        else:
            loc, _, name = key.partition(":")
            out.append(AuthScheme(key, "apiKey", location=loc, name=name, count=counts[key]))
    return out


def analyze_entries(
    items: Iterable[HarEntry | SkippedEntry], options: AnalyzeOptions | None = None
) -> Analysis:
    """Analyse a stream of HAR entries (pure: no I/O beyond the iterator)."""
    return Collector(options or AnalyzeOptions()).feed_all(items).finish()
