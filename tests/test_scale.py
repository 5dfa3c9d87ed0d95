"""Scale: parallel reading of one big HAR, and a folder of pieces, give the sequential output."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from zapi.analyzer.parallel import collect_parallel, find_cut, plan_units
from zapi.analyzer.pipeline import AnalyzeOptions
from zapi.api import analyze, collect
from zapi.har import HarReader, SplitMismatch
from zapi.redact import Redactor

API = "https://api.shop.test"
# Body text that looks like entry boundaries; JSON escaping must keep it inert.
TRICKY = '}, {"request": {"url": "https://evil.test/x"}, "response": {}}, {"name": "x"'


def _entry(
    i: int, r: random.Random, method: str, path: str, status: int, body: Any = None, req: Any = None
) -> dict[str, Any]:
    headers = [
        {"name": "accept", "value": "application/json"},
        {"name": "x-client", "value": "web"},
        {"name": "referer", "value": "https://shop.test/"},
    ]
    e: dict[str, Any] = {
        "startedDateTime": f"2025-01-01T00:{i // 3600 % 60:02d}:{i // 60 % 60:02d}.{i % 1000:03d}Z",
        "time": 12.5,
        "request": {
            "method": method,
            "url": API + path,
            "headers": headers,
            "cookies": [],
            "queryString": [],
            "headersSize": -1,
            "bodySize": -1,
        },
        "response": {
            "status": status,
            "statusText": "",
            "headers": [{"name": "content-type", "value": "application/json"}],
            "content": {
                "size": -1,
                "mimeType": "application/json",
                "text": json.dumps(body) if body is not None else "",
            },
            "redirectURL": "",
        },
        "timings": {"send": 1, "wait": 10, "receive": 1},
    }
    if req is not None:
        e["request"]["postData"] = {"mimeType": "application/json", "text": json.dumps(req)}
    return e


def make_har(path: Path, n: int = 3000, *, indent: int | None = None, seed: int = 3) -> Path:
    """A multi-MB HAR: a few operations, noise, tricky body text, late-only traffic."""
    r = random.Random(seed)
    entries: list[Any] = [
        {
            "startedDateTime": "2025-01-01T00:00:00.000Z",
            "time": 5,
            "_resourceType": "document",
            "request": {"method": "GET", "url": "https://shop.test/", "headers": []},
            "response": {"status": 200, "content": {"mimeType": "text/html", "text": "<html>"}},
        }
    ]
    for i in range(1, n):
        k = r.randrange(6)
        item_id = r.randrange(10**5, 10**6)
        item = {
            "id": item_id,
            "name": f"item {item_id}",
            "note": TRICKY,
            "tags": [r.choice(["red", "blue", "green"]) for _ in range(3)],
            "price": {"amount": r.randrange(100, 9999), "currency": "EUR"},
            "padding": "x" * r.randrange(200, 1500),
        }
        if i > n * 3 // 4 and k == 0:  # an operation only the last part of the file has
            entries.append(_entry(i, r, "DELETE", f"/api/late/{item_id}", 204))
        elif k <= 1:
            entries.append(_entry(i, r, "GET", f"/api/items/{item_id}", 200, item))
        elif k == 2:
            entries.append(
                _entry(
                    i, r, "POST", "/api/items", 201, item, {"name": item["name"], "note": TRICKY}
                )
            )
        elif k == 3:
            entries.append(
                _entry(
                    i,
                    r,
                    "GET",
                    f"/api/items?page={r.randrange(9)}",
                    200,
                    {"items": [item], "next": None},
                )
            )
        elif k == 4:
            entries.append(
                _entry(i, r, "GET", f"https://cdn.shop.test/app.{i % 7}.js".replace(API, ""), 200)
            )
            entries[-1]["request"]["url"] = f"https://cdn.shop.test/app.{i % 7}.js"
        else:
            entries.append({"startedDateTime": "2025-01-01T00:00:00.000Z", "request": {}})
    doc = {
        "log": {
            "version": "1.2",
            "creator": {"name": "test", "version": "1"},
            "entries": entries,
            "pages": [{"id": "p", "title": "x", "startedDateTime": "x"}] * 3,
        }
    }
    path.write_text(json.dumps(doc, indent=indent), encoding="utf-8")
    return path


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def big_har(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_har(tmp_path_factory.mktemp("scale") / "big.har")


class TestParallel:
    def test_two_workers_write_the_sequential_output_byte_for_byte(
        self, big_har: Path, tmp_path: Path
    ) -> None:
        """A HAR split into byte ranges read by two processes gives the same files."""
        assert len(plan_units([str(big_har)], 2, set())) == 2
        analyze([str(big_har)], str(tmp_path / "seq"), workers=1)
        analyze([str(big_har)], str(tmp_path / "par"), workers=2)
        assert _tree(tmp_path / "seq") == _tree(tmp_path / "par")

    def test_parallel_path_really_runs_and_keeps_entry_indexes(self, big_har: Path) -> None:
        """Provenance and skipped entries carry the indexes a sequential read gives."""
        par = collect_parallel([str(big_har)], AnalyzeOptions(), Redactor(), 2)
        assert par is not None
        seq = collect([str(big_har)], AnalyzeOptions(), workers=1)
        assert par.entries_read == seq.entries_read
        assert par.skipped == seq.skipped
        assert {k: v.entries for k, v in par.groups.items()} == {
            k: v.entries for k, v in seq.groups.items()
        }

    def test_pretty_printed_har_splits_too(self, tmp_path: Path) -> None:
        """Cuts are found with whitespace between entries."""
        har = make_har(tmp_path / "pretty.har", 800, indent=1)
        assert len(plan_units([str(har)], 2, set())) == 2, "no cut found between entries"
        assert collect_parallel([str(har)], AnalyzeOptions(), Redactor(), 2) is not None
        analyze([str(har)], str(tmp_path / "seq"), workers=1)
        analyze([str(har)], str(tmp_path / "par"), workers=2)
        assert _tree(tmp_path / "seq") == _tree(tmp_path / "par")

    def test_cut_is_never_inside_a_string(self, big_har: Path) -> None:
        """Every cut found starts an entry object, whatever the bodies hold."""
        data = big_har.read_bytes()
        for near in range(0, len(data), len(data) // 40):
            cut = find_cut(str(big_har), near)
            if cut is None:
                continue
            end, start = cut
            obj, _ = json.JSONDecoder().raw_decode(data[start:].decode())
            assert "request" in obj and "response" in obj
            assert data[end - 1 : end] == b"}"

    def test_a_range_ending_outside_log_entries_is_refused(self, tmp_path: Path) -> None:
        """The end marker proves the cut: a cut inside ``log.pages`` raises SplitMismatch."""
        har = make_har(tmp_path / "h.har", 50)
        data = har.read_bytes()
        inside_pages = data.rindex(b'}, {"id": "p"') + 1
        with pytest.raises(SplitMismatch):
            list(HarReader(har, end=inside_pages))


class TestPieces:
    def test_folder_of_pieces_matches_the_single_file(self, big_har: Path, tmp_path: Path) -> None:
        """openapi.json is byte-identical; cards differ only in provenance file names."""
        doc = json.loads(big_har.read_text(encoding="utf-8"))
        entries = doc["log"]["entries"]
        folder = tmp_path / "pieces"
        folder.mkdir()
        per = len(entries) // 4 + 1
        for i in range(4):
            part = {"log": dict(doc["log"], entries=entries[i * per : (i + 1) * per])}
            (folder / f"p{i}.har").write_text(json.dumps(part), encoding="utf-8")
        analyze([str(big_har)], str(tmp_path / "one"), workers=1)
        analyze([str(folder)], str(tmp_path / "many"), workers=2)
        one, many = _tree(tmp_path / "one"), _tree(tmp_path / "many")
        assert one["openapi.json"] == many["openapi.json"]
        cards = sorted(k for k in one if k.startswith("cards" + os.sep))
        assert cards == sorted(k for k in many if k.startswith("cards" + os.sep))
        for k in cards:
            a, b = json.loads(one[k]), json.loads(many[k])
            pa, pb = a.pop("provenance"), b.pop("provenance")
            assert a == b
            assert pa["samples"] == pb["samples"]
            assert sum(pa["sources"].values()) == sum(pb["sources"].values())


def test_entry_density_tells_many_small_entries_from_large_bodies(tmp_path: Path) -> None:
    """The sampler behind the choice of two readers for mid-size captures."""
    from factories import entry, har

    from zapi.analyzer.parallel import DENSE_ENTRIES_PER_MIB, entries_per_mib

    small = [entry("GET", f"http://127.0.0.1:9/api/items/{i}", resp={"id": i}) for i in range(6000)]
    big_body = {"rows": [{"id": i, "text": "x" * 200} for i in range(400)]}
    large = [entry("GET", f"http://127.0.0.1:9/api/pages/{i}", resp=big_body) for i in range(60)]
    dense, sparse = tmp_path / "dense.har", tmp_path / "sparse.har"
    dense.write_text(json.dumps(har(small)), encoding="utf-8")
    sparse.write_text(json.dumps(har(large)), encoding="utf-8")
    assert entries_per_mib([str(dense)]) >= DENSE_ENTRIES_PER_MIB
    assert entries_per_mib([str(sparse)]) < DENSE_ENTRIES_PER_MIB
    # a request key inside a body string is escaped and does not count
    quoted = [entry("POST", "http://127.0.0.1:9/api/x", body={"note": '"request": 1' * 5000})]
    path = tmp_path / "quoted.har"
    path.write_text(json.dumps(har(quoted)), encoding="utf-8")
    assert entries_per_mib([str(path)]) < 50
