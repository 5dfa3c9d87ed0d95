"""Compensations: the call that undoes a step, and the committed steps a rollback walks back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.workflows.refs import resolve

__all__ = ["Committed", "Compensation"]


@dataclass(frozen=True)
class Compensation:
    """Undo a step by calling ``tool`` with ``args``.

    ``args`` values may reference the step's own arguments and result: ``${args.group}``,
    ``${output.id}`` (resolved when the step has committed).
    """

    tool: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def bind(self, args: Mapping[str, Any], output: Any) -> Compensation:
        """This compensation with references to the step's ``args`` and ``output`` resolved."""
        scope = {"args": dict(args), "output": output}
        return Compensation(self.tool, resolve(dict(self.args), scope))


@dataclass(frozen=True)
class Committed:
    """A step that committed, with its bound compensation (``None``: none declared)."""

    step: int
    tool: str
    name: str
    is_write: bool
    compensation: Compensation | None
