"""Argument validation against a card's input schema, with one-line errors naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

from toolgen.cards import ToolCard
from zapi.errors import InvalidArguments

__all__ = ["Validators"]


class Validators:
    """Compiled input-schema validators, one per card name (compiled on first use)."""

    def __init__(self) -> None:
        """Start with none compiled."""
        self._by_name: dict[str, jsonschema.protocols.Validator] = {}

    def check(self, card: ToolCard, args: Mapping[str, Any]) -> None:
        """Refuse arguments that do not match ``card.input_schema``.

        Raises:
            InvalidArguments: the first (best) error, naming the argument; nothing was sent.
        """
        validator = self._by_name.get(card.name)
        if validator is None:
            cls = jsonschema.validators.validator_for(
                card.input_schema, default=jsonschema.Draft202012Validator
            )
            validator = cls(card.input_schema)
            self._by_name[card.name] = validator
        error = jsonschema.exceptions.best_match(validator.iter_errors(dict(args)))
        if error is None:
            return
        where = "/".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            missing = [r for r in error.validator_value if r not in (error.instance or {})]
            msg, fld = f"missing required argument {missing[0]!r}", missing[0]
        elif error.validator == "additionalProperties":
            extra = sorted(set(error.instance or {}) - set(card.input_schema.get("properties", {})))
            msg, fld = f"unknown argument {extra[0]!r}", extra[0]
        else:
            fld = where or "(arguments)"
            msg = f"argument {fld!r}: {error.message}"
        raise InvalidArguments(
            f"{card.name}: {msg}; see `zapi tools` for the schema", tool=card.name, field=fld
        )
