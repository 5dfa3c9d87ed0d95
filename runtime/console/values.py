"""Approval values an operator edits: parsed, checked against a schema, narrowing enforced.

The console checks a change *before* it sends the decision, so a refused value sends nothing.
The schema of a value comes from the JSON type of the value the run proposed, the plan
gate's own ``schema`` (when a plan declares one), and with ``--tools`` the input schema of
the tool argument the value feeds (or, for a policy gate ``allow TOOL``, of the tool).
A gate whose plan says ``narrow`` (``true`` or a list of value names) only accepts values
inside the proposed ones: a number not above it, a list that is a subset, an object whose
fields narrow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import jsonschema

__all__ = ["ValueProblem", "check_changes", "parse_value", "schemas_for", "type_schema"]

_REF = re.compile(r"\$\{steps\.([A-Za-z_][A-Za-z0-9_-]*)\.values\.([A-Za-z0-9_]+)\}")


class ValueProblem(ValueError):
    """A changed value the approval cannot accept (the message names the value and the fix)."""


def parse_value(raw: str) -> Any:
    """A form field to a value: JSON when it parses (``5``, ``true``, ``[1]``), else the text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def type_schema(value: Any) -> dict[str, Any]:
    """The JSON type of a proposed value as a schema (an integer stays an integer)."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array"}
    if isinstance(value, dict):
        return {"type": "object"}
    return {}


def _gate(plan: Mapping[str, Any] | None, wait_name: str) -> tuple[str, dict[str, Any]] | None:
    for step in (plan or {}).get("steps") or []:
        gate = step.get("approval") if isinstance(step, dict) else None
        if isinstance(gate, dict) and (gate.get("name") or step.get("id")) == wait_name:
            return str(step.get("id")), gate
    return None


def schemas_for(
    values: Mapping[str, Any],
    *,
    wait_name: str,
    plan: Mapping[str, Any] | None = None,
    tool_schemas: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """The schema each approval value must meet, and the values that may only narrow.

    Args:
        values: the values the run proposed.
        wait_name: the approval's name (a plan gate's ``name`` or step id).
        plan: the run's pinned plan document, if it is a plan run.
        tool_schemas: tool name -> input schema (from ``--tools``), if known.
    """
    out = {k: type_schema(v) for k, v in values.items()}
    narrow: set[str] = set()
    gated_tool = wait_name.removeprefix("allow ") if wait_name.startswith("allow ") else ""
    if gated_tool and tool_schemas and gated_tool in tool_schemas and "args" in out:
        out["args"] = {**out["args"], **tool_schemas[gated_tool]}  # a policy gate on a tool
    found = _gate(plan, wait_name)
    if found is None:
        return out, narrow
    step_id, gate = found
    declared = gate.get("schema")
    if isinstance(declared, dict):
        for k, sub in (declared.get("properties") or {}).items():
            if k in out and isinstance(sub, dict):
                out[k] = {**out[k], **sub}
    flag = gate.get("narrow")
    if flag is True:
        narrow = set(values)
    elif isinstance(flag, list):
        narrow = {str(k) for k in flag if k in values}
    if tool_schemas:
        for step in (plan or {}).get("steps") or []:
            tool = step.get("tool") if isinstance(step, dict) else None
            props = ((tool_schemas.get(tool) or {}).get("properties") or {}) if tool else {}
            for arg, raw in (step.get("args") or {}).items():
                if not isinstance(raw, str) or not isinstance(props.get(arg), dict):
                    continue
                m = _REF.fullmatch(raw.strip())
                if m and m.group(1) == step_id and m.group(2) in out:
                    out[m.group(2)] = {**out[m.group(2)], **props[arg]}
    return out, narrow


def _narrows(new: Any, old: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return bool(new == old)
    if isinstance(old, int | float) and isinstance(new, int | float):
        return abs(new) <= abs(old) and (new >= 0) == (old >= 0) or new == 0
    if isinstance(old, list) and isinstance(new, list):
        return all(item in old for item in new)
    if isinstance(old, dict) and isinstance(new, dict):
        return all(k in old and _narrows(v, old[k]) for k, v in new.items())
    return bool(new == old)


def check_changes(
    proposed: Mapping[str, Any],
    changes: Mapping[str, Any],
    schemas: Mapping[str, Mapping[str, Any]],
    narrow: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The changes that differ from ``proposed``, once each is checked.

    Raises:
        ValueProblem: a name the approval has no value for, a value its schema refuses, or
            a widened value where only narrowing is allowed (the first problem found).
    """
    out: dict[str, Any] = {}
    for name, new in changes.items():
        if name not in proposed:
            have = ", ".join(sorted(proposed)) or "none"
            raise ValueProblem(f"{name}: this approval has no such value (it has: {have})")
        old = proposed[name]
        if new == old and type(new) is type(old):
            continue
        schema = dict(schemas.get(name) or {})
        try:
            jsonschema.validate(new, schema)
        except jsonschema.ValidationError as exc:
            raise ValueProblem(
                f"{name}: {json.dumps(new)} is refused: {exc.message} (proposed: {json.dumps(old)})"
            ) from exc
        if name in narrow and not _narrows(new, old):
            raise ValueProblem(
                f"{name}: {json.dumps(new)} widens the request; this approval may only narrow "
                f"it (proposed: {json.dumps(old)})"
            )
        out[name] = new
    return out
