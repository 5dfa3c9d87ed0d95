"""Declarative plans (YAML/JSON): steps with tool, args, verify, compensate and approval gates."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from runtime import verify as rw_verify
from runtime.workflows.compensation import Compensation
from runtime.workflows.context import Runnable, WorkflowContext
from runtime.workflows.control import RunStopped
from runtime.workflows.definitions import Registry
from runtime.workflows.records import RunSpec
from runtime.workflows.refs import references, resolve
from zapi.errors import WorkflowError

__all__ = [
    "ApprovalGate",
    "Plan",
    "PlanDefinition",
    "PlanInput",
    "PlanStep",
    "StepVerify",
    "bind_inputs",
    "definition_for",
    "load_plan",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanInput(_Model):
    """One declared input of a plan."""

    type: Literal["string", "integer", "number", "boolean", "object", "array"] = "string"
    required: bool = True
    default: Any = None
    description: str = ""


class StepVerify(_Model):
    """Read-after-write: call ``tool`` with ``args`` and expect ``{json-pointer: value}``.

    ``args`` and ``expect`` may reference ``${args.x}`` and ``${output.y}`` of the step.
    """

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, Any]


class StepCompensate(_Model):
    """The call that undoes a step (``${args.x}``/``${output.y}`` references allowed)."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class ApprovalGate(_Model):
    """Park the run until a person approves; ``values`` may be changed by the approver.

    A changed value must match ``value_schema[name]`` when given, else the input schema of
    the later step argument that uses it (``${steps.GATE.values.NAME}``), else the proposed
    value's JSON type. Values listed in ``narrow`` may only shrink.
    """

    name: str = ""
    message: str = ""
    values: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = None
    value_schema: dict[str, dict[str, Any]] = Field(default_factory=dict)
    narrow: list[str] = Field(default_factory=list)


class PlanStep(_Model):
    """A tool call (with optional verify and compensate) or an approval gate."""

    id: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")
    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    verify: StepVerify | None = None
    compensate: StepCompensate | None = None
    approval: ApprovalGate | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PlanStep:
        if (self.tool is None) == (self.approval is None):
            raise ValueError(f"step {self.id!r}: give exactly one of 'tool' or 'approval'")
        if self.approval is not None and (self.verify or self.compensate or self.args):
            raise ValueError(f"step {self.id!r}: an approval gate takes no args/verify/compensate")
        return self


class Plan(_Model):
    """A declarative workflow: inputs, ordered steps and an optional output template."""

    schema_version: Literal["1"] = "1"
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str = ""
    inputs: dict[str, PlanInput] = Field(default_factory=dict)
    steps: list[PlanStep] = Field(min_length=1)
    output: Any = None

    @model_validator(mode="after")
    def _references(self) -> Plan:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            own = step.model_dump(include={"args", "approval"})
            _check_refs(own, self, seen, step.id, local=False)
            for extra in (step.verify, step.compensate):
                if extra is not None:
                    _check_refs(extra.model_dump(), self, seen, step.id, local=True)
            seen.add(step.id)
        _check_refs(self.output, self, seen, "output", local=False)
        return self

    def tools(self) -> list[str]:
        """Every tool the plan may call (steps, verifications, compensations)."""
        out = set()
        for s in self.steps:
            for t in (s.tool, s.verify and s.verify.tool, s.compensate and s.compensate.tool):
                if t:
                    out.add(t)
        return sorted(out)


