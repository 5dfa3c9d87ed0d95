"""Regenerate the HAR fixtures: ``python tests/data/make_hars.py`` (review the diff)."""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from factories import entry, har, shop_entries  # noqa: E402


def write(path: str, doc: dict, bom: bool = False) -> None:
    text = json.dumps(doc, indent=1)
    with open(path, "wb") as fh:
        if bom:
            fh.write(b"\xef\xbb\xbf")
        fh.write(text.encode())


def firefox() -> dict:
    """Firefox-style export: headers list, -1 sizes, missing content.text, no _resourceType."""
    es = []
    for i, pid in enumerate(["prod_8H2kQ1", "prod_Z93mX2", "prod_Q7wLp0", "prod_M4nB8v"]):
        e = entry(
            "GET",
            f"https://store.test/api/products/{pid}",
            req_headers={"Accept": "application/json", "Referer": "https://store.test/"},
            resp={"id": pid, "price": 10 + i, "tags": ["a"]},
        )
        del e["_resourceType"]
        del e["_initiator"]
        es.append(e)
    e = entry("GET", "https://store.test/api/products", resp=None)
    del e["response"]["content"]["size"]
    es.append(e)
    return har(es, creator="Firefox")


if __name__ == "__main__":
    out = os.path.join(HERE, "har")
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "chrome_shop.har"), har(shop_entries()), bom=True)
    write(os.path.join(out, "firefox_store.har"), firefox())
    samples = os.path.join(os.path.dirname(os.path.dirname(HERE)), "samples", "hars")
    os.makedirs(samples, exist_ok=True)
    write(os.path.join(samples, "shop.har"), har(shop_entries()))
