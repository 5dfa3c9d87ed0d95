"""Verification and reconcile plans, bound and checked against the read cards they call.

A plan is emitted only when every required input of its read is bound: from the
write's arguments, from its response (a returned id/path/name, or the ``Location``
header) or from a value recorded identically in every request of the read. A write
whose plan cannot be bound gets none, and its card says why in ``reasons``.

Plan kinds follow what the write does to the resource it reads (see
:class:`toolgen.cards.Verification`): ``same`` (changed in place), ``moved`` (a
PATCH/PUT whose body carries the new location, e.g. a rename), ``created`` (a POST
that returns the new resource's id or path) and ``deleted``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from toolgen.cards import Binding, Reconcile, ToolCard, Verification
from zapi.analyzer.evidence import ParamStats
from zapi.analyzer.model import Operation
from zapi.redact import is_marker, is_secret_name

__all__ = ["attach_plans", "match_pattern", "path_pattern"]

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_IDENTITY_NAMES = frozenset(
    {"id", "uuid", "name", "path", "filename", "slug", "key", "email", "username", "title"}
)
_IDENTITY_SUFFIXES = ("_id", "_ref", "_key", "_name", "_uuid", "_path", "id", "ref")
_ABSENT = frozenset({404, 410})


def match_pattern(pattern: str, value: Any) -> dict[str, str] | None:
    """Values of ``pattern``'s ``{placeholders}`` in a path or URL, or ``None``.

    ``pattern`` is a tail of a path template (``work/{name}.txt`` or the whole
    ``/api/items/{id}``); ``value`` may be a relative path, an absolute path or a URL
    (its query is ignored). A placeholder matches one segment unless the pattern
    holds only that placeholder's segment greedy-style (``{x*}``).
    """
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value)
    if "://" in text:
        text = urlsplit(text).path
    text = unquote(text.split("?", 1)[0]).strip("/")
    regex, names = _pattern_regex(pattern.strip("/"))
    found = re.fullmatch(regex, text)
    if found is None:
        return None
    out = {n: found.group(f"p{i}") for i, n in enumerate(names)}
    return out if all(out.values()) else None


def path_pattern(card: ToolCard) -> str:
    """The card's path as a :func:`match_pattern` pattern: its placeholders renamed to the
    card's arguments, a greedy one (``x-greedy``: may contain '/') marked ``{arg*}``.

    ``/api/{path}`` with a greedy ``path`` gives ``/api/{path*}``, which matches
    ``/api/files/a/b.txt`` as ``{"path": "files/a/b.txt"}``.
    """
    args = {b.name: b.arg for b in card.bindings if b.location == "path"}
    props = _props(card.input_schema)

    def to_arg(m: re.Match[str]) -> str:
        arg = args.get(m.group(1), m.group(1))
        greedy = isinstance(props.get(arg), dict) and props[arg].get("x-greedy")
        return "{" + arg + ("*" if greedy else "") + "}"

    return _PLACEHOLDER.sub(to_arg, card.path)


def _pattern_regex(pattern: str) -> tuple[str, list[str]]:
    names: list[str] = []
    parts: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[pos : m.start()]))
        name = m.group(1)
        greedy = name.endswith("*")
        parts.append(f"(?P<p{len(names)}>{'.+' if greedy else '[^/]+'})")
        names.append(name.rstrip("*"))
        pos = m.end()
    parts.append(re.escape(pattern[pos:]))
    return "".join(parts), names


@dataclass(frozen=True)
class _Tool:
    """A card with the evidence of its operation and the views the plans need."""

    card: ToolCard
    op: Operation

    @property
    def template(self) -> str:
        return self.op.template.path

    def bindings(self, location: str) -> list[Binding]:
        return [b for b in self.card.bindings if b.location == location]

    def path_arg(self, param: str) -> str | None:
        for b in self.bindings("path"):
            if b.name == param:
                return b.arg
        return None

    @property
    def body(self) -> dict[str, str]:
        """Body argument -> top-level wire field."""
        return {b.arg: b.name for b in self.bindings("body") if not b.whole_body}

    @property
    def out_props(self) -> dict[str, Any]:
        return _props(self.card.output_schema)

    def example(self, arg: str) -> Any:
        ex = self.card.input_schema.get("properties", {}).get(arg, {}).get("examples")
        return ex[0] if isinstance(ex, list) and ex else None


def _props(schema: dict[str, Any]) -> dict[str, Any]:
    props = schema.get("properties")
    return props if isinstance(props, dict) else {}


def _example(schema: Any) -> Any:
    ex = schema.get("examples") if isinstance(schema, dict) else None
    return ex[0] if isinstance(ex, list) and ex else None


def _scalar(schema: Any) -> bool:
    t = schema.get("type") if isinstance(schema, dict) else None
    return t in ("string", "integer", ["string", "null"], ["integer", "null"])


def _is_identity(field: str, client_ids: Sequence[str] = ()) -> bool:
    low = field.lower()
    return field in client_ids or low in _IDENTITY_NAMES or low.endswith(_IDENTITY_SUFFIXES)


def _items_of(schema: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """Where the list of items is in a list response: ('', items) or ('/items', items)."""
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return "", schema["items"]
    best = None
    for k, v in sorted(_props(schema).items()):
        if (
            isinstance(v, dict)
            and v.get("type") in ("array", ["array", "null"])
            and isinstance(v.get("items"), dict)
            and _props(v["items"])
            and (best is None or k in ("items", "data", "results", "content"))
        ):
            best = (f"/{k}", v["items"])
    return best


def _segments(template: str) -> list[str]:
    return [s for s in template.split("/") if s]


def _tails(read: _Tool) -> list[str]:
    """Patterns for the read's path, longest first, with read argument names as placeholders."""
    segs = _segments(path_pattern(read.card))
    out = ["/" + "/".join(segs)]
    out += ["/".join(segs[k:]) for k in range(1, len(segs)) if "{" in "/".join(segs[k:])]
    return out


