"""Exports from tool cards for agents: MCP, OpenAI and Anthropic tool lists, a Python client."""

from __future__ import annotations

import functools
import json
import keyword
import os
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jinja2

from toolgen.cards import ToolCard

__all__ = [
    "FORMATS",
    "anthropic_tools",
    "clean_schema",
    "identifier",
    "mcp_tools",
    "openai_tools",
    "py_str",
    "python_client",
    "render",
    "template_dirs",
]

FORMATS = ("mcp", "openai", "anthropic", "python")
_RESERVED = frozenset({"self", "Any", "annotations", "given", "args", "tool"})
_STRICT_KEYS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "description",
        "$ref",
        "$defs",
    }
)
_PY_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "list[Any]",
    "object": "dict[str, Any]",
}


def template_dirs() -> list[str]:
    """Where templates live: ``templates/`` in a checkout, ``zapi/_templates`` in the wheel."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [
        os.path.join(os.path.dirname(here), "templates"),
        os.path.join(os.path.dirname(here), "zapi", "_templates"),
    ]
    return [d for d in candidates if os.path.isdir(d)]


@functools.cache
def _environment() -> jinja2.Environment:
    """The one template environment (strict, no escaping: it renders code)."""
    dirs = template_dirs()
    if not dirs:
        raise FileNotFoundError(
            "zapi templates are missing (neither templates/ nor "
            "zapi/_templates exists); reinstall zapi"
        )
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(dirs),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def clean_schema(schema: Any, *, drop: frozenset[str] = frozenset()) -> Any:
    """A copy of a schema without ``x-*`` extensions (and without the keys in ``drop``)."""
    if isinstance(schema, dict):
        out = {}
        for k, v in schema.items():
            if k.startswith("x-") or k in drop:
                continue
            if k == "properties" and isinstance(v, dict):
                out[k] = {pk: clean_schema(pv, drop=drop) for pk, pv in v.items()}
            else:
                out[k] = clean_schema(v, drop=drop)
        return out
    if isinstance(schema, list):
        return [clean_schema(v, drop=drop) for v in schema]
    return schema


def _object(schema: dict[str, Any]) -> dict[str, Any]:
    return schema if schema.get("type") == "object" else {"type": "object", "properties": {}}


def _hints(card: ToolCard) -> dict[str, Any]:
    read_only = card.safety == "read_only"
    return {
        "title": card.name.replace("_", " "),
        "readOnlyHint": read_only,
        "destructiveHint": card.safety == "destructive",
        "idempotentHint": read_only
        or card.safety == "idempotent"
        or card.method.upper() in ("PUT", "DELETE"),
        "openWorldHint": True,
    }


def mcp_tools(cards: Iterable[ToolCard]) -> dict[str, Any]:
    """MCP ``tools/list`` result: name, description, inputSchema, outputSchema, annotations."""
    tools = []
    for card in sorted(cards, key=lambda c: c.name):
        tool: dict[str, Any] = {
            "name": card.name,
            "description": card.description,
            "inputSchema": _object(clean_schema(card.input_schema)),
            "annotations": _hints(card),
        }
        out = clean_schema(card.output_schema)
        if isinstance(out, dict) and out.get("type") == "object":
            tool["outputSchema"] = out
        tools.append(tool)
    return {"tools": tools}


def _strict_ok(schema: Any) -> bool:
    """OpenAI strict mode: known keywords, closed objects, every property required."""
    if isinstance(schema, list):
        return all(_strict_ok(s) for s in schema)
    if not isinstance(schema, dict):
        return True
    if set(schema) - _STRICT_KEYS:
        return False
    if schema.get("type") == "object":
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is not False or set(
            schema.get("required", [])
        ) != set(props):
            return False
        return all(_strict_ok(p) for p in props.values())
    return all(_strict_ok(schema[k]) for k in ("items", "anyOf") if k in schema)


def openai_tools(cards: Iterable[ToolCard]) -> list[dict[str, Any]]:
    """OpenAI function tools; ``strict`` is set only when the schema qualifies."""
    out = []
    for card in sorted(cards, key=lambda c: c.name):
        params = _object(
            clean_schema(card.input_schema, drop=frozenset({"examples", "format", "default"}))
        )
        out.append(
            {
                "type": "function",
                "function": {
                    "name": card.name,
                    "description": card.description[:1024],
                    "parameters": params,
                    "strict": _strict_ok(params),
                },
            }
        )
    return out


def anthropic_tools(cards: Iterable[ToolCard]) -> list[dict[str, Any]]:
    """Anthropic Messages API tools: name, description, input_schema."""
    return [
        {
            "name": c.name,
            "description": c.description,
            "input_schema": _object(clean_schema(c.input_schema)),
        }
        for c in sorted(cards, key=lambda c: c.name)
    ]


# -- the Python client ------------------------------------------------------------------


def py_str(text: str) -> str:
    """A double-quoted Python literal for any text, with no raw quote, backslash,
    whitespace other than spaces, or non-ASCII character in it (stable under ruff format)."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\"'" or code < 32 or code == 127:
            out.append(f"\\x{code:02x}")
        elif code < 127:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def identifier(name: str, taken: set[str], *, limit: int = 40) -> str:
    """A safe, unique, lower-case Python identifier derived from any name (never raw input)."""
    base = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()[:limit].rstrip("_") or "arg"
    if base[0].isdigit():
        base = f"n_{base}"
    if keyword.iskeyword(base) or keyword.issoftkeyword(base) or base in _RESERVED:
        base += "_"
    ident, n = base, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


