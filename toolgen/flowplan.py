"""A runnable plan from a recording: its writes, the reads they depend on, verify and compensate.

Values that came from an earlier response become ``${steps.ID.output.path}``
references, values the user typed become ``${inputs.NAME}`` (with the recorded
value as default, never for a secret), client ids and idempotency keys are left
to the runtime (a fresh one per step), each write gets its card's verification,
and a write with a compensating tool gets a ``compensate``: a PUT/PATCH is undone
by the same tool with the values read before it, a POST by the DELETE of what it
created.  The result is a plain dict in the plan format of ``zapi run``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import yaml

from toolgen.cards import ToolCard
from toolgen.flows import CardMatcher
from zapi.analyzer.flows import linkable
from zapi.har import HarEntry, SkippedEntry
from zapi.redact import is_marker, is_secret_name

__all__ = [
    "RecordedCall",
    "build_plan",
    "dump_plan",
    "recorded_calls",
    "request_args",
    "request_body_value",
]

_TYPES = {"string", "integer", "number", "boolean", "object", "array"}
_FILE = object()  # an uploaded file: the recording holds bytes, a plan needs a local path


@dataclass
class RecordedCall:
    """One call of a tool in the recording: its arguments and its JSON answer."""

    index: int
    card: ToolCard
    args: dict[str, Any]
    output: Any
    status: int
    step_id: str = ""
    refs: dict[str, str] = field(default_factory=dict)  # arg -> plan value


def _path_args(card: ToolCard, path: str) -> dict[str, str]:
    names = []
    pattern = []
    for seg in card.path.split("/"):
        if seg.startswith("{"):
            names.append(seg.strip("{}+"))
            pattern.append("(.+)" if seg.endswith("+}") else "([^/]+)")
        else:
            pattern.append(re.escape(seg))
    m = re.match("^" + "/".join(pattern) + "/?$", path)
    return {n: unquote(v) for n, v in zip(names, m.groups(), strict=True)} if m else {}


def request_body_value(e: HarEntry) -> Any:
    raw = e.request_body()
    if not raw:
        return None
    if "x-www-form-urlencoded" in e.request_mime.lower():
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        return json.loads(raw)
    except ValueError:
        return None


def request_args(card: ToolCard, e: HarEntry) -> dict[str, Any]:
    path = _path_args(card, e.path)
    query = dict(e.query)
    body = request_body_value(e)
    props = card.input_schema.get("properties", {})
    out: dict[str, Any] = {}
    for b in card.bindings:
        value: Any = None
        if b.location == "path":
            value = path.get(b.name)
        elif b.location == "query":
            value = query.get(b.name)
            kind = props.get(b.arg, {}).get("type")
            if value is not None and kind in ("integer", "number"):
                try:
                    value = int(value) if kind == "integer" else float(value)
                except ValueError:
                    pass
        elif b.location == "header":
            value = e.header(b.name)
        elif b.location == "body":
            if b.whole_body:
                value = body
            elif isinstance(body, dict):
                value = body.get(b.name)
        if value is not None:
            out[b.arg] = value
    for p in e.request_params:
        if p.filename is None and p.value is not None:
            arg = next((b.arg for b in card.bindings if b.name == p.name), None)
            if arg:
                out.setdefault(arg, p.value)
    return out


def recorded_calls(
    items: Iterable[HarEntry | SkippedEntry], cards: Sequence[ToolCard]
) -> list[RecordedCall]:
    """Every entry that is a call of one of ``cards``, in recording order."""
    match = CardMatcher(cards)
    out = []
    for e in items:
        if not isinstance(e, HarEntry):
            continue
        card = match.card_for(e)
        if card is None:
            continue
        raw = e.response_body()
        try:
            output = json.loads(raw) if raw else None
        except ValueError:
            output = None
        out.append(RecordedCall(e.index, card, request_args(card, e), output, e.status))
    return out


def _dotted(path: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in path)


def _leaves(
    data: Any, path: tuple[str | int, ...] = ()
) -> Iterable[tuple[tuple[str | int, ...], Any]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, (*path, str(k)))
    elif isinstance(data, list):
        for i, v in enumerate(data[:200]):
            yield from _leaves(v, (*path, i))
    else:
        yield path, data


def _pointer(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def _at(data: Any, path: Sequence[str]) -> tuple[bool, Any]:
    for p in path:
        if isinstance(data, dict) and p in data:
            data = data[p]
        elif isinstance(data, list) and p.isdigit() and int(p) < len(data):
            data = data[int(p)]
        else:
            return False, None
    return True, data


class _Planner:
    def __init__(self, calls: list[RecordedCall], cards: Sequence[ToolCard]) -> None:
        self.calls = calls
        self.cards = {c.name: c for c in cards}
        self.keep: set[int] = set()
        self.inputs: dict[str, dict[str, Any]] = {}
        self.where: dict[str, list[tuple[int, tuple[str | int, ...]]]] = {}
        for pos, c in enumerate(calls):
            for path, leaf in _leaves(c.output):
                key = linkable(leaf)
                if key is not None:
                    self.where.setdefault(key, []).append((pos, path))

    def producer(self, value: Any, before: int) -> tuple[int, tuple[str | int, ...]] | None:
        """The latest earlier read that gave ``value``, else the latest write that did."""
        key = linkable(value) if value is not _FILE else None
        if key is None:
            return None
        hits = [
            (pos, path)
            for pos, path in self.where.get(key, [])
            if pos < before and self.calls[pos].status < 400
        ]
        reads = [h for h in hits if not self.calls[h[0]].card.is_write]
        best = reads or hits
        return best[-1] if best else None

    def need(self, pos: int) -> None:
        """Keep call ``pos`` and, first, every call its values came from."""
        if pos in self.keep:
            return
        self.keep.add(pos)
        call = self.calls[pos]
        for arg, value in call.args.items():
            hit = self.producer(value, pos)
            if hit is not None:
                self.need(hit[0])
                call.refs[arg] = f"@{hit[0]}:{_dotted(hit[1])}"
            elif call.card.is_write:
                call.refs[arg] = "@input"

    def before_read(self, pos: int) -> int | None:
        """The latest read of the write's verification tool, with the same identity, before it."""
        call = self.calls[pos]
        v = call.card.verification
        if v is None:
            return None
        for k in range(pos - 1, -1, -1):
            c = self.calls[k]
            if c.card.name != v.tool or c.status >= 400:
                continue
            same = all(
                src.startswith("arg:") and c.args.get(a) == call.args.get(src[4:])
                for a, src in v.args.items()
            )
            if same:
                return k
        return None

    def input_name(self, call: RecordedCall, arg: str) -> str:
        value = call.args[arg]
        for name in (arg, f"{call.step_id}_{arg}"):
            have = self.inputs.get(name)
            if have is None or have.get("default") == value and not is_secret_name(arg):
                return name
        return f"{call.step_id}_{arg}_{call.index}"

    def input_decl(self, call: RecordedCall, arg: str) -> dict[str, Any]:
        prop = call.card.input_schema.get("properties", {}).get(arg, {})
        kind = prop.get("type") if prop.get("type") in _TYPES else "string"
        value = call.args[arg]
        decl: dict[str, Any] = {"type": kind, "description": f"{call.card.name}.{arg}"}
        if value is _FILE:
            decl["description"] += " (a file: pass a local path with --input)"
        elif is_secret_name(arg) or is_marker(value):
            decl["description"] += " (a secret: pass it with --input)"
        else:
            decl["default"] = value
            decl["required"] = False
        return decl