def _locate(read: _Tool, value: Any, wanted: set[str], field: str) -> str | None:
    """The longest tail pattern of the read's path that binds ``wanted`` args from ``value``.

    A bare ``{param}`` tail fits any one-segment value, so it counts only when ``field``
    (the response or body field the value came from) is named like the parameter
    (``path`` for ``{content_path}``).
    """
    names = {b.name for b in read.bindings("path") if b.arg in wanted} | wanted
    named = field in names or any(n.endswith("_" + field) for n in names)
    for pattern in _tails(read):
        if _PLACEHOLDER.fullmatch(pattern) and not named:
            continue
        got = match_pattern(pattern, value)
        if got is not None and wanted <= set(got):
            return pattern
    return None


def _constant(read: _Tool, b: Binding) -> str | None:
    """``json:VALUE`` when every recorded request of the read sent this one value."""
    ev = read.op.evidence
    stats: ParamStats | None = None
    if b.location == "query":
        stats = ev.query.get(b.name)
    elif b.location == "header":
        stats = ev.headers.get(b.name)
    if stats is None or stats.overflow or len(stats.values) != 1 or stats.present < ev.count:
        return None
    if is_secret_name(b.name) or is_secret_name(b.arg):
        return None
    raw = next(iter(stats.values))
    if is_marker(raw):
        return None
    sch = read.card.input_schema.get("properties", {}).get(b.arg, {})
    typ = sch.get("type")
    value: Any = raw
    if typ == "integer" and re.fullmatch(r"-?\d+", raw):
        value = int(raw)
    elif typ == "number":
        try:
            value = float(raw)
        except ValueError:
            return None
    elif typ == "boolean" and raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    elif typ == "array":
        value = [raw]
    return "json:" + json.dumps(value, sort_keys=True)


@dataclass
class _Bound:
    args: dict[str, str]
    patterns: dict[str, str]


