"""GraphQL and JSON-RPC: how one URL carries several operations, and which of them read.

The single place that knows these protocols: splitting a request into its
operations (:func:`split_operations`), the kind of a GraphQL document, whether
a JSON-RPC method is named as a read, and the fixed body a card of each
protocol sends.  The pipeline, the card builder and the namer all ask here.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "PROTOCOL_BODY_KEYS",
    "graphql_kind",
    "graphql_operations",
    "inner_key",
    "jsonrpc_methods",
    "rpc_is_read",
    "split_operations",
    "tool_prefix",
]

# Body keys that identify the operation rather than carry the caller's inputs.
PROTOCOL_BODY_KEYS = ("query", "operationName", "extensions", "jsonrpc", "method")

_GQL_NAME = re.compile(r"^\s*(query|mutation|subscription)\s+([A-Za-z_][A-Za-z0-9_]*)")
_GQL_FIELD = re.compile(
    r"^\s*(?:(query|mutation|subscription)\b[^{]*)?\{\s*([A-Za-z_][A-Za-z0-9_]*)"
)
_GQL_KIND = re.compile(r"^\s*(?:#[^\n]*\n\s*)*(mutation|subscription)\b")
# Leading words of a JSON-RPC method (after its namespace) that name a read.
_RPC_READ_WORDS = frozenset(
    {
        "get",
        "list",
        "find",
        "search",
        "query",
        "count",
        "read",
        "fetch",
        "describe",
        "show",
        "status",
        "info",
        "lookup",
        "check",
        "validate",
        "estimate",
        "call",  # eth_call: a read by definition
        "version",
        "ping",
        "health",
    }
)


def graphql_operations(value: Any) -> list[tuple[str, Any]] | None:
    """Split a GraphQL request body into ``(operation name, single request)`` pairs.

    Returns ``None`` when the body is not GraphQL.  Batches (a JSON array of
    requests) are split; a persisted query without a name is named by its hash.
    """
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    out = []
    for item in items:
        query = item.get("query")
        ext = item.get("extensions")
        persisted = isinstance(ext, dict) and isinstance(ext.get("persistedQuery"), dict)
        if not isinstance(query, str) and not persisted:
            return None
        name = item.get("operationName")
        if not isinstance(name, str) or not name:
            name = _graphql_name(query) if isinstance(query, str) else None
        if not name and persisted:
            pq = ext["persistedQuery"] if isinstance(ext, dict) else {}
            name = "persisted_" + str(pq.get("sha256Hash", ""))[:12]
        out.append((name or "anonymous", item))
    return out


def _graphql_name(query: str) -> str | None:
    m = _GQL_NAME.match(query)
    if m:
        return m.group(2)
    m = _GQL_FIELD.match(query)
    return m.group(2) if m else None


def graphql_kind(query: Any) -> str:
    """``mutation`` / ``subscription`` / ``query`` for a GraphQL document."""
    if isinstance(query, str):
        m = _GQL_KIND.match(query)
        if m:
            return m.group(1)
    return "query"


def jsonrpc_methods(value: Any) -> list[tuple[str, Any]] | None:
    """Split a JSON-RPC(-style) body into ``(method, single request)`` pairs, else ``None``."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    out = []
    for item in items:
        method = item.get("method")
        if not isinstance(method, str) or not method:
            return None
        if not ("jsonrpc" in item or "params" in item or "id" in item):
            return None
        out.append((method, item))
    return out


def split_operations(
    method: str, query: list[tuple[str, str]], json_body: Any, is_json: bool
) -> list[tuple[str, str, Any]] | None:
    """The ``(discriminator, protocol, single request body)`` operations one request carries.

    Returns ``None`` for a plain REST request.  A GraphQL GET (``?query=…&operationName=…``)
    is one operation whose body is the request's own (usually none): ``json_body`` is
    passed through unchanged.
    """
    if is_json:
        gql = graphql_operations(json_body)
        if gql is not None:
            return [(n, "graphql", v) for n, v in gql]
        rpc = jsonrpc_methods(json_body)
        if rpc is not None:
            return [(n, "jsonrpc", v) for n, v in rpc]
        return None
    if method == "GET":
        keys = {k for k, _ in query}
        if "query" in keys and "operationName" in keys:
            name = next(v for k, v in query if k == "operationName")
            return [(name, "graphql", json_body)]
    return None


def _words(name: str) -> list[str]:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", s.lower()) if w]


def rpc_is_read(method: str) -> bool:
    """True when a JSON-RPC method is named as a read (``getBlock``, ``eth_getBalance``,
    ``items.list``, ``system.describe``): a read word leads its last or only part."""
    parts = [p for p in re.split(r"[./:]", method) if p]
    if not parts:
        return False
    words = _words(parts[-1])
    if len(parts) == 1 and len(words) > 1 and words[0] in ("eth", "net", "web3", "rpc"):
        words = words[1:]  # eth_getBalance: namespace_verbNoun
    return bool(words) and (words[0] in _RPC_READ_WORDS or words[-1] in ("list", "count"))


def inner_key(protocol: str) -> str:
    """The body member that carries the caller's inputs: GraphQL variables, JSON-RPC params."""
    return "variables" if protocol == "graphql" else "params"


def tool_prefix(protocol: str) -> str:
    """The tool-name prefix of an operation of this protocol."""
    return "graphql" if protocol == "graphql" else "rpc"