def _check_refs(value: Any, plan: Plan, seen: set[str], where: str, *, local: bool) -> None:
    for ref in references(value):
        head, _, rest = ref.partition(".")
        if head == "inputs" and rest.split(".")[0] in plan.inputs:
            continue
        if head == "steps" and rest.split(".")[0] in seen:
            continue
        if local and head in ("args", "output"):
            continue
        raise ValueError(
            f"{where}: reference ${{{ref}}} must name a declared input (inputs.X), an earlier "
            "step (steps.ID.output / .args / .values)" + (", args.X or output.X" if local else "")
        )


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read and validate a plan file (YAML or JSON).

    Raises:
        WorkflowError: the file cannot be read or is not a valid plan.
    """
    p = os.fspath(path)
    try:
        with open(p, encoding="utf-8") as fh:
            data = json.load(fh) if p.endswith(".json") else yaml.safe_load(fh)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise WorkflowError(f"{p}: cannot read plan ({exc})", path=p) from exc
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise WorkflowError(f"{p}: plan {loc or 'document'}: {first['msg']}", path=p) from exc


_CASTS = {"integer": int, "number": float}


def bind_inputs(plan: Plan, given: Mapping[str, Any]) -> dict[str, Any]:
    """Check and convert ``given`` against the plan's declared inputs (strings from the CLI).

    Raises:
        WorkflowError: an input is missing, unknown or of the wrong type.
    """
    unknown = sorted(set(given) - set(plan.inputs))
    if unknown:
        raise WorkflowError(
            f"plan {plan.name!r} has no input {', '.join(unknown)} "
            f"(inputs: {', '.join(sorted(plan.inputs)) or 'none'})"
        )
    out: dict[str, Any] = {}
    for name, decl in plan.inputs.items():
        if name not in given:
            if decl.required and decl.default is None:
                raise WorkflowError(f"plan {plan.name!r} needs --input {name}=...")
            out[name] = decl.default
            continue
        value = given[name]
        try:
            if decl.type in _CASTS and isinstance(value, str):
                value = _CASTS[decl.type](value)
            elif decl.type == "boolean" and isinstance(value, str):
                value = {"true": True, "false": False}[value.lower()]
            elif decl.type in ("object", "array") and isinstance(value, str):
                value = json.loads(value)
        except (ValueError, KeyError) as exc:
            raise WorkflowError(f"input {name}={given[name]!r} is not a valid {decl.type}") from exc
        out[name] = value
    return out


@dataclass(frozen=True)
class PlanDefinition:
    """Runs a pinned :class:`Plan` through a :class:`WorkflowContext`."""

    plan: Plan
    compensations: Mapping[str, Compensation] = field(default_factory=dict)

    def run(self, ctx: WorkflowContext) -> Any:
        """Execute the steps in order; return the resolved ``output`` (or every step's output)."""
        scope: dict[str, Any] = {"inputs": bind_inputs(self.plan, ctx.inputs), "steps": {}}
        for step in self.plan.steps:
            if step.approval is not None:
                gate = resolve(step.approval.model_dump(), scope)
                approved = ctx.approval(
                    gate["name"] or step.id,
                    message=gate["message"],
                    values=gate["values"],
                    timeout_s=gate["timeout_s"],
                    schema={**self._used_schemas(ctx, step.id), **gate["value_schema"]},
                    narrow=gate["narrow"],
                )
                scope["steps"][step.id] = {
                    "values": dict(approved.values),
                    "by": approved.by,
                    "note": approved.decision.note,
                }
                continue
            assert step.tool is not None
            args = resolve(step.args, scope)
            comp = _compensation(step.compensate, scope, args)
            output = ctx.step(step.tool, args, name=step.id, compensate=comp)
            scope["steps"][step.id] = {"args": args, "output": output}
            if step.verify is not None:
                _verify(ctx, step.id, step.verify, {**scope, "args": args, "output": output})
        if self.plan.output is not None:
            return resolve(self.plan.output, scope)
        return {k: v.get("output", v.get("values")) for k, v in scope["steps"].items()}

    def _used_schemas(self, ctx: WorkflowContext, gate: str) -> dict[str, dict[str, Any]]:
        """``{value: schema}`` from the later step arguments that use a gate's values whole."""
        out: dict[str, dict[str, Any]] = {}
        prefix = f"${{steps.{gate}.values."
        for later in self.plan.steps:
            if later.tool is None:
                continue
            for arg, value in later.args.items():
                if isinstance(value, str) and value.startswith(prefix) and value.endswith("}"):
                    name = value[len(prefix) : -1]
                    props = (ctx.input_schema(later.tool) or {}).get("properties", {})
                    if isinstance(props.get(arg), dict):
                        out.setdefault(name, dict(props[arg]))
        return out


def _compensation(spec: StepCompensate | None, scope: dict[str, Any], args: dict[str, Any]) -> Any:
    if spec is None:
        return None

    def bind(output: Any) -> Compensation:
        return Compensation(
            spec.tool, resolve(spec.args, {**scope, "args": args, "output": output})
        )

    return bind


def _verify(ctx: WorkflowContext, step_id: str, plan: StepVerify, scope: dict[str, Any]) -> None:
    args = resolve(plan.args, scope)
    expect = resolve(plan.expect, scope)
    index = ctx.next_step()
    while True:
        record = ctx.durable_call(index, plan.tool, args, name=f"{step_id}.verify")
        mismatches = [m.model_dump(mode="json") for m in rw_verify.check(expect, record.result)]
        result = {
            "step": step_id,
            "tool": plan.tool,
            "ok": not mismatches,
            "expected": expect,
            "mismatches": mismatches,
        }
        ctx.checkpoint("zapi.verification", result)
        if not mismatches:
            return
        decision = ctx.operator_wait(
            name="verification failed",
            step=index,
            message=(
                f"step {step_id!r}: read-after-write with {plan.tool} does not show the written "
                f"values ({mismatches}). Fix the target, then `zapi runs resume {ctx.run_id}` to "
                f"verify again, or `zapi runs cancel {ctx.run_id}` to roll back"
            ),
            error={"code": "verification_failed", "expected": expect, "mismatches": mismatches},
        )
        if decision.action == "cancel":
            raise RunStopped(
                "cancelled",
                f"cancelled by {decision.by} after failed verification",
                decision=decision,
            )


def definition_for(spec: RunSpec, registry: Registry) -> Runnable:
    """The definition a run executes: its pinned plan, or a registered Python workflow.

    Raises:
        WorkflowError: the plan is invalid or the workflow is not registered.
    """
    if spec.kind == "plan":
        try:
            return PlanDefinition(Plan.model_validate(spec.plan))
        except ValidationError as exc:
            raise WorkflowError(f"run plan is invalid: {exc.errors()[0]['msg']}") from exc
    return registry.get(spec.workflow)
