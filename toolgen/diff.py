"""Drift between two captures: operations added or removed, per tool breaking or compatible.

Operations are matched by method, path shape (parameter names ignored) and
GraphQL/JSON-RPC discriminator, never by origin (two recordings rarely share a
port).  Breaking for a caller: a new required input, an input that became
required or changed type, a removed or retyped output field, an output enum
that gained values or an input enum that lost some, an auth change, a safety
class that got stronger, no success status in common.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from toolgen.cards import ToolCard

__all__ = ["Change", "DriftReport", "diff_cards"]

_RANK = {"read_only": 0, "idempotent": 1, "write": 2, "destructive": 3}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Change(_Model):
    """One difference of one tool."""

    tool: str
    kind: Literal[
        "input_added",
        "input_required",
        "input_removed",
        "input_optional",
        "input_type",
        "input_enum",
        "output_added",
        "output_removed",
        "output_type",
        "output_enum",
        "auth",
        "safety",
        "status",
    ]
    field: str = ""
    breaking: bool
    detail: str


class DriftReport(_Model):
    """What changed from the OLD capture to the NEW one."""

    schema_version: Literal["1"] = "1"
    added: list[str]
    removed: list[str]
    changes: list[Change]

    @property
    def breaking(self) -> list[Change]:
        """The changes that break a caller of the old tools (removed operations count too)."""
        return [c for c in self.changes if c.breaking]

    @property
    def has_breaking(self) -> bool:
        """True when a caller of the old tools may break."""
        return bool(self.removed or self.breaking)

    def dump(self) -> str:
        """Deterministic JSON text."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"

    def lines(self) -> list[str]:
        """Human-readable lines, breaking first."""
        out = [f"+ {op}" for op in self.added] + [
            f"- {op} (breaking: removed)" for op in self.removed
        ]
        for c in sorted(self.changes, key=lambda c: (not c.breaking, c.tool, c.field, c.kind)):
            tag = "BREAKING" if c.breaking else "compatible"
            out.append(f"{tag}: {c.tool}: {c.detail}")
        return out or ["no changes"]


def _key(c: ToolCard) -> str:
    shape = re.sub(r"\{[^}]*\}", "{}", c.path)
    return f"{c.method.upper()} {shape}" + (f" ({c.discriminator})" if c.discriminator else "")


def _fields(schema: Mapping[str, Any], prefix: str = "") -> dict[str, Mapping[str, Any]]:
    """``{dotted field: schema}`` of an output schema (``items[].sku`` for arrays)."""
    out: dict[str, Mapping[str, Any]] = {}
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(sub, Mapping):
                out[path] = sub
                out.update(_fields(sub, path))
    elif kind == "array" and isinstance(schema.get("items"), Mapping):
        out.update(_fields(schema["items"], prefix + "[]"))
    return out


def _type(s: Mapping[str, Any]) -> str:
    t = s.get("type")
    if isinstance(t, list):
        return "|".join(sorted(str(x) for x in t if x != "null"))
    return str(t or "any")


def _enum(s: Mapping[str, Any]) -> set[str] | None:
    e = s.get("enum")
    return {json.dumps(v, sort_keys=True) for v in e} if isinstance(e, list) else None


def _tool_changes(old: ToolCard, new: ToolCard) -> list[Change]:
    name = new.name
    out: list[Change] = []

    def add(kind: Any, fld: str, breaking: bool, detail: str) -> None:
        out.append(Change(tool=name, kind=kind, field=fld, breaking=breaking, detail=detail))

    oi = old.input_schema.get("properties", {})
    ni = new.input_schema.get("properties", {})
    oreq = set(old.input_schema.get("required", []))
    nreq = set(new.input_schema.get("required", []))
    for arg in sorted(set(ni) - set(oi)):
        # A new input the client now sends in every call (and never sent before) is what a
        # newly demanded field looks like in traffic, even on too few calls to prove it.
        always = ni[arg].get("x-observed") == new.provenance.samples > 0
        req = arg in nreq or always
        add(
            "input_required" if req else "input_added",
            arg,
            req,
            f"new {'required' if arg in nreq else 'optional'} input {arg!r}"
            + (", sent in every recorded call" if always and arg not in nreq else ""),
        )
    for arg in sorted(set(oi) - set(ni)):
        add("input_removed", arg, False, f"input {arg!r} no longer sent")
    for arg in sorted(set(oi) & set(ni)):
        if arg in nreq and arg not in oreq:
            add("input_required", arg, True, f"input {arg!r} became required")
        elif arg in oreq and arg not in nreq:
            add("input_optional", arg, False, f"input {arg!r} became optional")
        if _type(oi[arg]) != _type(ni[arg]):
            add("input_type", arg, True, f"input {arg!r} type {_type(oi[arg])} -> {_type(ni[arg])}")
        oe, ne = _enum(oi[arg]), _enum(ni[arg])
        if oe is not None and ne is not None and oe != ne:
            add("input_enum", arg, bool(oe - ne), f"input {arg!r} enum changed")
    of, nf = _fields(old.output_schema), _fields(new.output_schema)
    for f in sorted(set(nf) - set(of)):
        add("output_added", f, False, f"new output field {f!r}")
    for f in sorted(set(of) - set(nf)):
        parent = f.rsplit(".", 1)[0] if "." in f else ""
        if parent and parent in of and parent not in nf:
            continue  # reported with its parent
        add("output_removed", f, True, f"output field {f!r} removed")
    for f in sorted(set(of) & set(nf)):
        if _type(of[f]) != _type(nf[f]):
            add("output_type", f, True, f"output field {f!r} type {_type(of[f])} -> {_type(nf[f])}")
        oe, ne = _enum(of[f]), _enum(nf[f])
        if oe is not None and ne is not None and ne - oe:
            add("output_enum", f, True, f"output field {f!r} has new values")
    if sorted(old.auth) != sorted(new.auth) or old.csrf != new.csrf:
        add(
            "auth",
            "",
            True,
            f"auth {sorted(old.auth) or 'none'} -> {sorted(new.auth) or 'none'}"
            + (" (CSRF changed)" if old.csrf != new.csrf else ""),
        )
    if _RANK[new.safety] > _RANK[old.safety]:
        add("safety", "", True, f"safety {old.safety} -> {new.safety}")
    ok_old = {s for s in old.responses if s.startswith("2")}
    ok_new = {s for s in new.responses if s.startswith("2")}
    if ok_old and ok_new and ok_old != ok_new:
        add(
            "status",
            "",
            not (ok_old & ok_new),
            f"success status {sorted(ok_old)} -> {sorted(ok_new)}",
        )
    return out


def diff_cards(old: Mapping[str, ToolCard], new: Mapping[str, ToolCard]) -> DriftReport:
    """Compare two tool sets (``name → card``) as an OLD and a NEW capture."""
    ok = {_key(c): c for c in old.values()}
    nk = {_key(c): c for c in new.values()}
    changes: list[Change] = []
    for k in sorted(set(ok) & set(nk)):
        changes.extend(_tool_changes(ok[k], nk[k]))
    return DriftReport(
        added=sorted(f"{k} ({nk[k].name})" for k in set(nk) - set(ok)),
        removed=sorted(f"{k} ({ok[k].name})" for k in set(ok) - set(nk)),
        changes=changes,
    )