def _bind(
    write: _Tool, read: _Tool, path_sources: dict[str, tuple[str, str]], purpose: str
) -> _Bound | str:
    """Bind every required input of ``read``; the reason when one cannot be bound.

    ``path_sources``: read argument -> (source, pattern) decided by the plan kind (path
    parameters, or an optional filter such as a client-id query); other path parameters
    come from the write's path parameter of the same name.
    """
    args: dict[str, str] = {}
    patterns: dict[str, str] = {}
    required = set(read.card.input_schema.get("required", []))
    for b in read.card.bindings:
        if b.arg in path_sources:
            source, pattern = path_sources[b.arg]
            args[b.arg] = source
            if pattern:
                patterns[b.arg] = pattern
            continue
        if b.location != "path" and b.arg not in required:
            # Optional by the card, but every recorded read sent it with one value: send
            # it too (an API may demand what the capture could not prove required).
            const = _constant(read, b) if b.location in ("query", "header") else None
            if const is not None:
                args[b.arg] = const
            continue
        same = next(
            (w for w in write.card.bindings if w.location == b.location and w.name == b.name),
            None,
        )
        if same is not None and not same.whole_body:
            args[b.arg] = f"arg:{same.arg}"
            continue
        const = _constant(read, b) if b.location in ("query", "header") else None
        if const is not None:
            args[b.arg] = const
            continue
        return (
            f"no {purpose}: {read.card.name} needs {b.arg!r} ({b.location} {b.name!r}) and "
            "neither this write's arguments, its response nor a value recorded in every "
            "request of the read provides it"
        )
    return _Bound(args, patterns)


class _Index:
    """The REST reads of an analysis by origin and path template."""

    def __init__(self, tools: Sequence[_Tool]) -> None:
        self.reads: dict[tuple[str, str], _Tool] = {}
        for t in tools:
            if t.card.method.upper() == "GET" and t.card.protocol == "rest":
                self.reads.setdefault((t.card.origin, t.template), t)

    def get(self, origin: str, template: str) -> _Tool | None:
        return self.reads.get((origin, template))

    def ancestors(self, origin: str, template: str) -> list[_Tool]:
        """The read of ``template``, then of the resources it belongs to (up to the nearest
        parameter): ``/items/{id}/stock`` -> ``/items/{id}/stock``, ``/items/{id}``."""
        segs = _segments(template)
        out = []
        for cut in range(len(segs), 0, -1):
            hit = self.get(origin, "/" + "/".join(segs[:cut]))
            if hit is not None:
                out.append(hit)
            if "{" in segs[cut - 1]:
                break
        return out

    def children(self, origin: str, template: str) -> list[_Tool]:
        """Reads one segment below ``template`` whose last segment holds a parameter."""
        base = _segments(template)
        out = []
        for (o, path), t in sorted(self.reads.items()):
            segs = _segments(path)
            if o == origin and len(segs) == len(base) + 1 and segs[:-1] == base and "{" in segs[-1]:
                out.append(t)
        return out

    def spanning(self, origin: str) -> list[_Tool]:
        """Reads whose path holds a greedy parameter (one that may span segments)."""
        return [
            t
            for (o, _), t in sorted(self.reads.items())
            if o == origin and "*}" in path_pattern(t.card)
        ]


def _compare(write: _Tool, read_props: dict[str, Any]) -> dict[str, str]:
    return {
        a: f"/{w.replace('~', '~0').replace('/', '~1')}"
        for a, w in sorted(write.body.items())
        if w in read_props
    }


def _new_params(write: _Tool, read: _Tool) -> set[str]:
    """Read path arguments the write's own path does not provide."""
    own = {b.name for b in write.bindings("path")}
    return {b.arg for b in read.bindings("path") if b.name not in own}


def _same_params(write: _Tool, read: _Tool) -> dict[str, tuple[str, str]]:
    """Read path params at the same position as the write's (names may differ)."""
    out = {}
    wsegs, rsegs = _segments(write.template), _segments(read.template)
    for ws, rs in zip(wsegs, rsegs, strict=False):
        wp, rp = _PLACEHOLDER.findall(ws), _PLACEHOLDER.findall(rs)
        if len(wp) == len(rp) and _PLACEHOLDER.sub("", ws) == _PLACEHOLDER.sub("", rs):
            for w, r in zip(wp, rp, strict=True):
                warg, rarg = write.path_arg(w), read.path_arg(r)
                if warg and rarg:
                    out[rarg] = (f"arg:{warg}", "")
    return out


