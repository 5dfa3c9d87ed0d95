"""The operator console: a local web app to watch runs and the action log and to decide runs.

Serve it with ``zapi console``; from Python::

    from runtime.console import ConsoleConfig, create_app
    app = create_app(ConsoleConfig(database_url="sqlite:///runs.db", state="zapi.db"))
"""

from __future__ import annotations

from runtime.console.app import ConsoleConfig, create_app, render_page
from runtime.console.security import TOKEN_ENV, check_bind, is_loopback

__all__ = ["TOKEN_ENV", "ConsoleConfig", "check_bind", "create_app", "is_loopback", "render_page"]
