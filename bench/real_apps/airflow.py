"""Drive the Airflow UI as a person would: dags, runs, trigger, pause, pools, variables, search."""

from __future__ import annotations

import sys
from typing import Any


def _step(name: str, fn: Any) -> None:
    """Run one UI step; a step the UI does not offer is reported and skipped, never fatal."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - a drive script keeps going; the report says why
        first = str(exc).splitlines()[0][:160] if str(exc) else ""
        print(f"drive: step {name!r} skipped: {type(exc).__name__}: {first}", file=sys.stderr)


def drive(page: Any) -> None:
    """Use Airflow for a few minutes' worth of ordinary work (no login: all-admins mode)."""
    page.set_default_timeout(10000)
    parts = page.url.split("/", 3)
    root = f"{parts[0]}//{parts[2]}"

    def settle(ms: int = 2000) -> None:
        page.wait_for_timeout(ms)

    def visit(path: str) -> None:
        page.goto(root + path)
        settle()

    settle(3000)
    for path in (
        "/dags",
        "/dag_runs",
        "/task_instances",
        "/assets",
        "/events",
        "/xcoms",
        "/pools",
        "/variables",
        "/connections",
        "/plugins",
        "/providers",
        "/configs",
    ):
        _step(f"visit {path}", lambda p=path: visit(p))

    def search_dags(text: str) -> None:
        visit("/dags")
        box = page.locator("input[placeholder*='earch' i]").first
        box.fill(text)
        settle()

    _step("search dags", lambda: search_dags("bash"))
    _step("search dags 2", lambda: search_dags("python"))

    def open_dag(dag_id: str) -> None:
        visit(f"/dags/{dag_id}")
        for tab in ("Runs", "Tasks", "Events", "Code", "Details"):
            page.locator(f"a:has-text('{tab}'), button:has-text('{tab}')").first.click()
            settle(1500)

    for dag in ("example_bash_operator", "tutorial", "example_python_operator"):
        _step(f"open dag {dag}", lambda d=dag: open_dag(d))

    def toggle_pause(dag_id: str) -> None:
        visit(f"/dags/{dag_id}")
        page.locator(
            "[role=switch], input[type=checkbox] + span, button[aria-label*=ause i]"
        ).first.click()
        settle()

    _step("unpause dag", lambda: toggle_pause("example_bash_operator"))

    def trigger(dag_id: str) -> None:
        visit(f"/dags/{dag_id}")
        page.locator("button:has-text('Trigger')").first.click()
        settle(1500)
        page.locator("[role=dialog] button:has-text('Trigger')").last.click()
        settle(3000)

    _step("trigger dag", lambda: trigger("example_bash_operator"))
    _step("trigger dag 2", lambda: trigger("tutorial"))

    def open_run() -> None:
        visit("/dags/example_bash_operator/runs")
        link = page.locator("a[href*='/runs/']").first
        link.click()
        settle()
        task = page.locator("a[href*='/tasks/']").first
        task.click()
        settle()

    _step("open run", open_run)

    def add_pool(name: str) -> None:
        visit("/pools")
        page.locator("button:has-text('Add Pool')").first.click()
        settle(1000)
        dialog = page.locator("[role=dialog]")
        dialog.locator("input").first.fill(name)
        dialog.locator("button:has-text('Save')").last.click()
        settle()

    _step("add pool", lambda: add_pool("reports"))

    def add_variable(key: str, value: str) -> None:
        visit("/variables")
        page.locator("button:has-text('Add Variable')").first.click()
        settle(1000)
        dialog = page.locator("[role=dialog]")
        dialog.locator("input").first.fill(key)
        dialog.locator("textarea, input").nth(1).fill(value)
        dialog.locator("button:has-text('Save')").last.click()
        settle()

    _step("add variable", lambda: add_variable("warehouse_schema", "analytics"))
    _step("add variable 2", lambda: add_variable("report_owner", "ada"))

    def delete_variable(key: str) -> None:
        visit("/variables")
        row = page.locator(f"tr:has-text('{key}')")
        row.locator("button[aria-label*=elete i], button:has-text('Delete')").first.click()
        settle(1000)
        page.locator(
            "[role=dialog] button:has-text('Delete'), [role=alertdialog] button:has-text('Yes')"
        ).last.click()
        settle()

    _step("delete variable", lambda: delete_variable("report_owner"))
    _step("home", lambda: visit("/"))
