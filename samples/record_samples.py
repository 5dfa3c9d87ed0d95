"""Record the committed sample HAR: ``python samples/record_samples.py`` (review the diff).

Starts the ERP sample on a free port, records :func:`samples.demo.drive_erp`
headlessly (login, search, items, stock, orders, ~240 KB notes save, binary
upload, legacy form, XML ledger) and writes ``samples/hars/erp_session.har``
plus its ``.actions.json`` sidecar, redacted.  To make reruns diff cleanly it
uses fixed seeds and HAR timestamps, and rewrites what still varies per run:
the port (to the sample's default 8001), ``Date`` headers, the multipart
boundary and the ERP's ``updated_at`` clock readings.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(HERE))

from samples.demo import drive_erp  # noqa: E402
from samples.erp.app import make_server  # noqa: E402
from zapi.files import atomic_write  # noqa: E402
from zapi.recorder import RecordOptions, launch_browser  # noqa: E402

__all__ = ["main", "normalise", "record_erp"]

STABLE_PORT = 8001
STABLE_DATE = "Sat, 01 Jan 2000 00:00:00 GMT"
STABLE_BOUNDARY = "----WebKitFormBoundaryZapiSample0000"
_BOUNDARY = re.compile(r"----WebKitFormBoundary[0-9A-Za-z]{16}")


def normalise(text: str, port: int, today: Sequence[str]) -> str:
    """Rewrite per-run values (port, boundary, today's timestamps) in a JSON document's text."""
    text = text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{STABLE_PORT}")
    text = _BOUNDARY.sub(STABLE_BOUNDARY, text)
    for day in today:
        text = re.sub(
            re.escape(day) + r"T\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?",
            "2000-01-01T00:00:00Z",
            text,
        )
    return text


def _normalise_har(har: dict[str, Any], port: int, today: Sequence[str]) -> dict[str, Any]:
    for entry in har["log"]["entries"]:
        for side in ("request", "response"):
            for h in entry[side]["headers"]:
                if h["name"].lower() == "date":
                    h["value"] = STABLE_DATE
        post = entry["request"].get("postData") or {}
        if post.get("encoding") == "base64":
            raw = base64.b64decode(post["text"])
            raw = _BOUNDARY.sub(STABLE_BOUNDARY, raw.decode("latin-1")).encode("latin-1")
            post["text"] = base64.b64encode(raw).decode("ascii")
    out: dict[str, Any] = json.loads(normalise(json.dumps(har), port, today))
    return out


def record_erp(out_path: str, *, browser_path: str | None = None, seed: int = 0) -> str:
    """Record the scripted ERP session into ``out_path`` (+ sidecar); return a summary line."""
    now = datetime.now(UTC)
    today = sorted({(now + timedelta(days=d)).strftime("%Y-%m-%d") for d in (-1, 0, 1)})
    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    options = RecordOptions(headless=True, browser_path=browser_path, timeout_s=30.0)
    with make_server(0, seed=seed) as server, tempfile.TemporaryDirectory(dir=folder) as tmp:
        raw_path = os.path.join(tmp, os.path.basename(out_path))
        with launch_browser(server.url + "/login", options) as session:
            drive_erp(session.page, seed=7)
            summary = session.dump_logs(raw_path, stable_times=True)
        with open(raw_path, encoding="utf-8") as fh:
            har = _normalise_har(json.load(fh), server.port, today)
        with open(raw_path + ".actions.json", encoding="utf-8") as fh:
            side = json.loads(normalise(fh.read(), server.port, today))
        side["har"] = os.path.basename(out_path)
    atomic_write(out_path, (json.dumps(har, indent=1, ensure_ascii=False) + "\n").encode())
    atomic_write(
        out_path + ".actions.json", (json.dumps(side, indent=2, ensure_ascii=False) + "\n").encode()
    )
    return summary.describe().replace(raw_path, out_path)


def main(argv: Sequence[str] | None = None) -> int:
    """Record the sample HAR(s)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "hars", "erp_session.har"))
    parser.add_argument("--browser-path", default=None)
    args = parser.parse_args(argv)
    line = record_erp(args.out, browser_path=args.browser_path)
    print(line)  # noqa: T201 -- a script reports what it wrote
    return 0


if __name__ == "__main__":
    sys.exit(main())