def _response_source(write: _Tool, read: _Tool, wanted: set[str]) -> dict[str, tuple[str, str]]:
    """Bind ``wanted`` read path args from the write's response (a field, or Location)."""
    props = write.out_props
    out: dict[str, tuple[str, str]] = {}
    # a returned path/URL-shaped identity that fits the read's template binds them all
    for field in sorted(f for f in props if _is_identity(f)):
        ex = _example(props[field])
        if not _scalar(props[field]) or not isinstance(ex, str):
            continue
        pattern = _locate(read, ex, wanted, field)
        if pattern is not None:
            ptr = "response:/" + field.replace("~", "~0").replace("/", "~1")
            return {a: (ptr, pattern) for a in wanted}
    # a returned id bound by name: {order_id} <- /order_id, or /id
    for arg in sorted(wanted):
        b = next(x for x in read.bindings("path") if x.arg == arg)
        for field in (b.name, arg, "id"):
            if field == "id" and not b.name.lower().endswith("id"):
                continue
            if field in props and _scalar(props[field]):
                out[arg] = (f"response:/{field}", "")
                break
    if set(out) == wanted:
        return out
    location = any(
        "location" in {h.lower() for h in rs.headers}
        for status, rs in write.op.evidence.responses.items()
        if 200 <= status < 300
    )
    if location:
        full = _tails(read)[0]
        return {a: ("header:Location", full) for a in wanted}
    return out


def _moved_field(write: _Tool, read: _Tool) -> tuple[str, str] | None:
    """(body arg, pattern) when the write's body carries a new location of the resource."""
    wanted = {b.arg for b in read.bindings("path")}
    if not wanted:
        return None
    for arg, wire in sorted(write.body.items()):
        ex = write.example(arg)
        if isinstance(ex, str) and _is_identity(wire):
            pattern = _locate(read, ex, wanted, wire)
            if pattern is not None:
                return arg, pattern
    return None


def _soft_delete(write: _Tool, read: _Tool) -> bool:
    """The DELETE answered with the resource itself (shared fields with its read).

    Such an API marks the resource (``status: cancelled``) instead of removing it, so
    it stays readable: absence would be the wrong thing to verify.
    """
    shared = set(write.out_props) & set(read.out_props)
    return len(shared) >= 2


SOFT_DELETE = (
    "no {what}: the DELETE answers with the resource itself (it stays readable, "
    "marked rather than removed), so absence cannot be checked"
)


def _verification(write: _Tool, index: _Index) -> tuple[Verification | None, list[str]]:
    card = write.card
    method = card.method.upper()
    if card.protocol != "rest" or not card.is_write:
        return None, []
    if method == "DELETE":
        read = index.get(card.origin, write.template)
        if read is None:
            return None, ["no verification: no read of the deleted resource was recorded"]
        if _soft_delete(write, read):
            return None, [SOFT_DELETE.format(what="verification")]
        bound = _bind(write, read, _same_params(write, read), "deleted verification")
        if isinstance(bound, str):
            return None, [bound]
        return Verification(
            kind="deleted", tool=read.card.name, args=bound.args, patterns=bound.patterns
        ), []
    if method not in ("PUT", "PATCH", "POST"):
        return None, []
    same = index.get(card.origin, write.template)
    reasons: list[str] = []
    if same is not None and method in ("PUT", "PATCH"):
        moved = _moved_field(write, same)
        if moved is not None:
            return _moved(write, same, *moved)
    if method == "POST":
        plan, why = _created(write, index)
        if plan is not None:
            return plan, []
        reasons += why
        if same is not None:  # a POST to a listed collection creates: its listing proves nothing
            return None, reasons or [
                "no verification: no read of the created resource (by the id or path the "
                "response returns) was recorded"
            ]
    for read in index.ancestors(card.origin, write.template):
        compare = _compare(write, read.out_props)
        if not compare:
            reasons.append(f"no verification: {read.card.name} shows none of the written fields")
            continue
        bound = _bind(write, read, _same_params(write, read), "verification")
        if isinstance(bound, str):
            reasons.append(bound)
            continue
        return Verification(
            kind="same",
            tool=read.card.name,
            args=bound.args,
            patterns=bound.patterns,
            compare=compare,
        ), []
    return None, reasons or [
        f"no verification: no GET {write.template} (or of a resource it belongs to) was recorded"
    ]


