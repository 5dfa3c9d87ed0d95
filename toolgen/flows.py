"""Flows on tool cards: match entries to cards, trace the graph, add ``inputs_from`` hints."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from toolgen.cards import ToolCard
from zapi._beside import Standby, beside
from zapi.analyzer.flows import (
    BodyLinks,
    Endpoint,
    FlowGraph,
    FlowTracer,
    linkable,
    trace_flows,
)
from zapi.har import HarEntry, SkippedEntry, expand_paths, iter_har_files
from zapi.redact import is_marker

__all__ = [
    "CardMatcher",
    "attach_flows",
    "attach_flows_beside",
    "flows_early",
    "flows_for",
    "flows_markdown",
    "inputs_from",
    "mermaid",
    "send_cards",
]

HINT_MIN_CONFIDENCE = 0.5
MERMAID_MAX_EDGES = 40


def _template_regex(template: str) -> re.Pattern[str]:
    out = []
    for seg in template.split("/"):
        if seg.startswith("{") and seg.endswith("+}"):
            out.append(r".+")
        elif seg.startswith("{"):
            out.append(r"[^/]+")
        else:
            out.append(re.escape(seg))
    return re.compile("^" + "/".join(out) + "/?$")


@dataclass(frozen=True)
class _Compiled:
    card: ToolCard
    pattern: re.Pattern[str]
    literal: int  # literal segments: more specific templates win
    endpoint: Endpoint


class CardMatcher:
    """Which card an entry is a call of (method, origin, path template, discriminator)."""

    def __init__(self, cards: Iterable[ToolCard], *, match_origin: bool = True) -> None:
        """Compile every card's path template.

        Args:
            cards: the tool cards.
            match_origin: also require the card's origin (off to check traffic recorded
                against another host or port).
        """
        self._match_origin = match_origin
        compiled = []
        for c in cards:
            names = tuple((f"{b.location}:{b.name}", b.arg) for b in c.bindings if b.name != b.arg)
            compiled.append(
                _Compiled(
                    c,
                    _template_regex(c.path),
                    sum(1 for s in c.path.split("/") if s and not s.startswith("{")),
                    Endpoint(node=c.name, template=c.path, names=names),
                )
            )
        compiled.sort(key=lambda x: (-x.literal, x.card.name))
        self._by_method: dict[str, list[_Compiled]] = {}
        for x in compiled:
            self._by_method.setdefault(x.card.method.upper(), []).append(x)

    def card_for(self, e: HarEntry) -> ToolCard | None:
        """The card ``e`` is a call of, or ``None``."""
        hit = self._find(e)
        return hit.card if hit else None

    def _find(self, e: HarEntry) -> _Compiled | None:
        path = e.path
        origin = e.origin
        for x in self._by_method.get(e.method.upper(), []):
            if self._match_origin and x.card.origin.lower() != origin:
                continue
            if not x.pattern.match(path):
                continue
            if x.card.discriminator and x.card.discriminator not in _discriminators(e):
                continue
            return x
        return None

    def __call__(self, e: HarEntry) -> Endpoint | None:
        """The entry's node: its card, else a page (HTML, redirect or form post), else nothing."""
        hit = self._find(e)
        if hit is not None:
            return hit.endpoint
        mime = e.response_mime.lower()
        form = "form" in e.request_mime.lower()
        if "html" in mime or 300 <= e.status < 400 or form:
            return Endpoint(node=f"{e.method.upper()} {_page_path(e.path)}", kind="page")
        return None


def _page_path(path: str) -> str:
    """``/users/48213/profile`` → ``/users/{}/profile``: ids and markers never name a node."""
    segs = path.split("/")
    return "/".join("{}" if linkable(s) is not None or is_marker(s) else s for s in segs)


def _discriminators(e: HarEntry) -> set[str]:
    body = e.request_body()
    if not body:
        return set()
    try:
        data = json.loads(body)
    except ValueError:
        return set()
    items = data if isinstance(data, list) else [data]
    out = set()
    for d in items:
        if isinstance(d, dict):
            for key in ("operationName", "method"):
                if isinstance(d.get(key), str):
                    out.add(d[key])
    return out


