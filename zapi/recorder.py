"""The recorder: drive a Chromium with Playwright and capture a complete, redacted HAR.

The HAR is built from the browser's own request events rather than
Playwright's ``record_har_path`` (which has been seen to drop request bodies
of PUT saves and uploads).  A pass-through route on the context makes
Chromium expose every request body, including multipart file uploads, and
injects ``--bearer-env``/``--header`` credentials on the target origin only.
UI actions arrive through an init script and a page binding (see
:mod:`zapi.ui_actions`).  Playwright exceptions become
:class:`~zapi.errors.RecordingError` here and nowhere else.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Request,
    Route,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from zapi.browser import BROWSER_ENV, LAUNCH_ARGS, BrowserChoice, find_browser
from zapi.errors import RecordingError
from zapi.har_writer import (
    Exchange,
    RecordingSummary,
    atomic_write_bytes,
    build_har,
)
from zapi.redact import Redactor
from zapi.ui_actions import BINDING_NAME, INIT_SCRIPT, UiAction, build_sidecar

__all__ = [
    "BROWSER_ENV",
    "LAUNCH_ARGS",
    "BrowserChoice",
    "BrowserSession",
    "RecordOptions",
    "find_browser",
    "interactive_stdin",
    "launch_browser",
    "load_script",
    "parse_cookie",
    "parse_header",
    "record",
]

_SETTLE_S = 5.0  # how long to wait for in-flight requests when a session ends
_UNFINISHED = "no response before the recording ended"


# -- options ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordOptions:
    """How to launch and scope a recording (all fields optional).

    Attributes:
        headless: run without a window.
        browser_path: executable to use (see :func:`find_browser`).
        timeout_s: end an interactive session after this long; also the default
            timeout of Playwright actions in scripts (capped at 30 s).
        storage_state: Playwright storage-state JSON to start logged in.
        headers: extra ``(name, value)`` headers, sent to the target origin only.
        cookies: ``(name, value)`` cookies set on the target origin.
        bearer_token: sent as ``Authorization: Bearer ...`` to the target origin only.
        include_hosts: keep only these hosts in the HAR (globs).
        exclude_hosts: drop these hosts from the HAR (globs).
        redact: scrub secrets when writing (``False`` only with ``--no-redact``).
        window_ms: how long after a UI action a request is attributed to it.
        extra_args: more Chromium flags.
    """

    headless: bool = False
    browser_path: str | None = None
    timeout_s: float | None = None
    storage_state: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[tuple[str, str], ...] = ()
    bearer_token: str | None = None
    include_hosts: tuple[str, ...] = ()
    exclude_hosts: tuple[str, ...] = ()
    redact: bool = True
    window_ms: float = 2000.0
    extra_args: tuple[str, ...] = ()


def parse_header(text: str) -> tuple[str, str]:
    """``'Name: value'`` → ``('Name', 'value')``.

    Raises:
        ValueError: there is no colon or no name.
    """
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"header must look like 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def parse_cookie(text: str) -> tuple[str, str]:
    """``'name=value'`` → ``('name', 'value')``.

    Raises:
        ValueError: there is no ``=`` or no name.
    """
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"cookie must look like 'name=value', got {text!r}")
    return name.strip(), value.strip()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


# -- capture ---------------------------------------------------------------------------


@dataclass
class _Pending:
    exchange: Exchange
    done: bool = False


@dataclass
class _Capture:
    """Event handlers that turn Playwright requests into :class:`Exchange` records."""

    target_origin: str
    inject: dict[str, str]
    redactor: Redactor
    exchanges: list[Exchange] = field(default_factory=list)
    pending: dict[Request, _Pending] = field(default_factory=dict)
    actions: list[UiAction] = field(default_factory=list)
    pages: dict[Page, tuple[str, str, float]] = field(default_factory=dict)
    open_pages: int = 0
    closed: bool = False

    def on_page(self, page: Page) -> None:
        self.pages[page] = (f"page_{len(self.pages) + 1}", page.url, time.time() * 1000.0)
        self.open_pages += 1
        page.on("close", self.on_page_close)

    def on_page_close(self, page: Page) -> None:
        self.open_pages -= 1
        if self.open_pages <= 0:
            self.closed = True

    def on_close(self, *_: object) -> None:
        self.closed = True

    def _page_ref(self, request: Request) -> str:
        try:
            page = request.frame.page
        except PlaywrightError:  # service-worker requests have no frame
            return ""
        info = self.pages.get(page)
        if info is None:
            return ""
        pid, url, at = info
        if request.is_navigation_request() and (not url or url == "about:blank"):
            self.pages[page] = (pid, request.url, at)
        return pid

    def on_request(self, request: Request) -> None:
        ex = Exchange(
            started_ms=time.time() * 1000.0,
            method=request.method,
            url=request.url,
            resource_type=request.resource_type,
            request_body=request.post_data_buffer,
            page_ref=self._page_ref(request),
        )
        self.pending[request] = _Pending(ex)

    def on_route(self, route: Route) -> None:
        request = route.request
        pend = self.pending.get(request)
        if pend is not None and pend.exchange.request_body is None:
            pend.exchange.request_body = request.post_data_buffer
        try:
            if self.inject and _origin(request.url) == self.target_origin:
                route.continue_(headers={**request.headers, **self.inject})
            else:
                route.continue_()
        except PlaywrightError:  # the page went away while the request was paused
            return

    def on_finished(self, request: Request) -> None:
        self._complete(request, "")

    def on_failed(self, request: Request) -> None:
        self._complete(request, request.failure or "failed")

    def _complete(self, request: Request, failure: str) -> None:
        pend = self.pending.pop(request, None)
        if pend is None:
            pend = _Pending(
                Exchange(
                    time.time() * 1000.0,
                    request.method,
                    request.url,
                    resource_type=request.resource_type,
                )
            )
        ex = pend.exchange
        ex.failure = failure
        try:
            self._fill(request, ex)
        except PlaywrightError as exc:  # browser gone mid-read: keep what we have
            ex.response_body_note = f"not captured: {exc.message.splitlines()[0]}"
        self.exchanges.append(ex)

    def _fill(self, request: Request, ex: Exchange) -> None:
        if ex.request_body is None:
            ex.request_body = request.post_data_buffer
        ex.request_headers = [(h["name"], h["value"]) for h in request.headers_array()]
        if ex.request_body is None and _declares_body(ex.request_headers):
            ex.body_missing = True
        timing = request.timing
        start = timing.get("startTime", -1)
        if start and start > 0:
            ex.started_ms = float(start)
        ex.timings = _har_timings(timing)
        response = request.response()
        if response is None:
            return
        ex.status = response.status
        ex.status_text = response.status_text
        ex.response_headers = [(h["name"], h["value"]) for h in response.headers_array()]
        if 300 <= ex.status < 400 or ex.failure:
            return
        try:
            ex.response_body = response.body()
        except PlaywrightError as exc:
            ex.response_body_note = f"body not available: {exc.message.splitlines()[0]}"

    def on_action(self, source: Any, payload: Any) -> None:
        if isinstance(payload, dict):
            action = UiAction.from_payload(payload, self.redactor)
            if action is not None:
                self.actions.append(action)

    def snapshot(self) -> list[Exchange]:
        """Finished exchanges plus those still waiting, marked unfinished."""
        out = list(self.exchanges)
        for request, pend in self.pending.items():
            ex = pend.exchange
            ex.failure = _UNFINISHED
            if ex.request_body is None:
                ex.request_body = request.post_data_buffer
            if not ex.request_headers:  # the headers the page asked for: the writer needs the type
                ex.request_headers = list(request.headers.items())
            out.append(ex)
        return out


def _declares_body(headers: Iterable[tuple[str, str]]) -> bool:
    return any(k.lower() == "content-length" and v.strip() not in ("", "0") for k, v in headers)


def _har_timings(t: Mapping[str, Any]) -> dict[str, float]:
    def span(a: str, b: str) -> float:
        x, y = float(t.get(a, -1)), float(t.get(b, -1))
        return max(0.0, y - x) if x >= 0 and y >= 0 else -1.0

    firsts = [float(t.get(k, -1)) for k in ("domainLookupStart", "connectStart", "requestStart")]
    blocked = next((v for v in firsts if v >= 0), -1.0)
    return {
        "blocked": round(blocked, 3),
        "dns": span("domainLookupStart", "domainLookupEnd"),
        "connect": span("connectStart", "connectEnd"),
        "ssl": span("secureConnectionStart", "connectEnd"),
        "send": 0.0,
        "wait": max(0.0, span("requestStart", "responseStart")),
        "receive": max(0.0, span("responseStart", "responseEnd")),
    }


# -- the session -----------------------------------------------------------------------


class BrowserSession:
    """A recording browser: script it through :attr:`page`, then :meth:`dump_logs`.

    Create one with :func:`launch_browser` (or ``ZAPI().launch_browser``).
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str,
        options: RecordOptions,
        playwright: Playwright,
        browser: Browser,
        context: BrowserContext,
        page: Page,
        capture: _Capture,
    ) -> None:
        """Wrap an already-launched browser (use :func:`launch_browser`)."""
        self.url = url
        self.options = options
        self._pw = playwright
        self._browser = browser
        self._context = context
        self._page = page
        self._capture = capture
        self._closed = False

    @property
    def page(self) -> Page:
        """The Playwright page the session opened on ``url``; drive it to record."""
        return self._page

    @property
    def context(self) -> BrowserContext:
        """The Playwright browser context being recorded."""
        return self._context

    @property
    def actions(self) -> list[UiAction]:
        """UI actions seen so far."""
        return list(self._capture.actions)

    @property
    def entry_count(self) -> int:
        """Requests finished so far (before host scoping)."""
        return len(self._capture.exchanges)

    def wait_until_closed(
        self, *, stdin: IO[str] | None = None, timeout_s: float | None = None
    ) -> str:
        """Block until the window is closed, Enter is pressed on ``stdin``, or the timeout.

        Returns:
            ``"window closed"``, ``"enter"`` or ``"timeout"``.
        """
        enter = threading.Event()
        if stdin is not None:
            threading.Thread(
                target=_wait_for_line, args=(stdin, enter), daemon=True, name="zapi-record-stdin"
            ).start()
        limit = timeout_s if timeout_s is not None else self.options.timeout_s
        deadline = time.monotonic() + limit if limit else None
        while True:
            if enter.is_set():
                return "enter"
            if self._capture.closed or not self._browser.is_connected():
                return "window closed"
            if deadline is not None and time.monotonic() >= deadline:
                return "timeout"
            pages = [p for p in self._context.pages if not p.is_closed()]
            if not pages:
                return "window closed"
            try:
                pages[0].wait_for_timeout(200)
            except PlaywrightError:
                continue

    def settle(self, timeout_s: float = _SETTLE_S) -> None:
        """Flush pending fills and wait (bounded) for in-flight requests to finish."""
        if self._closed or not self._browser.is_connected():
            return
        deadline = time.monotonic() + timeout_s
        try:
            for p in self._context.pages:
                if not p.is_closed():
                    p.evaluate(f"window.{BINDING_NAME}Flush && window.{BINDING_NAME}Flush()")
            pages = [p for p in self._context.pages if not p.is_closed()]
            while pages and self._capture.pending and time.monotonic() < deadline:
                pages[0].wait_for_timeout(50)
            if pages:
                pages[0].wait_for_timeout(50)  # deliver the last binding calls
        except PlaywrightError:
            return

    def save_storage_state(self, path: str) -> None:
        """Write cookies and local storage (live credentials!) to ``path``, mode 0600.

        Raises:
            RecordingError: the browser is gone or the file cannot be written.
        """
        try:
            state = self._context.storage_state()
        except PlaywrightError as exc:
            raise RecordingError(f"cannot read storage state: {_first_line(exc)}") from exc
        try:
            atomic_write_bytes(path, json.dumps(state, indent=2).encode())
            os.chmod(path, 0o600)
        except OSError as exc:
            raise RecordingError(
                f"{path}: cannot write storage state ({exc.strerror})", path=path
            ) from exc

    def dump_logs(
        self,
        path: str | os.PathLike[str],
        *,
        stable_times: bool = False,
    ) -> RecordingSummary:
        """Write the HAR to ``path`` and the UI actions to ``<path>.actions.json``.

        Both files are written atomically.  Secrets are scrubbed unless the
        session was launched with ``redact=False``.  Can be called more than once.

        Args:
            path: where to write the HAR.
            stable_times: fixed timestamps and zero timings, for diffable files.

        Returns:
            Counts for a one-line summary.

        Raises:
            RecordingError: a file cannot be written.
        """
        har_path = os.fspath(path)
        self.settle()
        opts = self.options
        redactor = Redactor(enabled=opts.redact)
        exchanges = self._capture.snapshot()
        har, kept = build_har(
            exchanges,
            redactor=redactor,
            pages=list(self._capture.pages.values()),
            include_hosts=opts.include_hosts,
            exclude_hosts=opts.exclude_hosts,
            secrets=self._known_secrets(),
            creator_version=_version(),
            browser=("Chromium", self._browser_version()),
            stable_times=stable_times,
        )
        starts = [e.started_ms for e in kept]
        sidecar = build_sidecar(
            os.path.basename(har_path),
            self._capture.actions,
            starts,
            redactor,
            window_ms=opts.window_ms,
            stable_times=stable_times,
        )
        # A lone surrogate (from a JSON body's "\\ud800") is written as its JSON escape.
        data = (json.dumps(har, indent=1, ensure_ascii=False) + "\n").encode(
            "utf-8", "backslashreplace"
        )
        side_path = har_path + ".actions.json"
        try:
            atomic_write_bytes(har_path, data)
            atomic_write_bytes(
                side_path,
                (json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n").encode(
                    "utf-8", "backslashreplace"
                ),
            )
        except OSError as exc:
            raise RecordingError(
                f"{har_path}: cannot write the HAR ({exc.strerror})", har_path=har_path
            ) from exc
        return RecordingSummary(
            har_path=har_path,
            actions_path=side_path,
            entries=len(kept),
            api_calls=sum(1 for e in kept if e.is_api_call),
            out_of_scope=len(exchanges) - len(kept),
            hosts=tuple(sorted({e.host for e in kept})),
            redacted=dict(sorted(redactor.counts.items())),
            actions=len(sidecar["actions"]),
            attributed=len(sidecar["attributions"]),
            missing_bodies=sum(1 for e in kept if e.body_missing),
            bytes_written=len(data),
        )

    def _known_secrets(self) -> list[str]:
        opts = self.options
        out = [v for _, v in opts.cookies] + [v for _, v in opts.headers]
        if opts.bearer_token:
            out.append(opts.bearer_token)
        if not self._closed and self._browser.is_connected():
            try:
                out.extend(c.get("value", "") for c in self._context.cookies())
            except PlaywrightError:
                pass  # the window was closed: the cookies were learned from headers
        return [v for v in out if v]

    def _browser_version(self) -> str:
        try:
            return self._browser.version
        except PlaywrightError:
            return ""

    def close(self) -> None:
        """Close the browser and stop Playwright (idempotent; never raises for a closed browser)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._browser.is_connected():
                self._context.close()
                self._browser.close()
        except PlaywrightError:
            pass  # already gone: the person closed the window
        finally:
            self._pw.stop()

    def __enter__(self) -> Self:
        """Return the session."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the browser."""
        self.close()


