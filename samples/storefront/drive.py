"""A scripted storefront session for ``zapi record --script``: sign in, refresh, pay an order."""

from __future__ import annotations

from typing import Any


def drive(page: Any) -> None:
    """Sign in as alice on the storefront's ``/`` page, keep the session, pay the pending order."""

    def status(prefix: str) -> None:
        page.wait_for_function(
            "p => document.getElementById('status').textContent.startsWith(p)", arg=prefix
        )

    page.fill("#username", "alice")
    page.fill("#password", "wonderland")
    page.click("#login-btn")
    status("Loaded")
    page.click("#refresh-btn")
    status("Refreshed")
    page.click("button.pay")
    status("Paid")
