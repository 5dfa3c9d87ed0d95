"""Drive Apache Superset as a person would: log in, browse lists, create and delete things."""

from __future__ import annotations

import re
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
    """Use Superset for a few minutes' worth of ordinary work."""
    page.set_default_timeout(15000)
    parts = page.url.split("/", 3)
    root = f"{parts[0]}//{parts[2]}"

    def settle(ms: int = 2000) -> None:
        page.wait_for_timeout(ms)

    page.fill("input#username, input[name=username]", "admin")
    page.fill("input#password, input[name=password]", "admin")  # throwaway local admin
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/superset/welcome/.*|.*/dashboard/.*"))
    settle(4000)

    def visit(path: str) -> None:
        page.goto(root + path)
        settle()

    lists = (
        "/dashboard/list/",
        "/chart/list/",
        "/tablemodelview/list/",
        "/databaseview/list/",
        "/savedqueryview/list/",
        "/sqllab/history/",
        "/annotationlayer/list/",
        "/csstemplatemodelview/list/",
        "/rowlevelsecurity/list/",
        "/alert/list/",
        "/report/list/",
        "/actionlog/list/",
        "/users/list/",
        "/roles/list/",
    )
    for path in lists:
        _step(f"visit {path}", lambda p=path: visit(p))

    def new_dashboard() -> None:
        visit("/dashboard/new/")
        settle(2000)

    _step("new dashboard", new_dashboard)
    _step("new dashboard 2", new_dashboard)

    def open_dashboards() -> None:
        visit("/dashboard/list/")
        links = page.locator("a[href*='/superset/dashboard/']")
        for i in range(min(2, links.count())):
            visit(links.nth(i).get_attribute("href") or "/dashboard/list/")

    _step("open dashboards", open_dashboards)

    def search_dashboards(text: str) -> None:
        visit("/dashboard/list/")
        box = page.locator("input[placeholder*='earch' i], input[type=search]").first
        box.fill(text)
        box.press("Enter")
        settle()

    _step("search dashboards", lambda: search_dashboards("untitled"))

    def annotation_layer(name: str) -> None:
        visit("/annotationlayer/list/")
        page.locator("button:has-text('Annotation layer')").first.click()
        settle(1000)
        dialog = page.locator("[role=dialog]")
        dialog.locator("input").first.fill(name)
        dialog.locator("textarea").first.fill("releases and incidents")
        dialog.locator("button:has-text('Add')").last.click()
        settle()

    _step("add annotation layer", lambda: annotation_layer("Releases"))
    _step("add annotation layer 2", lambda: annotation_layer("Incidents"))

    def open_layer() -> None:
        visit("/annotationlayer/list/")
        page.locator("a:has-text('Releases')").first.click()
        settle()

    _step("open annotation layer", open_layer)

    def css_template(name: str) -> None:
        visit("/csstemplatemodelview/list/")
        page.locator("button:has-text('CSS template')").first.click()
        settle(1000)
        dialog = page.locator("[role=dialog]")
        dialog.locator("input").first.fill(name)
        dialog.locator("button:has-text('Add')").last.click()
        settle()

    _step("add css template", lambda: css_template("Dark"))

    def delete_first(path: str) -> None:
        visit(path)
        row = page.locator("tbody tr, [role=row]").nth(1)
        row.hover()
        row.locator("[data-test*=delete], [aria-label*=delete i], .action-button").first.click()
        settle(1000)
        confirm = page.locator("[role=dialog] input")
        if confirm.count():
            confirm.first.fill("DELETE")
        page.locator("[role=dialog] button:has-text('Delete')").last.click()
        settle()

    _step("delete annotation layer", lambda: delete_first("/annotationlayer/list/"))
    _step("delete dashboard", lambda: delete_first("/dashboard/list/"))

    def sql_lab() -> None:
        visit("/sqllab/")
        settle(3000)

    _step("sql lab", sql_lab)
    _step("welcome", lambda: visit("/superset/welcome/"))
