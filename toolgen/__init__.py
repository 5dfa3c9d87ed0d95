"""Tool cards, the OpenAPI emitter and the renderers built from an analysis."""

from toolgen.cards import (
    SCHEMA_VERSION,
    Binding,
    Idempotency,
    Provenance,
    Reconcile,
    ToolCard,
    Verification,
    load_card,
    load_cards,
)

__all__ = [
    "SCHEMA_VERSION",
    "Binding",
    "Idempotency",
    "Provenance",
    "Reconcile",
    "ToolCard",
    "Verification",
    "load_card",
    "load_cards",
]
