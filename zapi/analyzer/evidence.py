"""Per-operation evidence: bounded, mergeable running statistics gathered while streaming.

Nothing here keeps every sample: counts, value tallies capped at a few dozen
distinct values, :class:`SchemaStats` trees and a handful of entry indexes.
Every accumulator has ``merge`` so work split across files or processes
combines to the same result in any order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zapi._memo import TextMemo
from zapi.analyzer.bodies import Body, BodyKind, decode_body
from zapi.analyzer.schema_infer import SchemaStats
from zapi.analyzer.signals import OpSignals

__all__ = ["BodyMemo", "BodyStats", "Decoded", "OpEvidence", "ParamStats", "ResponseStats"]

_MAX_VALUES = 32
_MAX_ENTRIES = 12


def _add(into: dict[str, int], key: str, n: int = 1) -> None:
    into[key] = into.get(key, 0) + n


def _merge_counts(into: dict[str, int], other: dict[str, int]) -> None:
    for k, n in other.items():
        into[k] = into.get(k, 0) + n


@dataclass
class ParamStats:
    """Evidence for one query parameter, header or cookie."""

    present: int = 0
    repeated: int = 0  # requests in which the key occurred more than once
    values: dict[str, int] = field(default_factory=dict)
    overflow: bool = False
    schema: SchemaStats = field(default_factory=SchemaStats)

    def add(self, raw: list[str], typed: list[Any]) -> None:
        """Record one request's value(s) for this parameter."""
        self.present += 1
        if len(raw) > 1:
            self.repeated += 1
        for v, t in zip(raw, typed, strict=True):
            self.schema.add(t)
            if not self.overflow:
                key = v[:80]
                if key in self.values or len(self.values) < _MAX_VALUES:
                    _add(self.values, key)
                else:  # as in ``merge``: too many distinct values to be evidence
                    self.overflow = True
                    self.values = {}

    def merge(self, other: ParamStats) -> None:
        """Fold another accumulator in."""
        self.present += other.present
        self.repeated += other.repeated
        self.schema.merge(other.schema)
        if self.overflow or other.overflow:
            self.overflow = True
        else:
            _merge_counts(self.values, other.values)
            if len(self.values) > _MAX_VALUES:
                self.overflow = True
        if self.overflow:
            self.values = {}


