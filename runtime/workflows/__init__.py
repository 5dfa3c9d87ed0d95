"""Durable workflows on DBOS Transact: Python ``@workflow``\\s and YAML/JSON plans.

User code depends on this package only, never on DBOS::

    from runtime.workflows import workflow

    @workflow
    def sync(ctx, order_id):
        order = ctx.call("shop_get_order", order_id=order_id)
        ctx.approval("push stock", values={"quantity": order["items"][0]["quantity"]})
"""

from __future__ import annotations

from runtime.workflows.approvals import Approval
from runtime.workflows.client import RunInfo, RunsClient
from runtime.workflows.compensation import Compensation
from runtime.workflows.context import WorkflowContext
from runtime.workflows.control import RunStopped
from runtime.workflows.definitions import DEFAULT_REGISTRY, Registry, workflow
from runtime.workflows.engine import Engine, EngineConfig, app_version_for
from runtime.workflows.permissions import Grant, Policy, load_policy
from runtime.workflows.plan import Plan, bind_inputs, load_plan
from runtime.workflows.records import Decision, RunSpec, RunState, StepRecord
from runtime.workflows.runner import Landed, NotLanded, ToolInfo, ToolRunner
from runtime.workflows.worker import WorkerConfig, spawn_worker, wait_ready

__all__ = [
    "DEFAULT_REGISTRY",
    "Approval",
    "Compensation",
    "Decision",
    "Engine",
    "EngineConfig",
    "Grant",
    "Landed",
    "NotLanded",
    "Plan",
    "Policy",
    "Registry",
    "RunInfo",
    "RunSpec",
    "RunStopped",
    "RunState",
    "RunsClient",
    "StepRecord",
    "ToolInfo",
    "ToolRunner",
    "WorkerConfig",
    "WorkflowContext",
    "app_version_for",
    "bind_inputs",
    "load_plan",
    "load_policy",
    "spawn_worker",
    "wait_ready",
    "workflow",
]