def build_plan(
    calls: list[RecordedCall],
    cards: Sequence[ToolCard],
    *,
    name: str,
    source: str = "",
    only: Sequence[str] = (),
) -> dict[str, Any]:
    """The plan (a dict in ``zapi run``'s format) for the writes of ``calls``.

    Args:
        calls: the recorded calls, in order.
        cards: the tool cards they are calls of.
        name: the plan's name.
        source: the recording's name, for the description.
        only: keep the writes of these tools only (default: every write).

    Raises:
        ValueError: the recording holds no successful write of these tools.
    """
    for c in calls:  # client ids and idempotency keys: the runtime makes fresh ones per step
        if c.card.is_write:
            fresh = set(c.card.idempotency.client_ids) | {c.card.idempotency.header or ""}
            c.args = {k: v for k, v in c.args.items() if k not in fresh}
            for arg, prop in c.card.input_schema.get("properties", {}).items():
                if prop.get("format") == "binary" and arg not in c.args:
                    c.args[arg] = _FILE
    p = _Planner(calls, cards)
    writes = [
        i
        for i, c in enumerate(calls)
        if c.card.is_write
        and c.card.login is None
        and c.status < 400
        and (not only or c.card.name in only)
    ]
    if not writes:
        raise ValueError("the recording holds no successful write of these tools")
    reads_before: dict[int, int] = {}
    for w in writes:
        k = p.before_read(w)
        if k is not None:
            p.need(k)
            reads_before[w] = k
        p.need(w)
    used: dict[str, int] = {}
    order = sorted(p.keep)
    for pos in order:
        c = calls[pos]
        n = used.get(c.card.name, 0) + 1
        used[c.card.name] = n
        c.step_id = c.card.name if n == 1 else f"{c.card.name}_{n}"
    steps = []
    for pos in order:
        c = calls[pos]
        args: dict[str, Any] = {}
        for arg, value in c.args.items():
            ref = c.refs.get(arg)
            if ref == "@input":
                iname = p.input_name(c, arg)
                p.inputs[iname] = p.input_decl(c, arg)
                args[arg] = f"${{inputs.{iname}}}"
            elif ref:
                src, _, dotted = ref[1:].partition(":")
                args[arg] = f"${{steps.{calls[int(src)].step_id}.output.{dotted}}}"
            else:
                args[arg] = value
        step: dict[str, Any] = {"id": c.step_id, "tool": c.card.name, "args": args}
        verify = _verify(c)
        if verify:
            step["verify"] = verify
        comp = _compensate(c, calls, reads_before.get(pos), p.cards)
        if comp:
            step["compensate"] = comp
        steps.append(step)
    n_writes = sum(1 for pos in order if calls[pos].card.is_write)
    return {
        "schema_version": "1",
        "name": name,
        "description": f"{n_writes} write(s) replayed from {source or 'a recording'}",
        "inputs": {k: p.inputs[k] for k in sorted(p.inputs)},
        "steps": steps,
    }