def _comment(text: str) -> list[str]:
    flat = "".join(ch if 32 <= ord(ch) < 127 else " " for ch in text)
    return textwrap.wrap(flat, 72) or [""]


@dataclass(frozen=True)
class _Param:
    ident: str
    key: str
    annotation: str
    required: bool


@dataclass(frozen=True)
class _Tool:
    name: str
    ident: str
    literal: str
    safety: str
    comment: list[str]
    params: list[_Param]


def _annotation(schema: Any) -> str:
    types = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(types, str) and types in _PY_TYPES:
        return _PY_TYPES[types]
    return "Any"


def python_client(cards: Iterable[ToolCard]) -> str:
    """Source of a typed client module (one method per tool) over a runtime."""
    wire: list[str] = []
    tools = []
    methods: set[str] = set(_RESERVED) | {"_call", "_rt"}
    for card in sorted(cards, key=lambda c: c.name):
        props = card.input_schema.get("properties", {})
        required = set(card.input_schema.get("required", []))
        taken: set[str] = set()
        params = []
        for arg in sorted(props, key=lambda a: (a not in required, a)):
            ident = identifier(arg, taken)
            simple = re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", arg) is not None
            if simple:
                key = py_str(arg)
            else:
                wire.append(py_str(arg).replace(" ", "\\x20"))
                key = f"_WIRE[{len(wire) - 1}]"
            ann = _annotation(props[arg])
            params.append(
                _Param(ident, key, ann if arg in required else f"{ann} | None", arg in required)
            )
        safe_name = card.name if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", card.name) else "?"
        tools.append(
            _Tool(
                name=safe_name,
                ident=identifier(card.name, methods, limit=60),
                literal=py_str(card.name),
                safety=card.safety,
                comment=_comment(card.description),
                params=params,
            )
        )
    return _environment().get_template("python_client.py.j2").render(tools=tools, wire=wire)


def render(cards: Iterable[ToolCard], fmt: str, *, include_failing: bool = False) -> str:
    """Text of one export format (JSON for mcp/openai/anthropic, Python for python).

    Cards never seen working (every recorded call failed) are left out unless
    ``include_failing`` is set: an agent should not be offered a tool that only failed.

    Raises:
        ValueError: an unknown format.
    """
    items = [c for c in cards if include_failing or c.seen_working]
    if fmt == "python":
        return python_client(items)
    builders = {"mcp": mcp_tools, "openai": openai_tools, "anthropic": anthropic_tools}
    if fmt not in builders:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    data: Any = builders[fmt](items)
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