def flows_for(items: Iterable[HarEntry | SkippedEntry], cards: Sequence[ToolCard]) -> FlowGraph:
    """The dependency graph of ``items`` between ``cards`` (and the pages around them)."""
    return trace_flows(items, CardMatcher(cards))


def inputs_from(graph: FlowGraph, card: ToolCard) -> dict[str, list[str]]:
    """``{argument: ["producer.output", ...]}`` for a card's arguments, strongest first."""
    args = set(card.input_schema.get("properties", {}))
    tools = {n.name for n in graph.nodes if n.kind == "tool"}
    out: dict[str, list[str]] = {}
    for e in graph.edges:
        arg = e.input.split(".")[0].split("[")[0]
        if (
            e.consumer == card.name
            and e.role == "value"
            and arg in args
            and e.producer in tools
            and e.confidence >= HINT_MIN_CONFIDENCE
        ):
            src = f"{e.producer}.{e.output}"
            if src not in out.setdefault(arg, []):
                out[arg].append(src)
    return out


def attach_flows(
    paths: Sequence[str], cards: Sequence[ToolCard]
) -> tuple[list[ToolCard], FlowGraph]:
    """Trace the HARs at ``paths`` again for flows; return cards with ``inputs_from`` and the graph.

    Raises:
        HarError: a HAR cannot be read.
    """
    graph = flows_for(iter_har_files(expand_paths(list(paths))), cards)
    return _with_hints(cards, graph), graph


def attach_flows_beside(
    paths: Sequence[str], cards: Sequence[ToolCard], *, enabled: bool = True
) -> Callable[[], tuple[list[ToolCard], FlowGraph]]:
    """Start :func:`attach_flows` in a second process; call the result to get its answer.

    The flows pass reads the capture again; run beside the OpenAPI build and
    validation (which do not read ``inputs_from``) it costs no wall time of its own.
    ``zapi._beside`` says when a second process is used; otherwise (or with
    ``enabled`` false), or when that process fails for any reason, the pass runs here
    when called, so errors (an unreadable HAR) are raised exactly as
    :func:`attach_flows` raises them.
    """
    files = expand_paths(list(paths))
    graph = beside(lambda: flows_for(iter_har_files(files), cards), enabled=enabled)

    def finish() -> tuple[list[ToolCard], FlowGraph]:
        got = graph()
        return _with_hints(cards, got), got

    return finish


_Read = tuple[FlowTracer, list[tuple[HarEntry | SkippedEntry, BodyLinks | None]]]


def flows_early(paths: Sequence[str], *, enabled: bool = True) -> Standby[_Read, Any, Any]:
    """The flows pass started before the cards exist, in a process on standby.

    Most of the pass needs no card: reading the capture and indexing what each
    response body leaves (:meth:`FlowTracer.body_links`).  The child does that while
    the main process collects and builds the cards, keeping each entry without its
    response body (so: for captures that fit in memory; :func:`attach_flows_beside`
    is the one for any size), then traces the flows with the cards it is sent.
    Send the cards with :func:`send_cards`.
    """
    files = expand_paths(list(paths))
    return Standby(lambda: _read_for_flows(files), _trace_read, enabled=enabled)


def send_cards(
    standby: Standby[_Read, Any, Any], cards: Sequence[ToolCard]
) -> Callable[[], tuple[list[ToolCard], FlowGraph]]:
    """Give :func:`flows_early`'s process the cards; call the result for ``(cards, graph)``.

    Only what matching entries to cards reads goes over (names, routes, bindings): the
    schemas stay behind.
    """
    light = [
        c.model_copy(update={"input_schema": {}, "output_schema": {}, "error_schemas": {}})
        for c in cards
    ]
    graph = standby.send(light)

    def finish() -> tuple[list[ToolCard], FlowGraph]:
        got: FlowGraph = graph()
        return _with_hints(cards, got), got

    return finish