def _verify(c: RecordedCall) -> dict[str, Any] | None:
    v = c.card.verification
    if v is None:
        return None
    args: dict[str, Any] = {}
    for read_arg, src in v.args.items():
        kind, _, what = src.partition(":")
        if kind == "arg" and what in c.args:
            args[read_arg] = f"${{args.{what}}}"
        elif kind == "response":
            found, _ = _at(c.output, _pointer(what))
            if not found:
                return None
            args[read_arg] = "${output." + ".".join(_pointer(what)) + "}"
        else:
            return None
    expect = {ptr: f"${{args.{arg}}}" for arg, ptr in sorted(v.compare.items()) if arg in c.args}
    if not expect:
        return None
    return {"tool": v.tool, "args": args, "expect": expect}


def _compensate(
    c: RecordedCall, calls: list[RecordedCall], before: int | None, cards: dict[str, ToolCard]
) -> dict[str, Any] | None:
    method = c.card.method.upper()
    if method in ("PUT", "PATCH") and before is not None and c.card.verification is not None:
        read = calls[before]
        args: dict[str, Any] = {a: f"${{args.{a}}}" for a in c.args}
        restored = 0
        for arg, ptr in sorted(c.card.verification.compare.items()):
            found, before_value = _at(read.output, _pointer(ptr))
            if found and arg in args and before_value != c.args.get(arg):
                args[arg] = "${steps." + read.step_id + ".output." + ".".join(_pointer(ptr)) + "}"
                restored += 1
        return {"tool": c.card.name, "args": args} if restored else None
    if method == "POST":
        for d in sorted(cards.values(), key=lambda x: x.name):
            if d.method.upper() != "DELETE" or d.origin != c.card.origin:
                continue
            head, _, last = d.path.rpartition("/")
            if head != c.card.path.rstrip("/") or not last.startswith("{"):
                continue
            param = last.strip("{}+")
            props = c.card.output_schema.get("properties", {})
            for fld in (param, "id", param.removesuffix("_id")):
                if fld in props:
                    extra = {
                        a: f"${{args.{a}}}"
                        for a in c.args
                        if a in d.input_schema.get("properties", {})
                    }
                    return {"tool": d.name, "args": {**extra, param: f"${{output.{fld}}}"}}
    return None


def dump_plan(plan: dict[str, Any], *, header: str = "") -> str:
    """Readable YAML: key order kept, a comment header."""
    text = yaml.safe_dump(plan, sort_keys=False, allow_unicode=True, width=100)
    lines = [f"# {line}" for line in header.splitlines()]
    return "\n".join(lines) + ("\n" if lines else "") + text