@dataclass
class BodyStats:
    """Evidence for request or response bodies of one media kind.

    Schema evidence comes two ways: bodies walked value by value into the node
    this accumulator owns, and the evidence of bodies seen before
    (:class:`BodyMemo`), which is shared, not copied: it is held by reference
    with the number of times it was seen, and folded into the owned node only
    when :attr:`schema` is read (after streaming) or when more than
    ``MAX_SHARED`` distinct pieces are held.  Folding is exact (counts add), so
    the schema is what adding every body value by value gives.
    """

    MAX_SHARED = 8

    count: int = 0
    media: dict[str, int] = field(default_factory=dict)
    own: SchemaStats | None = None
    # [SchemaStats or Decoded, times]: evidence held by reference, never mutated
    shared: list[list[Any]] = field(default_factory=list)
    borrowed: bool = False  # ``own`` is a shared piece, read in place until written to
    files: set[str] = field(default_factory=set)
    max_size: int = 0

    @property
    def schema(self) -> SchemaStats | None:
        """The schema evidence of every body recorded (folds the shared pieces in)."""
        if self.shared:
            self._fold(0)
        return self.own

    def _fold(self, keep: int) -> None:
        """Fold shared pieces into the owned node until ``keep`` are left."""
        if not keep and self.own is None and len(self.shared) == 1 and self.shared[0][1] == 1:
            # The only evidence is one body's, once: read it where it is (copied on write).
            self.own, self.borrowed = _piece(self.shared.pop()[0]), True
            return
        while len(self.shared) > keep:
            held, times = self.shared.pop()
            stats = _piece(held)
            if self.own is None:
                self.own = stats.copy(times)
            else:
                self._owned().merge(stats, times)

    def _owned(self) -> SchemaStats:
        """The owned node, ready to be written to."""
        if self.own is None:
            self.own = SchemaStats()
        elif self.borrowed:
            self.own, self.borrowed = self.own.copy(), False
        return self.own

    def unread_bytes(self) -> int:
        """Bytes of bodies whose evidence is still to be walked (what folding will cost)."""
        return sum(
            h.body.size for h, _ in self.shared if isinstance(h, Decoded) and h.piece is None
        )

    def _share(self, stats: SchemaStats | Decoded, times: int) -> None:
        for held in self.shared:
            if held[0] is stats:
                held[1] += times
                return
        self.shared.append([stats, times])
        if len(self.shared) > self.MAX_SHARED:
            self._fold(self.MAX_SHARED // 2)

    def add(self, media: str, value: Any, structured: bool, files: list[str], size: int) -> None:
        """Record one body."""
        self.count += 1
        _add(self.media, media)
        if structured:
            self._owned().add(value)
        self.files.update(files)
        self.max_size = max(self.max_size, size)

    def add_repeat(self, media: str, stats: SchemaStats | Decoded, size: int) -> None:
        """Record one structured body whose schema evidence is ``stats`` (or will be).

        ``stats`` is held by reference: it must not change afterwards.  A
        :class:`Decoded` body is walked for its evidence only when this accumulator
        is folded (after streaming, where the work is shared out: ``build_cards``).
        """
        self.count += 1
        _add(self.media, media)
        self._share(stats, 1)
        self.max_size = max(self.max_size, size)

    def merge(self, other: BodyStats) -> None:
        """Fold another accumulator in (its shared pieces are shared by this one too)."""
        self.count += other.count
        _merge_counts(self.media, other.media)
        if other.own is not None:
            if self.own is None:
                self.own, self.borrowed = other.own.copy(), False
            else:
                self._owned().merge(other.own)
        for stats, times in other.shared:
            self._share(stats, times)
        self.files |= other.files
        self.max_size = max(self.max_size, other.max_size)


@dataclass(slots=True, eq=False)
class Decoded:
    """A body decoded once, with what the passes drew from it (each filled in when asked).

    Shared by every entry that carried the same bytes: nothing may change ``body.value``.
    """

    body: Body
    sig: str | None = None  # the observation signature of its shape
    named: list[str] | None = None  # its id/name/key values
    scalars: set[str] | None = None  # its short scalar values (echo evidence)
    piece: SchemaStats | None = None  # its schema evidence, on its own

    def evidence(self) -> SchemaStats:
        """The body's own schema evidence (held by reference by every group it lands in)."""
        if self.piece is None:
            piece = SchemaStats()
            piece.add(self.body.value)
            self.piece = piece
        return self.piece

    def release(self) -> None:
        """Keep the evidence, let the decoded value go (no entry will read it again)."""
        if self.body.kind == BodyKind.JSON:
            self.evidence()
        self.body = Body(self.body.kind, None, self.body.media, self.body.files, self.body.size)

    def __getstate__(self) -> tuple[Any, ...]:
        # A worker's groups travel with the evidence, not with the decoded values.
        self.release()
        return (self.body, self.sig, self.named, self.scalars, self.piece)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.body, self.sig, self.named, self.scalars, self.piece = state


def _piece(held: SchemaStats | Decoded) -> SchemaStats:
    return held.evidence() if isinstance(held, Decoded) else held


def _release_all(decoded: dict[str, Decoded]) -> None:
    for d in decoded.values():
        d.release()


class BodyMemo:
    """Large bodies decoded once: a repeat costs a lookup, not a parse and a walk.

    Recordings repeat the same large responses (a page polled, a list fetched after
    each edit: 1,244 JSON bodies, 112 distinct texts, in one public capture).  A body
    of ``MIN_SIZE`` bytes or more is parsed once per media type, and what the passes
    draw from it (signature, named values, scalars, schema evidence: evidence merges
    exactly, so folding in a body's own :class:`SchemaStats` ``n`` times gives what
    adding the value ``n`` times gives) is kept with it.  At most ``BUDGET`` bytes of
    bodies are remembered (parsed, a body takes several times its size), the least
    recently seen forgotten first.  Not pickled: a worker's memo is of no use to the
    process that merges its results.
    """

    MIN_SIZE = 2048  # smaller bodies are cheap to parse and walk again
    BUDGET = 4 * 2**20

    def __init__(self) -> None:
        self._by_raw: TextMemo[bytes, dict[str, Decoded]] = TextMemo(
            self.MIN_SIZE, self.BUDGET, on_evict=_release_all
        )

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self._by_raw._items)

    def decode(self, raw: bytes | None, mime: str, params: list[Any] | None = None) -> Decoded:
        """``decode_body(raw, mime, params)``, remembered for large bodies without ``params``."""
        if raw is None or params or not self._by_raw.wanted(raw):
            return Decoded(decode_body(raw, mime, params))
        by_mime = self._by_raw.get(raw)
        if by_mime is None:
            by_mime = self._by_raw.put(raw, {})
        hit = by_mime.get(mime)
        if hit is None:
            hit = by_mime[mime] = Decoded(decode_body(raw, mime))
        return hit


