"""Tool cards as the console shows them: schemas, safety, verification plan and evidence."""

from __future__ import annotations

import os
from typing import Any

from toolgen.cards import ToolCard, load_cards

__all__ = ["card_view", "input_schemas", "load_tool_cards"]


def load_tool_cards(folder: str | os.PathLike[str] | None) -> dict[str, ToolCard]:
    """The cards of an analyzer output folder (none without a folder).

    Raises:
        ToolCardError: the folder holds no readable cards.
    """
    return load_cards(folder) if folder else {}


def input_schemas(cards: dict[str, ToolCard]) -> dict[str, dict[str, Any]]:
    """Tool name -> input schema (what approval values that feed a tool must meet)."""
    return {name: card.input_schema for name, card in cards.items()}


def card_view(card: ToolCard) -> dict[str, Any]:
    """One card as plain data for the tools page."""
    return {
        "name": card.name,
        "description": card.description,
        "method": card.method,
        "origin": card.origin,
        "path": card.path,
        "protocol": card.protocol,
        "safety": card.safety,
        "safety_reasons": list(card.safety_reasons),
        "confidence": card.confidence,
        "reasons": list(card.reasons),
        "input_schema": card.input_schema,
        "output_schema": card.output_schema,
        "args": sorted((card.input_schema.get("properties") or {}).keys()),
        "required": sorted(card.input_schema.get("required") or []),
        "verification": card.verification.model_dump(mode="json") if card.verification else None,
        "reconcile": card.reconcile.model_dump(mode="json") if card.reconcile else None,
        "idempotency": card.idempotency.model_dump(mode="json"),
        "responses": dict(card.responses),
        "auth": list(card.auth),
        "login": card.login is not None,
        "fixed": [f.model_dump(mode="json") for f in card.fixed],
        "provenance": {
            "sources": dict(card.provenance.sources),
            "samples": card.provenance.samples,
            "ui_actions": dict(card.provenance.ui_actions),
        },
    }