def _moved(
    write: _Tool, read: _Tool, body_arg: str, pattern: str
) -> tuple[Verification | None, list[str]]:
    wanted = {b.arg for b in read.bindings("path")}
    wire = write.body[body_arg]
    source = f"response:/{wire}" if wire in write.out_props else f"arg:{body_arg}"
    bound = _bind(write, read, {a: (source, pattern) for a in wanted}, "move verification")
    if isinstance(bound, str):
        return None, [bound]
    old = _bind(write, read, _same_params(write, read), "move verification")
    gone: dict[str, str] = {}
    if not isinstance(old, str) and not old.patterns and _moves_away(write, body_arg, pattern):
        gone = old.args
    return Verification(
        kind="moved",
        tool=read.card.name,
        args=bound.args,
        patterns=bound.patterns,
        compare=_compare(write, read.out_props),
        gone_args=gone,
    ), []


def _moves_away(write: _Tool, body_arg: str, pattern: str) -> bool:
    """The evidence that the old location empties: the location the write's body named
    is not one its own requests were sent to (a rename, not a save in place)."""
    new = match_pattern(pattern, write.example(body_arg)) or {}
    full = _tails(write)[0]
    ev = write.op.evidence
    sent: dict[str, set[str]] = {}
    for path in [ev.example_path] if ev.example_path else []:
        for name, value in (match_pattern(full, path) or {}).items():
            sent.setdefault(name, set()).add(value)
    for i, seg in enumerate(_segments(write.template)):
        params = _PLACEHOLDER.findall(seg)
        arg = write.path_arg(params[0]) if len(params) == 1 else None
        if arg is None:
            continue
        seg_pattern = _PLACEHOLDER.sub("{" + arg + "}", seg)
        for v in ev.path_values.get(str(i), []):
            got = match_pattern(seg_pattern, v)
            if got is not None:
                sent.setdefault(arg, set()).add(got[arg])
    return any(arg in sent and value not in sent[arg] for arg, value in new.items())


def _greedy_args(read: _Tool) -> set[str]:
    return {m.group(1)[:-1] for m in _PLACEHOLDER.finditer(path_pattern(read.card)) if "*" in m[0]}


def _fill(pattern: str, values: dict[str, str]) -> str | None:
    """``pattern`` with its placeholders replaced by ``values`` (``None`` if one is missing)."""
    names = [m.group(1).rstrip("*") for m in _PLACEHOLDER.finditer(pattern)]
    if not set(names) <= set(values):
        return None
    return _PLACEHOLDER.sub(lambda m: values[m.group(1).rstrip("*")].strip("/"), pattern)


def _routes_below(write: _Tool, read: _Tool, sources: dict[str, tuple[str, str]]) -> bool:
    """Whether the read, given what the recorded responses returned, reads a resource
    below the path the write was sent to (``POST /api/files`` -> ``/api/files/new.txt``).

    A greedy read (``/api/{path*}``) fits any path, so a response value binding it is
    evidence only when it routes the returned location under the collection posted to.
    A ``Location`` header names the created URL itself: the read must route a path
    below the write's.
    """
    base = write.op.evidence.example_path.rstrip("/")
    if not base:
        return False
    if any(source.startswith("header:") for source, _ in sources.values()):
        return match_pattern(path_pattern(read.card), f"{base}/new") is not None
    sent = match_pattern(path_pattern(write.card), base) or {}
    values = {
        arg: sent[src.removeprefix("arg:")]
        for arg, (src, _) in _same_params(write, read).items()
        if src.removeprefix("arg:") in sent
    }
    for arg, (source, pattern) in sources.items():
        field = source.removeprefix("response:/").replace("~1", "/").replace("~0", "~")
        ex = _example(write.out_props.get(field))
        if not isinstance(ex, str | int) or isinstance(ex, bool):
            return False
        got = match_pattern(pattern, ex) if pattern else {arg: str(ex)}
        if got is None or arg not in got:
            return False
        values[arg] = got[arg]
    routed = _fill(path_pattern(read.card), values)
    return routed is not None and ("/" + routed.strip("/")).startswith(base + "/")