@dataclass
class ResponseStats:
    """Evidence for the responses of one status code."""

    count: int = 0
    bodies: dict[str, BodyStats] = field(default_factory=dict)  # by body kind
    headers: dict[str, int] = field(default_factory=dict)

    def merge(self, other: ResponseStats) -> None:
        """Fold another accumulator in."""
        self.count += other.count
        _merge_counts(self.headers, other.headers)
        for k, b in other.bodies.items():
            self.bodies.setdefault(k, BodyStats()).merge(b)


@dataclass
class OpEvidence:
    """Everything learnt about one operation (or one provisional group of requests)."""

    origin: str
    method: str
    discriminator: str = ""  # GraphQL operation or JSON-RPC method
    protocol: str = "rest"  # rest | graphql | jsonrpc
    count: int = 0
    query: dict[str, ParamStats] = field(default_factory=dict)
    headers: dict[str, ParamStats] = field(default_factory=dict)
    cookies: dict[str, int] = field(default_factory=dict)
    request_bodies: dict[str, BodyStats] = field(default_factory=dict)  # by body kind
    responses: dict[int, ResponseStats] = field(default_factory=dict)
    auth: dict[str, int] = field(default_factory=dict)  # auth scheme keys -> count
    csrf: dict[tuple[str, str], int] = field(default_factory=dict)  # (cookie, header) -> count
    idempotency_header: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    entries: list[tuple[str, int]] = field(default_factory=list)
    example_path: str = ""
    graphql_kind: str = ""
    ui_actions: dict[str, int] = field(default_factory=dict)
    path_values: dict[str, list[str]] = field(default_factory=dict)
    trailing_slash: int = 0  # requests whose path ended in '/'
    signals: OpSignals = field(default_factory=OpSignals)

    def note_entry(self, source: str, index: int) -> None:
        """Record provenance, keeping the first few entry indexes."""
        _add(self.sources, source)
        if len(self.entries) < _MAX_ENTRIES:
            self.entries.append((source, index))

    def merge(self, other: OpEvidence) -> None:
        """Fold another group's evidence in (same operation)."""
        self.count += other.count
        self.trailing_slash += other.trailing_slash
        for name, ps in other.query.items():
            self.query.setdefault(name, ParamStats()).merge(ps)
        for name, ps in other.headers.items():
            self.headers.setdefault(name, ParamStats()).merge(ps)
        _merge_counts(self.cookies, other.cookies)
        for k, b in other.request_bodies.items():
            self.request_bodies.setdefault(k, BodyStats()).merge(b)
        for status, rs in other.responses.items():
            self.responses.setdefault(status, ResponseStats()).merge(rs)
        _merge_counts(self.auth, other.auth)
        for pair, n in other.csrf.items():
            self.csrf[pair] = self.csrf.get(pair, 0) + n
        _merge_counts(self.idempotency_header, other.idempotency_header)
        _merge_counts(self.sources, other.sources)
        _merge_counts(self.ui_actions, other.ui_actions)
        self.entries = sorted({*self.entries, *other.entries})[:_MAX_ENTRIES]
        if other.example_path and (not self.example_path or other.example_path < self.example_path):
            self.example_path = other.example_path
        self.graphql_kind = self.graphql_kind or other.graphql_kind
        self.signals.merge(other.signals)
        for k, vals in other.path_values.items():
            mine = self.path_values.setdefault(k, [])
            for v in vals:
                if v not in mine and len(mine) < 8:
                    mine.append(v)
