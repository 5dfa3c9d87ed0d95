"""The seeded product catalogue shared by the ERP (items) and the storefront (products)."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["CatalogEntry", "catalog"]

_CATEGORIES = {"A": "tools", "B": "hardware", "C": "garden", "D": "electrical"}
_PER_CATEGORY = 10
_ADJECTIVES = (
    "Steel",
    "Brass",
    "Compact",
    "Heavy-Duty",
    "Folding",
    "Cordless",
    "Galvanised",
    "Precision",
    "Weatherproof",
    "Modular",
)
_NOUNS = (
    "Bracket",
    "Hinge",
    "Wrench",
    "Clamp",
    "Trowel",
    "Lantern",
    "Socket Set",
    "Hose Reel",
    "Drill Bit",
    "Padlock",
    "Shelf",
    "Cable Tie",
)


@dataclass(frozen=True)
class CatalogEntry:
    """One product line: the ERP knows it by ``sku``, the storefront also sells it."""

    sku: str
    name: str
    category: str
    price_cents: int


def catalog(seed: int) -> list[CatalogEntry]:
    """Return the 40-entry catalogue (SKUs ``A-1`` … ``D-10``) for ``seed``, deterministically."""
    rng = random.Random(f"catalog-{seed}")
    names = rng.sample([f"{adj} {noun}" for adj in _ADJECTIVES for noun in _NOUNS], 40)
    entries: list[CatalogEntry] = []
    for letter, category in _CATEGORIES.items():
        for number in range(1, _PER_CATEGORY + 1):
            entries.append(
                CatalogEntry(
                    sku=f"{letter}-{number}",
                    name=names[len(entries)],
                    category=category,
                    price_cents=rng.randint(199, 19999),
                )
            )
    return entries