def _wait_for_line(stream: IO[str], done: threading.Event) -> None:
    try:
        line = stream.readline()
    except (OSError, ValueError):
        return
    if line:  # EOF (no terminal) must not end the session
        done.set()


def _first_line(exc: PlaywrightError) -> str:
    return (
        (exc.message or str(exc)).strip().splitlines()[0]
        if (exc.message or str(exc))
        else (type(exc).__name__)
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("zapi")
    except PackageNotFoundError:
        return "0"


# -- launching -------------------------------------------------------------------------


def launch_browser(url: str, options: RecordOptions | None = None) -> BrowserSession:
    """Start Chromium, begin recording and open ``url``.

    Args:
        url: the page to open (``http(s)://``); its origin is the *target origin*
            that receives injected credentials.
        options: launch, auth and scoping settings.

    Returns:
        The recording session.

    Raises:
        ValueError: ``url`` is not an http(s) URL.
        RecordingError: no browser was found, it could not start, or ``url`` did not load.
    """
    opts = options or RecordOptions()
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ValueError(f"url must be an http(s) URL, got {url!r}")
    if opts.storage_state and not os.path.isfile(opts.storage_state):
        raise RecordingError(
            f"storage state file not found: {opts.storage_state}; create one with "
            "--save-storage-state on a session where you log in",
            path=opts.storage_state,
        )
    choice = find_browser(opts.browser_path)
    inject = dict(opts.headers)
    if opts.bearer_token:
        inject["Authorization"] = f"Bearer {opts.bearer_token}"
    capture = _Capture(_origin(url), inject, Redactor())
    try:
        pw = sync_playwright().start()
    except PlaywrightError as exc:
        raise RecordingError(f"cannot start Playwright: {_first_line(exc)}") from exc
    try:
        browser = pw.chromium.launch(
            executable_path=choice.path,
            headless=opts.headless,
            args=[*LAUNCH_ARGS, *opts.extra_args],
        )
    except PlaywrightError as exc:
        pw.stop()
        hint = "" if opts.headless else "; no display? try --headless"
        raise RecordingError(
            f"cannot launch the browser {choice.path or '(Playwright managed)'} "
            f"(found via {choice.source}): {_first_line(exc)}{hint}",
            browser_path=choice.path,
        ) from exc
    try:
        context = _new_context(browser, opts, capture, url)
        page = context.new_page()
        page.goto(url, wait_until="load")
    except PlaywrightError as exc:
        browser.close()
        pw.stop()
        raise RecordingError(
            f"cannot open {url}: {_first_line(exc)}; is the site up?", url=url
        ) from exc
    return BrowserSession(url, opts, pw, browser, context, page, capture)


def _new_context(
    browser: Browser, opts: RecordOptions, capture: _Capture, url: str
) -> BrowserContext:
    context = browser.new_context(storage_state=opts.storage_state, service_workers="block")
    if opts.timeout_s:
        context.set_default_timeout(min(opts.timeout_s, 30.0) * 1000.0)
    if opts.cookies:
        context.add_cookies([{"name": n, "value": v, "url": _origin(url)} for n, v in opts.cookies])
    context.on("page", capture.on_page)
    context.on("request", capture.on_request)
    context.on("requestfinished", capture.on_finished)
    context.on("requestfailed", capture.on_failed)
    context.on("close", capture.on_close)
    browser.on("disconnected", capture.on_close)
    context.expose_binding(BINDING_NAME, capture.on_action)
    context.add_init_script(INIT_SCRIPT)
    # A pass-through route makes Chromium hand over every request body (file uploads
    # included) and is where target-origin credentials are added.
    context.route("**/*", capture.on_route)
    return context


# -- one-shot recording (the CLI) ------------------------------------------------------


def load_script(path: str) -> Callable[[Page], object]:
    """Load ``drive(page)`` from a Python file.

    Raises:
        RecordingError: the file cannot be run or defines no callable ``drive``.
    """
    try:
        namespace = runpy.run_path(path, run_name="__zapi_drive__")
    except FileNotFoundError as exc:
        raise RecordingError(f"{path}: no such script", path=path) from exc
    except SyntaxError as exc:
        raise RecordingError(
            f"{path}:{exc.lineno}: syntax error in script: {exc.msg}", path=path
        ) from exc
    drive = namespace.get("drive")
    if not callable(drive):
        raise RecordingError(
            f"{path}: define a function drive(page) to run against the page", path=path
        )
    return drive  # type: ignore[no-any-return]  # runpy namespaces are untyped


def record(
    url: str,
    out_path: str,
    options: RecordOptions | None = None,
    *,
    drive: Callable[[Page], object] | None = None,
    stdin: IO[str] | None = None,
    save_storage_state: str | None = None,
    stable_times: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> RecordingSummary:
    """Record one session on ``url`` and write ``out_path`` (+ ``.actions.json``).

    With ``drive`` the function runs it against the page and then ends the
    session; otherwise it waits until the window is closed, a line is read
    from ``stdin`` or ``options.timeout_s`` passes.

    Args:
        url: the page to open.
        out_path: where to write the HAR.
        options: launch, auth and scoping settings.
        drive: a ``drive(page)`` callable (``--script``).
        stdin: a text stream whose next line ends an interactive session.
        save_storage_state: also save cookies/local storage here for ``--storage-state``.
        stable_times: fixed timestamps in the HAR.
        on_ready: called with a prompt once the browser is up (interactive sessions).

    Raises:
        RecordingError: the browser could not be used or the script failed.
    """
    with launch_browser(url, options) as session:
        if drive is not None:
            try:
                drive(session.page)
            except PlaywrightError as exc:
                raise RecordingError(f"the drive script failed: {_first_line(exc)}") from exc
            except Exception as exc:  # user code: report it as a failed recording, with cause
                raise RecordingError(
                    f"the drive script raised {type(exc).__name__}: {exc}"
                ) from exc
        else:
            if on_ready is not None:
                on_ready("recording: close the browser window or press Enter here to finish")
            session.wait_until_closed(stdin=stdin)
        summary = session.dump_logs(out_path, stable_times=stable_times)
        if save_storage_state:
            session.save_storage_state(save_storage_state)
        return summary


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def interactive_stdin() -> IO[str] | None:
    """``sys.stdin`` when it is a terminal (so Enter can end the session), else ``None``."""
    return sys.stdin if _is_tty(sys.stdin) else None