def _created(write: _Tool, index: _Index) -> tuple[Verification | None, list[str]]:
    """A POST verifies the resource its response names: the item read, else the list.

    The item read is one a segment below the write's path (``/items`` -> ``/items/{id}``)
    or a greedy one that routes the returned path below it (``POST /api/files`` answering
    ``path: files/new.txt`` -> ``GET /api/{path*}``, JupyterLab's contents API).
    """
    reasons = []
    children = index.children(write.card.origin, write.template)
    spanning = [r for r in index.spanning(write.card.origin) if r not in children]
    for read in [*children, *spanning]:
        wanted = _new_params(write, read)
        if read in spanning:
            wanted |= _greedy_args(read)
        sources = _response_source(write, read, wanted)
        if read in spanning and (set(sources) != wanted or not _routes_below(write, read, sources)):
            continue  # a greedy read that does not route what this write returns: unrelated
        if set(sources) != wanted:
            reasons.append(
                f"no verification: {read.card.name} needs {sorted(wanted - set(sources))} and "
                "the response of this write returns no id or path that fits it"
            )
            continue
        bound = _bind(write, read, {**_same_params(write, read), **sources}, "verification")
        if isinstance(bound, str):
            reasons.append(bound)
            continue
        return Verification(
            kind="created",
            tool=read.card.name,
            args=bound.args,
            patterns=bound.patterns,
            compare=_compare(write, read.out_props),
        ), []
    listing = index.get(write.card.origin, write.template)
    found = _items_of(listing.card.output_schema) if listing is not None else None
    if listing is not None and found is not None:
        pointer, item = found
        item_props = _props(item)
        expect = {
            f"/{f}": f"response:/{f}"
            for f in sorted(write.out_props)
            if f in item_props and _is_identity(f) and f.lower() in ("id", "path", "uuid")
        }
        if expect:
            bound = _bind(write, listing, _same_params(write, listing), "verification")
            if isinstance(bound, str):
                return None, [*reasons, bound]
            return Verification(
                kind="created",
                tool=listing.card.name,
                args=bound.args,
                patterns=bound.patterns,
                compare=_compare(write, item_props),
                expect=expect,
                items_pointer=pointer,
            ), []
    return None, reasons


def _reconcile(write: _Tool, index: _Index) -> tuple[Reconcile | None, list[str]]:
    card = write.card
    method = card.method.upper()
    if card.protocol != "rest" or not card.is_write:
        return None, []
    same = index.get(card.origin, write.template)
    if method == "DELETE":
        if same is None:
            return None, []
        if _soft_delete(write, same):
            return None, [SOFT_DELETE.format(what="reconcile")]
        bound = _bind(write, same, _same_params(write, same), "deleted reconcile")
        if isinstance(bound, str):
            return None, [bound]
        return Reconcile(kind="deleted", tool=same.card.name, args=bound.args), []
    if method in ("PUT", "PATCH") and same is not None:
        moved = _moved_field(write, same)
        if moved is not None:
            body_arg, pattern = moved
            wanted = {b.arg for b in same.bindings("path")}
            bound = _bind(
                write, same, {a: (f"arg:{body_arg}", pattern) for a in wanted}, "move reconcile"
            )
            old = _bind(write, same, _same_params(write, same), "move reconcile")
            if isinstance(bound, str) or isinstance(old, str):
                return None, [bound if isinstance(bound, str) else str(old)]
            return Reconcile(
                kind="moved",
                tool=same.card.name,
                args=bound.args,
                patterns=bound.patterns,
                match={a: w for a, w in sorted(write.body.items()) if w in same.out_props},
                gone_args=old.args,
            ), []
    if method in ("PUT", "PATCH"):
        for read in index.ancestors(card.origin, write.template):
            match = {a: w for a, w in sorted(write.body.items()) if w in read.out_props}
            bound = _bind(write, read, _same_params(write, read), "reconcile")
            if not match or isinstance(bound, str):
                continue
            return Reconcile(
                kind="same",
                tool=read.card.name,
                args=bound.args,
                patterns=bound.patterns,
                match=match,
            ), []
        return None, []
    if method != "POST" or same is None:
        return None, []
    found = _items_of(same.card.output_schema)
    if found is None:
        return None, []
    pointer, item_schema = found
    props = _props(item_schema)
    ids = card.idempotency.client_ids
    match = {
        a: w
        for a, w in sorted(write.body.items())
        if w in props and _scalar(props[w]) and _is_identity(w, ids)
    }
    if not match:
        return _snapshot(write, same, pointer, props)
    extra: dict[str, tuple[str, str]] = {}
    for b in same.bindings("query"):
        for a, w in match.items():
            if w == b.name:
                extra[b.arg] = (f"arg:{a}", "")
    bound = _bind(write, same, {**_same_params(write, same), **extra}, "reconcile")
    if isinstance(bound, str):
        return None, [bound]
    return Reconcile(
        kind="created",
        tool=same.card.name,
        args=bound.args,
        match=match,
        items_pointer=pointer,
    ), []


