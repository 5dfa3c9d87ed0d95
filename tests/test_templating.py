"""Path templating on real apps' shapes: versions, deep slug routes, named ids, file paths."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from factories import entry
from hypothesis import given, settings
from hypothesis import strategies as st

from zapi.analyzer.model import Analysis
from zapi.analyzer.pipeline import Collector, analyze_entries
from zapi.har import HarEntry, entry_from_raw

H = "http://127.0.0.1:8000"


def _entries(raw: list[dict[str, Any]]) -> list[HarEntry]:
    out = []
    for i, e in enumerate(raw):
        item = entry_from_raw(e, "mem.har", i)
        assert isinstance(item, HarEntry)
        out.append(item)
    return out


def _ops(analysis: Analysis) -> set[str]:
    return {f"{op.method} {op.template.path}" for op in analysis.operations}


def _shape(ops: set[str]) -> set[str]:
    """Templates with parameter names erased (names are not what is being tested)."""
    import re

    return {re.sub(r"\{[^}]+\}", "{}", o) for o in ops}


def _analyze(raw: list[dict[str, Any]]) -> Analysis:
    return analyze_entries(_entries(raw))


def _repo_traffic(owners: list[str], repos: list[str]) -> list[dict[str, Any]]:
    """Deep routes under owner/repo slugs, each route used with one or two slug pairs."""
    routes = [
        ("GET", "", {"full_name": "x", "size": 1}),
        ("GET", "/issues", [{"number": 1, "title": "t"}]),
        ("POST", "/issues", {"number": 2, "title": "t"}),
        ("GET", "/issues/7/comments", [{"id": 1, "body": "b"}]),
        ("GET", "/pipelines/41/steps/9/log", {"lines": ["a"]}),
        ("DELETE", "/hooks/12", None),
    ]
    raw = []
    pairs = list(zip(owners, repos, strict=True))
    for i, (method, tail, resp) in enumerate(routes):
        for owner, repo in pairs[i % 3 :: 3][:2]:
            url = f"{H}/repos/{owner}/{repo}{tail}"
            body = {"title": "t"} if method == "POST" else None
            raw.append(entry(method, url, 204 if resp is None else 200, body=body, resp=resp))
    return raw


SLUGS_A = ["river-stone", "maple_leaf", "quartz7", "ember-fox", "onyx_lake", "frost-hill"]
SLUGS_B = ["pebble-run", "timber_cat", "harbor9", "cobalt-sea", "amber_owl", "summit-pine"]


class TestVersions:
    """Version segments and mount prefixes stay literal."""

    def test_dotted_version_mount_prefix(self) -> None:
        """``/2.0/...`` is the mount prefix, not an id, though ``2.0`` parses as a number."""
        raw = [entry("GET", f"{H}/2.0/users/{n}", resp={"id": n}) for n in (3, 4, 5)]
        raw += [entry("GET", f"{H}/2.0/teams", resp=[])]
        assert _ops(_analyze(raw)) == {"GET /2.0/users/{user_id}", "GET /2.0/teams"}

    def test_two_versions_both_used_stay_literal(self) -> None:
        """``v1`` and ``v2beta1`` side by side are two versions, not a parameter."""
        raw = [
            entry("GET", f"{H}/api/{v}/jobs/{n}", resp={"id": n})
            for v in ("v1", "v2beta1")
            for n in (1, 2, 3)
        ]
        assert _ops(_analyze(raw)) == {
            "GET /api/v1/jobs/{job_id}",
            "GET /api/v2beta1/jobs/{job_id}",
        }


class TestStructure:
    """A position is a parameter when many sibling values lead to the same continuations."""

    def test_deep_routes_under_slug_pairs(self) -> None:
        """Each deep route was used with one or two slug pairs only; all are templated."""
        got = _shape(_ops(_analyze(_repo_traffic(SLUGS_A, SLUGS_B))))
        assert got == {
            "GET /repos/{}/{}",
            "GET /repos/{}/{}/issues",
            "POST /repos/{}/{}/issues",
            "GET /repos/{}/{}/issues/{}/comments",
            "GET /repos/{}/{}/pipelines/{}/steps/{}/log",
            "DELETE /repos/{}/{}/hooks/{}",
        }

    def test_only_deep_routes_under_slug_pairs(self) -> None:
        """Slugs seen only in deep routes (five segments below them), each pair once or twice."""
        tails = [
            ("GET", "/deploy_config/envs/{n}/variables"),
            ("DELETE", "/deploy_config/envs/{n}/variables/{m}"),
            ("GET", "/pipelines/{n}/steps/{m}/test_reports"),
        ]
        raw = []
        for i, (method, tail) in enumerate(tails):
            for j in range(4):
                k = 4 * i + j  # each owner twice, each repo name once (slugs are pairs)
                owner, repo = SLUGS_A[k % 6], f"{SLUGS_B[k % 6]}{k}"
                path = tail.format(n=100 + j, m=7 + i)
                status = 204 if method == "DELETE" else 200
                resp = None if method == "DELETE" else [{"key": "k", "value": "v"}]
                raw.append(entry(method, f"{H}/repos/{owner}/{repo}{path}", status, resp=resp))
        assert _shape(_ops(_analyze(raw))) == {
            "GET /repos/{}/{}/deploy_config/envs/{}/variables",
            "DELETE /repos/{}/{}/deploy_config/envs/{}/variables/{}",
            "GET /repos/{}/{}/pipelines/{}/steps/{}/test_reports",
        }

    def test_siblings_with_different_continuations_stay_literal(self) -> None:
        """API groups whose resources differ are distinct routes, not one ``{group}``."""
        groups = {
            "apps.example.io": ("deployments", "statefulsets"),
            "batch.example.io": ("jobs", "cronjobs"),
            "net.example.io": ("ingresses", "policies"),
        }
        raw = [  # each resource has its own fields, as real resources do
            entry("GET", f"{H}/apis/{g}/v1/{kind}", resp={"items": [{f"{kind}_spec": 1}]})
            for g, kinds in groups.items()
            for kind in kinds
        ]
        want = {f"GET /apis/{g}/v1/{k}" for g, kinds in groups.items() for k in kinds}
        assert _ops(_analyze(raw)) == want


class TestProvenance:
    """A value that bodies name as an id/name/key is an identifier whatever its shape."""

    def test_names_listed_by_the_parent(self) -> None:
        """Pool names the listing returned are ids of ``/pools/{pool}``, even plain words."""
        names = ["nightly", "default"]
        raw = [entry("GET", f"{H}/api/pools", resp=[{"name": n, "slots": 4} for n in names])]
        raw += [entry("GET", f"{H}/api/pools/{n}", resp={"name": n, "slots": 4}) for n in names]
        analysis = _analyze(raw)
        assert _shape(_ops(analysis)) == {"GET /api/pools", "GET /api/pools/{}"}
        op = next(o for o in analysis.operations if "{" in o.template.path)
        assert any("listed by the parent" in r for r in op.template.reasons)

    def test_listed_under_a_parent_with_an_id(self) -> None:
        """``/users/5/boards`` lists ``roadmap``: ``/users/5/boards/roadmap`` is an id."""
        raw = [entry("GET", f"{H}/users/5/boards", resp=[{"key": "roadmap"}, {"key": "ops"}])]
        raw += [entry("GET", f"{H}/users/5/boards/roadmap", resp={"key": "roadmap", "n": 1})]
        raw += [entry("GET", f"{H}/users/6/boards/ops/cards", resp=[])]
        assert _shape(_ops(_analyze(raw))) == {
            "GET /users/{}/boards",
            "GET /users/{}/boards/{}",
            "GET /users/{}/boards/{}/cards",
        }

    def test_name_from_another_route(self) -> None:
        """A queue name seen as ``queue_name`` in another route's body is an id here."""
        raw = [entry("GET", f"{H}/jobs/1", resp={"id": 1, "queue_name": "emails"})]
        raw += [entry("GET", f"{H}/queues/emails/stats", resp={"depth": 3})]
        assert _shape(_ops(_analyze(raw))) == {"GET /jobs/{}", "GET /queues/{}/stats"}

    def test_plain_words_named_elsewhere_beside_literals_stay_literal(self) -> None:
        """Command names in a settings body do not turn ``/{id}/restart`` into a parameter."""
        raw = [entry("GET", f"{H}/settings", resp={"commands": [{"name": "restart"}]})]
        raw += [entry("POST", f"{H}/kernels/{n}/restart", resp={"ok": True}) for n in (1, 2)]
        raw += [entry("POST", f"{H}/kernels/{n}/interrupt", resp=None, status=204) for n in (1, 2)]
        assert _ops(_analyze(raw)) == {
            "GET /settings",
            "POST /kernels/{kernel_id}/restart",
            "POST /kernels/{kernel_id}/interrupt",
        }


