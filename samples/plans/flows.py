"""Python workflows over the sample apps, used by the tests, the chaos harness and the docs."""

from __future__ import annotations

import os
from typing import Any

from runtime.workflows import Compensation, WorkflowContext, workflow

__all__ = [
    "approve_then_write",
    "five_writes",
    "noop_read",
    "one_write",
    "shifting",
    "swallowing",
    "writes_then_approval",
]


@workflow
def five_writes(ctx: WorkflowContext, skus: list[str], base: int, customer: str = "chaos") -> Any:
    """Five ERP writes: stock, order, stock, order, stock (each a distinct ledger entry)."""
    out = []
    for i in range(5):
        sku = skus[i % len(skus)]
        if i % 2 == 0:
            out.append(ctx.call("erp_set_stock", sku=sku, quantity=base + i)["quantity"])
        else:
            order = ctx.call(
                "erp_create_order",
                sku=sku,
                quantity=1,
                customer=customer,
                client_ref=f"{ctx.run_id}-{i}",
            )
            out.append(order["id"])
    return out


@workflow
def approve_then_write(
    ctx: WorkflowContext, sku: str, quantity: int, timeout_s: float | None = None
) -> Any:
    """Read an item, wait for an approval (the approver may change the quantity), write."""
    before = ctx.call("erp_get_item", sku=sku)["quantity"]
    approved = ctx.approval(
        "set stock",
        message=f"set {sku} from {before} to {quantity}?",
        values={"quantity": quantity},
        timeout_s=timeout_s,
        narrow=["quantity"],
    )
    after = ctx.call("erp_set_stock", sku=sku, quantity=approved.values["quantity"])
    return {"before": before, "after": after["quantity"], "approved_by": approved.by}


@workflow
def writes_then_approval(
    ctx: WorkflowContext, skus: list[str], quantity: int, undo: bool = True
) -> Any:
    """Three compensable stock writes, then an approval gate (a rejection rolls them back)."""
    for sku in skus:
        before = ctx.call("erp_get_item", sku=sku)["quantity"]
        comp = Compensation("erp_set_stock", {"sku": "${args.sku}", "quantity": before})
        ctx.step(
            "erp_set_stock", {"sku": sku, "quantity": quantity}, compensate=comp if undo else None
        )
    ctx.approval("keep the new stock levels")
    return "kept"


@workflow
def noop_read(ctx: WorkflowContext, sku: str, n: int = 0) -> Any:
    """One read (for queue throughput tests)."""
    return {"n": n, "quantity": ctx.call("erp_get_item", sku=sku)["quantity"]}


@workflow
def shifting(ctx: WorkflowContext, sku: str) -> Any:
    """A workflow whose code changes with ``ZAPI_FLOW_TOOL`` (to test replay mismatches)."""
    ctx.call(os.environ.get("ZAPI_FLOW_TOOL", "erp_get_item"), sku=sku)
    ctx.approval("continue")
    return "done"


@workflow
def one_write(ctx: WorkflowContext, sku: str, quantity: int) -> Any:
    """One ERP stock write (for queue tests: the ledger shows each run's write once)."""
    return ctx.call("erp_set_stock", sku=sku, quantity=quantity)["quantity"]


@workflow
def swallowing(ctx: WorkflowContext, sku: str, quantity: int) -> Any:
    """Tries to swallow a rejection with ``except Exception`` (it cannot), then writes."""
    try:
        ctx.approval("set stock", values={"quantity": quantity})
    except Exception:
        pass
    return ctx.call("erp_set_stock", sku=sku, quantity=quantity)["quantity"]