_SNAPSHOT_ORDER = ("id", "uuid", "path", "name")
_PAGING = frozenset(
    {"page", "per_page", "page_size", "pagesize", "limit", "offset", "cursor", "next",
     "next_page", "next_cursor", "has_more", "total_pages", "start", "after", "before"}
)  # fmt: skip


def _snapshot(
    write: _Tool, listing: _Tool, pointer: str, props: dict[str, Any]
) -> tuple[Reconcile | None, list[str]]:
    """A create whose server picks the identity: settle by the listing's new item.

    The identity field is one the listed items and the write's response both carry (an id,
    path or name), so the item the list gained is the resource this write created. Body
    fields the items also show (``type``) are ``match``: a new item that shows another
    value is not taken for this write's (it stays unknown, never "not landed").
    """
    shared = [
        f for f in sorted(props) if f in write.out_props and _scalar(props[f]) and _is_identity(f)
    ]
    if not shared:
        return None, [
            "no reconcile: the request carries no identity field (client id, name, path) "
            f"that {listing.card.name}'s items show, and its items share no id, path or name "
            "with the write's response"
        ]
    paged = sorted(
        {b.name for b in listing.card.bindings if b.name.lower() in _PAGING}
        | {f for f in listing.out_props if f.lower() in _PAGING}
    )
    if paged:
        return None, [
            "no reconcile: the request carries no identity field (client id, name, path) "
            f"that {listing.card.name}'s items show, and it pages its list ({', '.join(paged)}), "
            "so a new item it does not show may still exist"
        ]
    shared.sort(key=lambda f: (_SNAPSHOT_ORDER.index(f.lower()) if f.lower() in _SNAPSHOT_ORDER
                               else len(_SNAPSHOT_ORDER), f))  # fmt: skip
    bound = _bind(write, listing, _same_params(write, listing), "reconcile")
    if isinstance(bound, str):
        return None, [bound]
    return Reconcile(
        kind="created",
        tool=listing.card.name,
        args=bound.args,
        patterns=bound.patterns,
        items_pointer=pointer,
        match={a: w for a, w in sorted(write.body.items()) if w in props and _scalar(props[w])},
        snapshot=shared[0],
    ), []


def attach_plans(cards: Sequence[ToolCard], ops: Sequence[Operation]) -> list[ToolCard]:
    """Give each write card the verification and reconcile plans its reads can carry out.

    ``ops`` are the operations the cards were built from, in the same order (their
    evidence tells which values every recorded read sent).
    """
    tools = [_Tool(c, o) for c, o in zip(cards, ops, strict=True)]
    index = _Index(tools)
    out = []
    for t in tools:
        if not t.card.is_write:
            out.append(t.card)
            continue
        verification, why_v = _verification(t, index)
        reconcile, why_r = _reconcile(t, index)
        reasons = [*t.card.reasons, *why_v, *why_r]
        out.append(
            t.card.model_copy(
                update={"verification": verification, "reconcile": reconcile, "reasons": reasons}
            )
        )
    return out