class TestFilePaths:
    """Multi-segment and odd-character ids become one greedy parameter."""

    def _contents(self) -> list[dict[str, Any]]:
        files = ["notes.md", "Read Me.txt", "docs/guide.md", "docs/data/2026 q3.csv"]
        listing = [{"name": f.rsplit("/", 1)[-1], "path": f, "type": "file"} for f in files]
        raw = [entry("GET", f"{H}/api/files", resp={"content": listing})]
        for f in files:
            quoted = f.replace(" ", "%20")
            raw.append(entry("GET", f"{H}/api/files/{quoted}", resp={"path": f, "size": 1}))
            raw.append(entry("GET", f"{H}/api/files/{quoted}/history", resp=[{"id": "c1"}]))
        return raw

    def test_file_paths_of_several_depths_are_one_parameter(self) -> None:
        """Dots, spaces and slashes at several depths; a literal route below still routes."""
        analysis = _analyze(self._contents())
        assert _shape(_ops(analysis)) == {
            "GET /api/files",
            "GET /api/files/{}",
            "GET /api/files/{}/history",
        }
        op = next(o for o in analysis.operations if o.template.path.endswith("}"))
        assert dict(op.template.param_shapes).values() == {"path"} or set(
            dict(op.template.param_shapes).values()
        ) == {"path"}
        assert op.evidence.count == 4  # every file, whatever its depth

    def test_plugin_ids_with_at_slash_colon(self) -> None:
        """``@scope/plugin:setting`` ids listed by the parent are one parameter."""
        ids = ["@acme/editor:keys", "@acme/theme-ext:colors", "@other/pkg:plugin"]
        raw = [entry("GET", f"{H}/lab/api/settings", resp={"settings": [{"id": i} for i in ids]})]
        raw += [entry("GET", f"{H}/lab/api/settings/{i}", resp={"id": i, "raw": "{}"}) for i in ids]
        raw += [entry("PUT", f"{H}/lab/api/settings/{ids[0]}", body={"raw": "{}"}, status=204)]
        assert _shape(_ops(_analyze(raw))) == {
            "GET /lab/api/settings",
            "GET /lab/api/settings/{}",
            "PUT /lab/api/settings/{}",
        }

    def test_greedy_card_input_keeps_slashes(self) -> None:
        """The card marks the file-path argument greedy, so the runtime keeps its '/'."""
        from toolgen.build import build_cards
        from zapi.redact import Redactor

        cards = build_cards(_analyze(self._contents()), Redactor())
        card = next(c for c in cards if c.path.endswith("}") and c.method == "GET")
        props = card.input_schema["properties"]
        assert any(p.get("x-greedy") for p in props.values()), props


