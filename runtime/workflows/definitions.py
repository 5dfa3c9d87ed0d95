"""Python workflow definitions: the ``@workflow`` decorator and the registry it fills."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from runtime.workflows.compensation import Compensation
from runtime.workflows.context import WorkflowContext
from zapi.errors import WorkflowError

__all__ = ["DEFAULT_REGISTRY", "Definition", "Registry", "resolve_target", "workflow"]

WorkflowFn = Callable[..., Any]


@dataclass(frozen=True)
class Definition:
    """A registered workflow: ``fn(ctx, **inputs)`` plus per-tool compensations."""

    name: str
    fn: WorkflowFn
    compensations: Mapping[str, Compensation] = field(default_factory=dict)

    def run(self, ctx: WorkflowContext) -> Any:
        """Call the function with the run's inputs."""
        return self.fn(ctx, **ctx.inputs)


class Registry:
    """Named workflow definitions a worker can run."""

    def __init__(self) -> None:
        """An empty registry."""
        self._defs: dict[str, Definition] = {}

    def add(self, definition: Definition) -> None:
        """Register ``definition`` (re-registering the same function is allowed).

        Raises:
            ValueError: another function already has this name.
        """
        old = self._defs.get(definition.name)
        if old is not None and old.fn.__qualname__ != definition.fn.__qualname__:
            raise ValueError(f"workflow {definition.name!r} is already registered")
        self._defs[definition.name] = definition

    def get(self, name: str) -> Definition:
        """The definition named ``name``.

        Raises:
            WorkflowError: nothing is registered under ``name`` in this worker.
        """
        try:
            return self._defs[name]
        except KeyError:
            raise WorkflowError(
                f"workflow {name!r} is not registered in this worker; start the worker with "
                "the module that defines it (--module)",
                workflow=name,
            ) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._defs)


DEFAULT_REGISTRY = Registry()


def resolve_target(target: str, registry: Registry = DEFAULT_REGISTRY) -> tuple[str, str]:
    """``MODULE:FUNCTION`` of a ``@workflow`` -> (module, registered workflow name).

    The module is imported from the current directory too (a worker process started
    here imports it the same way).

    Raises:
        WorkflowError: the target is not ``MODULE:FUNCTION``, cannot be imported, or is
            not decorated with ``@workflow``.
    """
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise WorkflowError(
            f"{target!r}: no such plan file; give a YAML/JSON plan or MODULE:FUNCTION of a "
            "@workflow (e.g. myflows:restock)"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise WorkflowError(f"{target!r}: cannot import the workflow ({exc})") from exc
    for name in registry.names():
        if registry.get(name).fn is fn:
            return module, name
    raise WorkflowError(f"{target!r} is not decorated with @workflow")


@overload
def workflow(fn: WorkflowFn, /) -> WorkflowFn: ...


@overload
def workflow(
    *,
    name: str | None = None,
    compensations: Mapping[str, Compensation] | None = None,
    registry: Registry | None = None,
) -> Callable[[WorkflowFn], WorkflowFn]: ...


def workflow(
    fn: WorkflowFn | None = None,
    /,
    *,
    name: str | None = None,
    compensations: Mapping[str, Compensation] | None = None,
    registry: Registry | None = None,
) -> WorkflowFn | Callable[[WorkflowFn], WorkflowFn]:
    """Register ``fn(ctx, **inputs)`` as a durable workflow.

    ``compensations`` maps a tool to the call that undoes it, e.g.
    ``{"add_group_member": Compensation("remove_group_member", {"group": "${args.group}"})}``.

    Example::

        @workflow
        def onboard(ctx, user):
            ctx.call("add_group_member", group="staff", user=user)
    """

    def register(f: WorkflowFn) -> WorkflowFn:
        (registry or DEFAULT_REGISTRY).add(
            Definition(name or f.__name__, f, dict(compensations or {}))
        )
        return f

    return register(fn) if fn is not None else register
