"""Browser discovery: which Chromium to launch, and the flags an offline machine needs.

Order: ``--browser-path``, then ``$ZAPI_BROWSER``, then a system Chromium/Chrome
on ``PATH`` or in the usual install locations, then Playwright's own managed
browser; a clear error names all of them when none is found.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from zapi.errors import RecordingError

__all__ = ["BROWSER_ENV", "LAUNCH_ARGS", "BrowserChoice", "find_browser"]

BROWSER_ENV = "ZAPI_BROWSER"
"""Environment variable naming the browser executable (second discovery step)."""

LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-breakpad",
    "--disable-domain-reliability",
    "--metrics-recording-only",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
)
"""Chromium flags for a locked-down, offline machine: no background traffic to Google."""

_PATH_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_LOCATIONS = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/lib/chromium/chromium",
    "/snap/bin/chromium",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/opt/google/chrome/chrome",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Google\Chrome\Application\chrome.exe",
)


@dataclass(frozen=True)
class BrowserChoice:
    """Which browser to launch and how it was found.

    Attributes:
        path: the executable, or ``None`` for Playwright's own managed Chromium.
        source: ``--browser-path``, ``ZAPI_BROWSER``, ``system`` or ``playwright``.
    """

    path: str | None
    source: str


def find_browser(
    browser_path: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    search_path: str | None = None,
    locations: Sequence[str] = _LOCATIONS,
    managed: bool = True,
) -> BrowserChoice:
    """Find a Chromium: the given path, ``$ZAPI_BROWSER``, a system one, or Playwright's.

    Args:
        browser_path: an explicit executable (``--browser-path``).
        environ: where to read ``ZAPI_BROWSER``; ``os.environ`` when ``None``.
        search_path: the ``PATH`` to search; ``environ["PATH"]`` when ``None``.
        locations: the usual install locations to try after ``PATH``.
        managed: also accept Playwright's managed browser (``playwright install chromium``).

    Raises:
        RecordingError: the given path does not exist, or no browser was found;
            the message names all three ways to provide one.
    """
    env = os.environ if environ is None else environ
    for given, source in ((browser_path, "--browser-path"), (env.get(BROWSER_ENV), BROWSER_ENV)):
        if given:
            if os.path.isfile(given) and os.access(given, os.X_OK):
                return BrowserChoice(given, source)
            raise RecordingError(
                f"browser from {source} not found or not executable: {given}; "
                "fix the path or leave it unset to search for a system Chromium",
                browser_path=given,
            )
    path_value = env.get("PATH", "") if search_path is None else search_path
    for name in _PATH_NAMES:
        hit = shutil.which(name, path=path_value)
        if hit:
            return BrowserChoice(hit, "system")
    for loc in locations:
        if os.path.isfile(loc) and os.access(loc, os.X_OK):
            return BrowserChoice(loc, "system")
    if managed and _managed_browser_exists():
        return BrowserChoice(None, "playwright")
    raise RecordingError(
        "no Chromium/Chrome browser found. Provide one of: (1) --browser-path PATH "
        f"(browser_path= in Python), (2) the {BROWSER_ENV}=PATH environment variable, "
        "(3) a system Chromium/Chrome on PATH or in the usual install location, or "
        "Playwright's managed browser via `playwright install chromium`"
    )


def _managed_browser_exists() -> bool:
    try:
        with sync_playwright() as pw:
            path = pw.chromium.executable_path
    except PlaywrightError:
        return False
    return bool(path) and os.path.isfile(path)
