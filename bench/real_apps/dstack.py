"""Drive dstack's control plane as a person would: log in, browse, add projects and users."""

from __future__ import annotations

import sys
from typing import Any

# The throwaway admin token the bench starts the local server with (bench/real_apps.py).
TOKEN = "5b1f0c2e-0d7a-4c1e-9d7e-2f6a1b3c4d5e"


def _step(name: str, fn: Any) -> None:
    """Run one UI step; a step the UI does not offer is reported and skipped, never fatal."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - a drive script keeps going; the report says why
        first = str(exc).splitlines()[0][:160] if str(exc) else ""
        print(f"drive: step {name!r} skipped: {type(exc).__name__}: {first}", file=sys.stderr)


def drive(page: Any) -> None:
    """Use the control plane for a few minutes' worth of ordinary admin work."""
    page.set_default_timeout(8000)
    page.wait_for_selector("input[name=token]")
    page.fill("input[name=token]", TOKEN)
    page.click("button:has-text('Continue')")
    page.wait_for_url("**/runs")
    base = page.url.rsplit("/runs", 1)[0]
    settle = lambda: page.wait_for_timeout(1200)  # noqa: E731

    def visit(path: str) -> None:
        page.goto(base + path)
        settle()

    for path in ("/offers", "/fleets", "/instances", "/volumes", "/models", "/projects"):
        _step(f"open {path}", lambda p=path: visit(p))

    def add_project(name: str) -> None:
        visit("/projects/add")
        page.fill("input[name=project_name]", name)
        page.click("button:has-text('Next')")
        settle()
        page.click("button:has-text('Next')")
        settle()
        page.click("button:has-text('Create')")
        page.wait_for_url(f"**/projects/{name}")
        settle()

    for project in ("research", "staging"):
        _step(f"add project {project}", lambda n=project: add_project(n))

    def add_user(name: str) -> None:
        visit("/users/add")
        page.fill("input[name=username]", name)
        page.fill("input[name=email]", f"{name}@example.org")
        page.click("button:has-text('Save')")
        page.wait_for_url(f"**/users/{name}")
        settle()

    for user in ("ada", "grace", "linus"):
        _step(f"add user {user}", lambda n=user: add_user(n))

    for path in ("/users", "/users/admin", "/users/ada", "/projects/main", "/projects/research"):
        _step(f"open {path}", lambda p=path: visit(p))

    def delete_row(listing: str, name: str) -> None:
        visit(listing)
        row = page.locator("tr", has_text=name).first
        row.locator("input[type=checkbox]").first.check(force=True)
        page.click("button:has-text('Delete')")
        settle()
        page.locator("[role=dialog] button:has-text('Delete')").last.click()
        settle()

    _step("delete project staging", lambda: delete_row("/projects", "staging"))
    _step("delete user linus", lambda: delete_row("/users", "linus"))
    for path in ("/runs", "/projects", "/users"):
        _step(f"back to {path}", lambda p=path: visit(p))
