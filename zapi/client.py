"""``ZAPI``: the Python entry point — record a browser session, then build tools from it.

Everything runs locally; nothing is uploaded anywhere::

    from zapi import ZAPI

    with ZAPI() as z:
        with z.launch_browser(url="http://127.0.0.1:8001/login", headless=True) as session:
            session.page.fill("#username", "alice")
            ...
            session.dump_logs("erp_update.har")
        result = z.build_tools("erp_update.har", "out/")

The constructor stores settings only: no I/O, no environment reads or writes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from zapi.api import AnalyzeResult
    from zapi.recorder import BrowserSession

__all__ = ["ZAPI"]


class ZAPI:
    """Record sessions and turn HAR files into tool cards, OpenAPI and a report.

    Args:
        browser_path: the Chromium/Chrome to launch; when ``None`` it is found
            through ``$ZAPI_BROWSER``, then ``PATH`` and the usual install
            locations, then Playwright's managed browser.
        redact: scrub secrets from HARs and artifacts (the default).
    """

    def __init__(self, *, browser_path: str | None = None, redact: bool = True) -> None:
        """Store settings; launches nothing."""
        self.browser_path = browser_path
        self.redact = redact
        self._sessions: list[BrowserSession] = []

    def launch_browser(
        self,
        url: str,
        *,
        headless: bool = False,
        storage_state: str | None = None,
        headers: dict[str, str] | None = None,
        cookies: dict[str, str] | None = None,
        bearer_token: str | None = None,
        include_hosts: Sequence[str] = (),
        exclude_hosts: Sequence[str] = (),
        timeout_s: float | None = None,
    ) -> BrowserSession:
        """Open Chromium on ``url`` and start recording.

        Script it through ``session.page`` (a Playwright page), then call
        ``session.dump_logs(path)`` and ``session.close()`` (or use ``with``).

        Args:
            url: the page to open; its origin receives ``headers``/``bearer_token``.
            headless: run without a window.
            storage_state: a saved Playwright storage state to start logged in.
            headers: extra headers for the target origin only.
            cookies: cookies to set on the target origin.
            bearer_token: sent as ``Authorization: Bearer ...`` to the target origin only.
            include_hosts: keep only these hosts in the HAR (globs).
            exclude_hosts: drop these hosts from the HAR (globs).
            timeout_s: default timeout for Playwright actions and waits.

        Raises:
            RecordingError: no browser was found, it failed to start, or ``url`` did not load.
        """
        from zapi.recorder import RecordOptions, launch_browser

        options = RecordOptions(
            headless=headless,
            browser_path=self.browser_path,
            timeout_s=timeout_s,
            storage_state=storage_state,
            headers=tuple((headers or {}).items()),
            cookies=tuple((cookies or {}).items()),
            bearer_token=bearer_token,
            include_hosts=tuple(include_hosts),
            exclude_hosts=tuple(exclude_hosts),
            redact=self.redact,
        )
        session = launch_browser(url, options)
        self._sessions.append(session)
        return session

    def build_tools(
        self,
        har_paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        out_dir: str | os.PathLike[str],
        **options: Any,
    ) -> AnalyzeResult:
        """Analyze HAR files locally into ``openapi.json``, ``cards/`` and ``report.md``.

        Args:
            har_paths: one HAR (or folder of HARs) or several.
            out_dir: the output folder.
            **options: passed to :func:`zapi.api.analyze` (``include_hosts``,
                ``exclude_hosts``, ``rules``, ``progress``).

        Raises:
            HarError: a HAR cannot be read.
            AnalysisError: no API operation was found.
            SpecValidationError: the OpenAPI document would be invalid.
        """
        from zapi.api import analyze

        paths = [har_paths] if isinstance(har_paths, str | os.PathLike) else list(har_paths)
        options.setdefault("redact", self.redact)
        return analyze([os.fspath(p) for p in paths], os.fspath(out_dir), **options)

    def upload_har(
        self,
        har_paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        out_dir: str | os.PathLike[str] = "zapi-out",
        **options: Any,
    ) -> AnalyzeResult:
        """Alias of :meth:`build_tools` kept for older scripts: it analyzes locally.

        Nothing is uploaded anywhere; the result is written to ``out_dir``.
        """
        return self.build_tools(har_paths, out_dir, **options)

    def close(self) -> None:
        """Close every browser this object launched (idempotent)."""
        sessions, self._sessions = self._sessions, []
        for s in sessions:
            s.close()

    def __enter__(self) -> Self:
        """Return this object."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the browsers this object launched."""
        self.close()
