"""``zapi demo``: sign in to the ERP sample, update stock with verification, show the log."""

from __future__ import annotations

from typing import Any

import httpx

from runtime import ActionLog, Runtime
from toolgen.cards import ToolCard, load_cards
from zapi.errors import ExecutionError, ToolCardError

__all__ = ["demo_call"]


def _stock_tool(cards: dict[str, ToolCard]) -> ToolCard:
    for card in cards.values():
        if card.method == "PUT" and card.path.rstrip("/").endswith("/stock"):
            return card
    raise ToolCardError("no stock-update tool (PUT .../stock) among the cards; record one")


def _args(card: ToolCard, sku: str, quantity: int) -> dict[str, Any]:
    args: dict[str, Any] = {}
    props = card.input_schema.get("properties", {})
    for name in card.input_schema.get("required", []):
        examples = props.get(name, {}).get("examples") or ["zapi demo"]
        args[name] = examples[0]
    for b in card.bindings:
        if b.location == "path":
            args[b.arg] = sku
    args["quantity"] = quantity
    return args


def demo_call(
    out_dir: str,
    base_url: str,
    *,
    username: str = "alice",
    password: str = "wonderland",
    sku: str = "A-1",
    quantity: int = 42,
    state: str | None = None,
) -> str:
    """Sign in to the ERP sample at ``base_url`` and set one item's stock through the tools.

    Returns:
        A printable summary: the result, its verification and the action log records.

    Raises:
        ToolCardError: the folder has no stock-update tool.
        ExecutionError: the login or the call failed.
    """
    cards = load_cards(out_dir)
    card = _stock_tool(cards)
    with httpx.Client(timeout=10.0) as client:
        login = client.post(
            base_url.rstrip("/") + "/login", data={"username": username, "password": password}
        )
        if login.status_code >= 400:
            raise ExecutionError(f"login to {base_url} failed with status {login.status_code}")
        rt = Runtime(cards, client=client, log=ActionLog.open(state), base_url=base_url)
        try:
            result = rt.call(card.name, **_args(card, sku, quantity))
            records = rt.log.records()
            chain = rt.log.verify()
        finally:
            rt.close()
    lines = [
        f"{card.name}({', '.join(f'{k}={v!r}' for k, v in sorted(result.args.items()))})"
        f" -> status {result.status}, verified: "
        f"{result.verification.ok if result.verification else 'n/a'}"
    ]
    for rec in records:
        ev = rec.event
        extra = getattr(ev, "status", None) or getattr(ev, "url", "")
        lines.append(f"  #{rec.seq:<3} {ev.kind:<17} {ev.tool:<20} {ev.code:<10} {extra}")
    lines.append(
        f"action log chain: {'intact' if chain.ok else chain.reason} ({chain.checked} records)"
    )
    return "\n".join(lines)