def _read_for_flows(files: list[str]) -> _Read:
    tracer = FlowTracer(lambda e: None)
    items: list[tuple[HarEntry | SkippedEntry, BodyLinks | None]] = []
    for item in iter_har_files(files):
        if isinstance(item, HarEntry):
            links = tracer.body_links(item)
            items.append((dataclasses.replace(item, response_text_raw=None), links))
        else:
            items.append((item, None))
    return tracer, items


def _trace_read(read: _Read, cards: Sequence[ToolCard]) -> FlowGraph:
    tracer, items = read
    tracer.classify_with(CardMatcher(cards))
    for item, links in items:
        tracer.feed(item, links)
    return tracer.graph()


def _with_hints(cards: Sequence[ToolCard], graph: FlowGraph) -> list[ToolCard]:
    out = []
    for c in cards:
        hints = inputs_from(graph, c)
        out.append(c.model_copy(update={"inputs_from": hints}) if hints else c)
    return out


def _id(name: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def mermaid(graph: FlowGraph, *, max_edges: int = MERMAID_MAX_EDGES) -> str:
    """A Mermaid ``flowchart LR`` of the strongest edges (session cookies folded into one)."""
    lines = ["flowchart LR"]
    used: set[str] = set()
    folded: dict[tuple[str, str, str], int] = {}
    shown = []
    for e in graph.edges:
        if e.role == "session":
            key = (e.producer, e.consumer, e.output)
            folded[key] = folded.get(key, 0) + e.count
            continue
        shown.append(e)
    shown.sort(key=lambda e: (-e.count, e.consumer, e.input))
    body = []
    for e in shown[:max_edges]:
        arrow = "-.->" if e.role != "value" else "-->"
        label = f"{e.output} → {e.input}".replace('"', "'")
        body.append(f'  {_id(e.producer)} {arrow}|"{label}"| {_id(e.consumer)}')
        used.update((e.producer, e.consumer))
    sessions: dict[tuple[str, str], list[str]] = {}
    for (prod, cons, out), _n in sorted(folded.items()):
        sessions.setdefault((prod, out), []).append(cons)
    for (prod, out), consumers in sorted(sessions.items()):
        if len(body) >= max_edges:
            break
        label = f"{out} (session, {len(consumers)} tools)".replace('"', "'")
        hub = _id(f"{prod}__{out}")
        body.append(f'  {_id(prod)} -.->|"{label}"| {hub}(("session"))')
        used.add(prod)
    kinds = {n.name: n.kind for n in graph.nodes}
    for name in sorted(used):
        label = name.replace('"', "'")
        shape = f'["{label}"]' if kinds.get(name) == "tool" else f'[/"{label}"/]'
        lines.append(f"  {_id(name)}{shape}")
    lines.extend(body)
    return "\n".join(lines) + "\n"


def flows_markdown(graph: FlowGraph) -> str:
    """The ``report.md`` section: a Mermaid diagram and the edge table."""
    if not graph.edges:
        return "\n## Flows\n\nNo request value came from an earlier response.\n"
    rows = [
        f"| {e.consumer}.{e.input} | {e.producer}.{e.output} | {e.role} | {e.count} | "
        f"{e.confidence:.2f} |"
        for e in graph.edges
        if e.role != "session"
    ]
    sessions = sorted({(e.producer, e.output) for e in graph.edges if e.role == "session"})
    parts = [
        "",
        "## Flows",
        "",
        f"Which response fed which request ({graph.linked} values linked over "
        f"{graph.entries} entries; full graph in `flows.json`).",
        "",
        "```mermaid",
        mermaid(graph).rstrip("\n"),
        "```",
        "",
        "| input | from | role | count | confidence |",
        "|---|---|---|---|---|",
        *rows,
    ]
    if sessions:
        parts += ["", "Session cookies: " + ", ".join(f"{o} set by {p}" for p, o in sessions)]
    return "\n".join(parts) + "\n"
