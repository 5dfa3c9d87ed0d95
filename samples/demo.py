"""The whole loop on the bundled ERP sample: serve, record a scripted session, analyze, call.

:func:`drive_erp` is the scripted UI session (also used by
``samples/record_samples.py``); :func:`run_demo` starts the sample on a free
port, records it headlessly, analyzes the HAR through the Python API and calls
the stock-update tool with verification (:func:`samples.demo_call.demo_call`)
while the sample still runs.  It lives with the samples: the core packages
never import a sample.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from playwright.sync_api import FilePayload

from samples.demo_call import demo_call
from samples.erp.app import make_server
from toolgen.cards import load_card
from zapi.api import analyze
from zapi.errors import RecordingError
from zapi.har_writer import RecordingSummary
from zapi.recorder import RecordOptions, find_browser, launch_browser

BUNDLED_HAR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hars", "erp_session.har")

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["DemoCard", "DemoResult", "drive_erp", "run_demo"]

_NOTES_TEXT = "Counted twice; shelf label faded. Re-check after the spring audit."


def drive_erp(page: Page, *, seed: int = 7) -> None:
    """Run a realistic session on the ERP sample, starting from its ``/login`` page.

    Signs in as alice, searches, opens items, updates stock, creates and looks
    up an order, saves large notes (~240 KB JSON), uploads a binary file,
    moves a bin through the legacy form and loads the XML ledger.
    """
    rng = random.Random(seed)

    def done(prefix: str) -> None:
        page.wait_for_function(
            "p => document.getElementById('status').textContent.startsWith(p)", arg=prefix
        )

    def click_for(selector: str, method: str, path_part: str) -> Any:
        with page.expect_response(
            lambda r: r.request.method == method and path_part in r.url
        ) as info:
            page.click(selector)
        return info.value

    page.fill("#username", "alice")
    page.fill("#password", "wonderland")
    page.click("#login-btn")
    page.wait_for_url("**/inventory")
    done("")
    page.wait_for_selector("a.item-link")

    page.fill("#search", "a")
    click_for("#search-btn", "GET", "/api/items?")
    page.wait_for_selector("a.item-link")
    links = page.locator("a.item-link")
    skus = [links.nth(i).get_attribute("data-sku") or "" for i in range(min(links.count(), 6))]

    def open_item(sku: str) -> None:
        click_for(f'a.item-link[data-sku="{sku}"]', "GET", f"/api/items/{sku}")
        done("Loaded")

    for sku in skus[:2]:  # browse, then count stock on two items
        open_item(sku)
        page.fill("#qty", str(rng.randint(5, 60)))
        click_for("#save-stock", "PUT", "/stock")
        done("Saved")
    for sku in skus[4:]:
        open_item(sku)

    page.fill("#order-qty", str(rng.randint(1, 4)))
    page.fill("#order-ref", f"demo-{rng.randint(1000, 9999)}")
    order = click_for("#create-order", "POST", "/api/orders").json()
    done("Order")
    click_for("#load-orders", "GET", "/api/orders?")
    for order_id in (str(order.get("id", "")), "ORD-0001"):
        page.fill("#order-lookup", order_id)
        click_for("#find-order", "GET", "/api/orders/")
        done("Order")
    click_for("#find-ref", "GET", "client_ref=")

    open_item(skus[2])
    page.fill("#notes", _NOTES_TEXT)
    click_for("#save-notes", "PUT", "/notes")
    done("Notes saved")

    open_item(skus[3])
    blob = bytes(rng.randrange(256) for _ in range(6000))
    scan = FilePayload(name="label-scan.bin", mimeType="application/octet-stream", buffer=blob)
    page.set_input_files("#attachment", files=[scan])
    page.fill("#attachment-comment", "scan of the shelf label")
    click_for("#upload", "POST", "/attachments")
    done("Uploaded")

    page.fill("#legacy-bin", f"BIN-{rng.randint(10, 99)}")
    click_for("#legacy-submit", "POST", "/legacy/bin_update.do")
    done("Bin updated")
    click_for("#ledger-frag", "GET", "/api/ledger.xml")
    done("Ledger")


@dataclass(frozen=True)
class DemoCard:
    """One row of the demo's table of tools."""

    tool: str
    method: str
    path: str
    safety: str


@dataclass
class DemoResult:
    """What the demo recorded, found and (optionally) ran."""

    har_path: str
    out_dir: str
    recording: RecordingSummary | None  # None when the bundled recording was used
    cards: list[DemoCard]
    record_seconds: float
    analyze_seconds: float
    runtime_lines: list[str] = field(default_factory=list)
    recording_note: str = ""


def run_demo(
    out_dir: str | None = None,
    *,
    browser_path: str | None = None,
    headless: bool = True,
    seed: int = 0,
) -> DemoResult:
    """Serve the ERP sample, record :func:`drive_erp`, analyze it into ``out_dir``.

    Args:
        out_dir: where to write ``session.har``, ``openapi.json``, ``cards/``,
            ``report.md``; a new temporary folder when ``None``.
        browser_path: the Chromium to use (see :func:`zapi.recorder.find_browser`).
        headless: run without a window.
        seed: the ERP sample's data seed.

    Raises:
        RecordingError: no usable browser.
        AnalysisError: the recording produced no operations.
    """
    out = out_dir or tempfile.mkdtemp(prefix="zapi-demo-")
    os.makedirs(out, exist_ok=True)
    har_path = os.path.join(out, "session.har")
    options = RecordOptions(headless=headless, browser_path=browser_path, timeout_s=30.0)
    note = ""
    try:
        find_browser(browser_path)
        have_browser = True
    except RecordingError as exc:
        if browser_path:
            raise
        have_browser = False
        note = f"{exc.message} -- analysed the bundled recording {BUNDLED_HAR} instead"
    with make_server(0, seed=seed) as server:
        t0 = time.perf_counter()
        summary: RecordingSummary | None = None
        if have_browser:
            with launch_browser(server.url + "/login", options) as session:
                drive_erp(session.page)
                summary = session.dump_logs(har_path)
        else:
            shutil.copyfile(BUNDLED_HAR, har_path)
            if os.path.exists(BUNDLED_HAR + ".actions.json"):
                shutil.copyfile(BUNDLED_HAR + ".actions.json", har_path + ".actions.json")
        t1 = time.perf_counter()
        result = analyze([har_path], out)
        t2 = time.perf_counter()
        cards = _card_rows(result.card_paths)
        demo = DemoResult(har_path, out, summary, cards, t1 - t0, t2 - t1)
        demo.recording_note = note
        _runtime_hook(demo, server.url)
    return demo


def _card_rows(paths: Iterable[str]) -> list[DemoCard]:
    rows = []
    for p in paths:
        card = load_card(p)
        rows.append(DemoCard(card.name, card.method, card.path, str(card.safety)))
    return sorted(rows, key=lambda r: (r.path, r.method))


def _runtime_hook(demo: DemoResult, base_url: str) -> None:
    """Call the stock-update tool against the running sample and keep the lines it prints."""
    demo.runtime_lines = demo_call(out_dir=demo.out_dir, base_url=base_url).splitlines()
