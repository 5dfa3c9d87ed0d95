"""Analyzer behaviour: goldens over producer quirks, noise, templating, bodies, auth, errors."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from factories import PLANTED, entry, har

from zapi.analyzer.bodies import BodyKind, decode_body
from zapi.analyzer.paths import PathObservation, Rules, build_templates
from zapi.analyzer.pipeline import analyze_entries
from zapi.analyzer.protocols import graphql_operations
from zapi.api import analyze
from zapi.errors import AnalysisError, HarError, HarParseError
from zapi.har import iter_har

ROOT = Path(__file__).resolve().parent
HARS = sorted((ROOT / "data" / "har").glob("*.har"))
GOLDEN = ROOT / "golden"


def _write(tmp_path: Path, doc: dict, name: str = "in.har") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return str(p)


def _normalise(text: str, har_path: Path) -> str:
    return text.replace(str(har_path), har_path.name)


class TestGoldens:
    """Cards and OpenAPI for the fixture HARs match the reviewed goldens byte for byte."""

    @pytest.mark.parametrize("har_path", HARS, ids=[p.stem for p in HARS])
    def test_golden(self, har_path: Path, tmp_path: Path, update_goldens: bool) -> None:
        result = analyze([str(har_path)], str(tmp_path / "out"))
        cards = {
            Path(p).stem: json.loads(_normalise(Path(p).read_text(), har_path))
            for p in result.card_paths
        }
        got_cards = json.dumps(cards, indent=2, sort_keys=True) + "\n"
        got_spec = Path(result.openapi_path).read_text()
        for text in (got_cards, got_spec):
            assert "\\u0000" not in text and "\x00" not in text, "internal placeholder leaked"
        for suffix, got in (("toolcards.json", got_cards), ("openapi.json", got_spec)):
            golden = GOLDEN / f"{har_path.stem}.{suffix}"
            if update_goldens:
                golden.write_text(got)
            assert golden.exists(), f"{golden.name} missing; run pytest --update-goldens, review"
            assert got == golden.read_text(), f"{golden.name} differs; run pytest --update-goldens"

    def test_deterministic(self, tmp_path: Path) -> None:
        """The same input gives byte-identical output."""
        src = str(ROOT / "data" / "har" / "chrome_shop.har")
        a = analyze([src], str(tmp_path / "a"))
        b = analyze([src], str(tmp_path / "b"))
        assert Path(a.openapi_path).read_bytes() == Path(b.openapi_path).read_bytes()
        assert Path(a.report_path).read_bytes() == Path(b.report_path).read_bytes()
        for pa, pb in zip(sorted(a.card_paths), sorted(b.card_paths), strict=True):
            assert Path(pa).read_bytes() == Path(pb).read_bytes()


class TestSecrets:
    """No secret planted in a HAR survives into any output."""

    def test_no_planted_secret_in_outputs(self, tmp_path: Path) -> None:
        out = tmp_path / "out"
        analyze([str(ROOT / "data" / "har" / "chrome_shop.har")], str(out))
        blob = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
        assert blob, "no output written"
        for secret in PLANTED:
            assert secret.encode() not in blob, f"secret {secret[:6]}... leaked"

    def test_secret_names_have_no_examples(self, tmp_path: Path) -> None:
        out = tmp_path / "out"
        analyze([str(ROOT / "data" / "har" / "chrome_shop.har")], str(out))
        card = json.loads((out / "cards" / "login.json").read_text())
        pw = card["input_schema"]["properties"]["password"]
        assert "examples" not in pw and "enum" not in pw


class TestNoise:
    """Noise is dropped with a reason, and scoping errors say what was seen."""

    def test_drop_reasons(self, tmp_path: Path) -> None:
        result = analyze([str(ROOT / "data" / "har" / "chrome_shop.har")], str(tmp_path / "o"))
        d = result.analysis.dropped
        assert d == {
            "CORS preflight": 1,
            "websocket": 1,
            "page navigation (document)": 1,
            "static asset": 2,
            "third-party host (analytics, ads, error reporting, CDN)": 1,
        }
        report = Path(result.report_path).read_text()
        assert "static/logo.png" in report

    def test_wrong_scope_is_an_error_naming_hosts(self, tmp_path: Path) -> None:
        with pytest.raises(AnalysisError) as exc:
            analyze(
                [str(ROOT / "data" / "har" / "chrome_shop.har")],
                str(tmp_path / "o"),
                include_hosts=["api.exmaple.com"],
            )
        msg = str(exc.value)
        assert "api.example.com" in msg and "--include-host" in msg
        assert not (tmp_path / "o").exists()

    def test_exclude_host(self, tmp_path: Path) -> None:
        result = analyze(
            [str(ROOT / "data" / "har" / "chrome_shop.har")],
            str(tmp_path / "o"),
            exclude_hosts=["shop.example.com"],
        )
        assert {op.origin for op in result.analysis.operations} == {"https://api.example.com"}


class TestHarReading:
    """Unreadable input gives one clear line; bad entries are skipped and reported."""

    def test_truncated_file_names_file_and_entry(self, tmp_path: Path) -> None:
        src = (ROOT / "data" / "har" / "firefox_store.har").read_text()
        p = tmp_path / "cut.har"
        p.write_text(src[: len(src) // 2])
        with pytest.raises(HarParseError) as exc:
            list(iter_har(str(p)))
        assert "cut.har" in str(exc.value) and "entry" in str(exc.value)
        assert "\n" not in str(exc.value)

    def test_not_a_har(self, tmp_path: Path) -> None:
        p = _write(tmp_path, {"hello": 1})
        with pytest.raises(HarParseError, match="not a HAR"):
            list(iter_har(p))

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(HarError, match="no such file"):
            list(iter_har(str(tmp_path / "nope.har")))

    def test_bad_entry_skipped_and_reported(self, tmp_path: Path) -> None:
        doc = har([entry("GET", "https://a.test/api/x/1", resp={"a": 1}), {"request": {}}])
        result = analyze([_write(tmp_path, doc)], str(tmp_path / "o"))
        assert result.analysis.skipped_count == 1
        assert "entry 1" in Path(result.report_path).read_text()

    def test_several_hars_merge(self, tmp_path: Path) -> None:
        a = har([entry("GET", f"https://a.test/api/items/{i}", resp={"id": i}) for i in (1, 2)])
        b = har(
            [
                entry("GET", f"https://a.test/api/items/{i}", resp={"id": i, "x": True})
                for i in (3, 4)
            ]
        )
        result = analyze(
            [_write(tmp_path, a, "a.har"), _write(tmp_path, b, "b.har")], str(tmp_path / "o")
        )
        ops = result.analysis.operations
        assert [(o.method, o.template.path, o.evidence.count) for o in ops] == [
            ("GET", "/api/items/{item_id}", 4)
        ]
        card = json.loads(Path(result.card_paths[0]).read_text())
        assert card["output_schema"]["required"] == ["id"]
        assert card["output_schema"]["properties"]["x"]["x-observed"] == 2


def _entries(es: list[dict]) -> list:
    from zapi.har import entry_from_raw

    return [entry_from_raw(e, "mem.har", i) for i, e in enumerate(es)]


def _templates(paths: list[tuple[str, str]], rules: Rules | None = None) -> set[str]:
    obs = [
        PathObservation(
            "https://a.test",
            m,
            tuple(s for s in p.split("/") if s),
            signature=f"{m}:{p.split('/')[-1].isdigit()}",
        )
        for m, p in paths
    ]
    trie = build_templates(obs, rules)["https://a.test"]
    out = set()
    for m, p in paths:
        t = trie.route(tuple(s for s in p.split("/") if s))
        assert t is not None
        out.add(f"{m} {t.path}")
    return out


class TestTemplating:
    """Path templating uses shape, cardinality and behaviour together."""

    def test_ids_and_literals(self) -> None:
        got = _templates(
            [("GET", f"/orders/{i}") for i in (8812, 8813, 9)]
            + [("GET", "/orders/search"), ("GET", "/users/me")]
        )
        assert got == {"GET /orders/{order_id}", "GET /orders/search", "GET /users/me"}

    def test_slug_population_and_repeated_literal(self) -> None:
        names = ["quebec755", "maple_victor", "quebec-bravo", "indigo927", "golf_timber"]
        paths = [("GET", f"/user/{n}") for n in names] + [("GET", "/user/logout")] * 5
        assert _templates(paths) == {"GET /user/{user_id}", "GET /user/logout"}

    def test_rare_resources_stay_literal(self) -> None:
        """Endpoints hit once each, with different behaviour, are not one parameter."""
        es = [
            entry("GET", "https://a.test/api/settings", resp={"theme": "dark", "lang": "en"}),
            entry("GET", "https://a.test/api/profile", resp={"name": "x", "email": "e"}),
            entry("GET", "https://a.test/api/notifications", resp=[{"id": 1, "text": "t"}]),
            entry("GET", "https://a.test/api/orders/1", resp={"id": 1, "total": 3}),
            entry("GET", "https://a.test/api/users/2", resp={"id": 2, "name": "n"}),
            entry("GET", "https://a.test/api/items/3", resp={"id": 3, "sku": "s"}),
        ]
        got = {op.template.path for op in analyze_entries(_entries(es)).operations}
        assert got == {
            "/api/settings",
            "/api/profile",
            "/api/notifications",
            "/api/orders/{order_id}",
            "/api/users/{user_id}",
            "/api/items/{item_id}",
        }

    def test_trailing_slash_kept(self) -> None:
        """Django-style paths keep their trailing slash in the card (the server needs it)."""
        es = [entry("GET", f"https://a.test/api/orders/{i}/", resp={"id": i}) for i in (1, 2, 3)]
        with_slash = analyze_entries(_entries(es))
        from toolgen.build import build_cards

        assert [c.path for c in build_cards(with_slash)] == ["/api/orders/{order_id}/"]

    def test_value_echoed_in_body_is_an_id(self) -> None:
        """One item used many times is still an id when the bodies repeat its value."""
        es = [
            entry("GET", "https://e.test/api/items/A-1", resp={"sku": "A-1", "qty": 3}),
            entry(
                "PUT",
                "https://e.test/api/items/A-1/stock",
                body={"quantity": 4},
                resp={"sku": "A-1", "quantity": 4},
            ),
            entry("POST", "https://e.test/api/items/A-1/attachments", resp={"id": "ATT-1"}),
            entry("GET", "https://e.test/api/status", resp={"status": "ok"}),
            entry("GET", "https://e.test/api/orders/open", resp={"state": "open"}),
        ]
        got = {op.template.path for op in analyze_entries(_entries(es)).operations}
        assert got == {
            "/api/items/{item_id}",
            "/api/items/{item_id}/stock",
            "/api/items/{item_id}/attachments",
            "/api/status",
            "/api/orders/open",
        }

    def test_alike_slugs_merge(self) -> None:
        """Rare values that behave alike (same response shape) form a parameter."""
        es = [
            entry("GET", f"https://a.test/api/teams/{n}", resp={"slug": n, "members": 3})
            for n in ("core-infra", "web", "data-platform")
        ]
        got = {op.template.path for op in analyze_entries(_entries(es)).operations}
        assert got == {"/api/teams/{team_id}"}

    def test_numeric_namespace_stays_literal(self) -> None:
        """A single integer prefixing many routes (/rest/api/2/...) is a version, not an id."""
        ps = [
            "/rest/api/2/issue/10001",
            "/rest/api/2/issue/10002",
            "/rest/api/2/project",
            "/rest/api/2/search",
            "/rest/api/2/myself",
            "/orders/5",
            "/orders/5",
        ]
        obs = [
            PathObservation(
                "h",
                "GET",
                tuple(p.split("/")[1:]),
                signature=p.split("/")[4] if p.startswith("/rest") else "order",
            )
            for p in ps
        ]
        trie = build_templates(obs)["h"]
        got = set()
        for o in obs:
            t = trie.route(o.segments)
            assert t is not None
            got.add(t.path)
        assert got == {
            "/rest/api/2/issue/{issue_id}",
            "/rest/api/2/project",
            "/rest/api/2/search",
            "/rest/api/2/myself",
            "/orders/{order_id}",
        }

    def test_file_path_parameter_spans_segments(self) -> None:
        """File paths of varying depth become one parameter that may contain '/'."""
        paths = [
            ("GET", p)
            for p in (
                "/files/reports/2026/q3.csv",
                "/files/img/logo.png",
                "/files/a.txt",
                "/files/docs/x/y/readme.md",
            )
        ]
        assert _templates(paths + [("GET", "/files/meta")]) == {
            "GET /files/{file_path}",
            "GET /files/meta",
        }

    def test_compaction_bounds_groups_and_keeps_templates(self) -> None:
        """Past compact_at groups, slug ids fold into parameters: same result, bounded state."""
        from zapi.analyzer.pipeline import AnalyzeOptions, Collector

        words = ["alpha", "bravo", "kilo", "lima", "papa", "zulu", "echo", "golf"]
        es = []
        for i in range(400):
            slug = f"{words[i % 8]}-{words[(i * 3) % 8]}{i}"
            es.append(entry("GET", f"https://a.test/api/teams/{slug}", resp={"slug": slug, "n": i}))
            es.append(
                entry(
                    "GET", f"https://a.test/api/teams/{slug}/members", resp=[{"id": i, "name": "m"}]
                )
            )
        small = Collector(AnalyzeOptions(), compact_at=32).feed_all(_entries(es))
        assert len(small.groups) < 64
        big = Collector(AnalyzeOptions()).feed_all(_entries(es))
        assert len(big.groups) == 800
        paths = {(o.method, o.template.path) for o in small.finish().operations}
        assert (
            paths
            == {(o.method, o.template.path) for o in big.finish().operations}
            == {("GET", "/api/teams/{team_id}"), ("GET", "/api/teams/{team_id}/members")}
        )

    def test_rules_forbid_and_force(self) -> None:
        paths = [("GET", f"/users/{n}") for n in ("alice", "bob", "carol", "dave")]
        assert _templates(paths) == {"GET /users/{user_id}"}
        assert _templates(paths, Rules(forbid=("/users/{user_id}",))) == {
            "GET /users/alice",
            "GET /users/bob",
            "GET /users/carol",
            "GET /users/dave",
        }
        files = [("GET", "/files/reports/2026/q3.csv"), ("GET", "/files/a/b.txt")]
        assert _templates(files, Rules(force=("/files/{path+}",))) == {"GET /files/{path}"}


class TestBodies:
    """The body type is decided from content as well as Content-Type."""

    def test_json_sent_as_text_plain(self) -> None:
        b = decode_body(b'{"a": 1}', "text/plain;charset=UTF-8")
        assert (b.kind, b.value) == (BodyKind.JSON, {"a": 1})

    def test_form_without_type(self) -> None:
        b = decode_body(b"a=1&b=x&b=y", "")
        assert (b.kind, b.value) == (BodyKind.FORM, {"a": "1", "b": ["x", "y"]})

    def test_multipart_bytes(self) -> None:
        raw = (
            b'--XX\r\nContent-Disposition: form-data; name="comment"\r\n\r\nhi\r\n'
            b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n\x00\x01\r\n--XX--\r\n"
        )
        b = decode_body(raw, "multipart/form-data; boundary=XX")
        assert b.kind == BodyKind.MULTIPART and b.files == ["file"]
        assert b.value["comment"] == "hi"

    def test_graphql_batch_split(self) -> None:
        ops = graphql_operations([{"query": "query A { a }"}, {"query": "mutation { b }"}])
        assert [n for n, _ in ops or []] == ["A", "b"]

    def test_xml(self) -> None:
        assert decode_body(b"<?xml version='1.0'?><a/>", "").kind == BodyKind.XML


class TestEval:
    """The public eval cases score perfectly on operations (guards accuracy regressions)."""

    EVAL = ROOT.parent.parent / "shared" / "eval" / "cases"

    @pytest.mark.parametrize("case", ["petstore", "ynab", "hetzner"])
    def test_operations(self, case: str) -> None:
        src = self.EVAL / case / "traffic.har"
        if not src.exists():
            if os.environ.get("CI") == "true":  # CI clones beside ../shared: absence is a fault
                pytest.fail(f"{src} missing under CI=true")
            pytest.skip("../shared/eval not present")
        truth = json.loads((self.EVAL / case / "truth.json").read_text())
        analysis = analyze_entries(iter_har(str(src)))
        got = {(op.method, _norm(op.template.path)) for op in analysis.operations}
        prefix = json.loads((self.EVAL / case / "case.json").read_text())["mount_prefix"]
        want = {
            (m.upper(), _norm(prefix + p))
            for p, item in truth["paths"].items()
            for m in item
            if m in ("get", "put", "post", "delete", "patch")
        }
        assert got == want


def _norm(p: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}", "{}", p)


def test_cli_analyze_writes_outputs(tmp_path: Path) -> None:
    """`zapi analyze` via main() writes the three artifacts and returns 0."""
    from zapi.cli import main

    out = tmp_path / "out"
    rc = main(["analyze", str(ROOT / "data" / "har" / "firefox_store.har"), "-o", str(out)])
    assert rc == 0
    assert (out / "openapi.json").exists() and (out / "report.md").exists()
    assert sorted(os.listdir(out / "cards")) == ["get_product.json", "list_products.json"]


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ZapiError becomes one stderr line and exit code 1."""
    from zapi.cli import main

    rc = main(["analyze", str(tmp_path / "missing.har"), "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "missing.har" in err
    shutil.rmtree(tmp_path, ignore_errors=True)