# -- properties ------------------------------------------------------------------
slug = st.from_regex(r"[a-z]{3,7}[-_][a-z]{3,7}", fullmatch=True)


class TestProperties:
    """Templating is stable under renamed ids, reordered samples and split captures."""

    @settings(max_examples=25, deadline=None)
    @given(st.lists(slug, min_size=12, max_size=12, unique=True))
    def test_stable_when_ids_are_renamed(self, names: list[str]) -> None:
        base = _shape(_ops(_analyze(_repo_traffic(SLUGS_A, SLUGS_B))))
        renamed = _shape(_ops(_analyze(_repo_traffic(names[:6], names[6:]))))
        assert renamed == base

    @settings(max_examples=25, deadline=None)
    @given(st.randoms(use_true_random=False))
    def test_stable_when_samples_are_reordered(self, rnd: random.Random) -> None:
        raw = _repo_traffic(SLUGS_A, SLUGS_B) + TestFilePaths()._contents()
        shuffled = list(raw)
        rnd.shuffle(shuffled)
        assert _ops(_analyze(shuffled)) == _ops(_analyze(raw))

    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=4))
    def test_stable_when_the_capture_is_split(self, cuts: list[int]) -> None:
        raw = _repo_traffic(SLUGS_A, SLUGS_B) + TestFilePaths()._contents()
        items = _entries(raw)
        bounds = sorted({0, *(c % len(items) for c in cuts), len(items)})
        whole = Collector().feed_all(items).finish()
        merged = Collector()
        for a, b in zip(bounds, bounds[1:], strict=False):
            merged.merge(Collector().feed_all(items[a:b]))
        assert _ops(merged.finish()) == _ops(whole)


class TestConfidence:
    """Each template says which evidence decided it; the report lists doubtful ones first."""

    def test_reasons_name_the_evidence_and_report_sorts_by_confidence(self, tmp_path: Path) -> None:
        import json
        import re

        from zapi.api import analyze

        raw = TestFilePaths()._contents()
        raw += [entry("GET", f"{H}/api/orders/{n}", resp={"id": n}) for n in (11, 12, 13)]
        raw += [entry("GET", f"{H}/api/tags/{t}", resp={"n": 1}) for t in ("red-x", "blue-y")]
        har = tmp_path / "in.har"
        har.write_text(json.dumps({"log": {"version": "1.2", "entries": raw}}))
        result = analyze([str(har)], str(tmp_path / "out"))
        ops = {o.template.path: o.template for o in _analyze(raw).operations}
        assert any("id-shaped values (integer)" in r for r in ops["/api/orders/{order_id}"].reasons)
        files = next(t for p, t in ops.items() if p.startswith("/api/files/{"))
        assert any("name as one id" in r for r in files.reasons)
        report = Path(result.report_path).read_text()
        table = report.split("## Operations", 1)[1].split("## Dropped", 1)[0]
        confs = [float(m) for m in re.findall(r"\| (\d\.\d\d) \|", table)]
        assert len(confs) >= 4 and confs == sorted(confs) and confs[0] < confs[-1]
