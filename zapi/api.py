"""The Python API: analyze HAR files into tool cards, OpenAPI and a report."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from zapi._gc import paused_gc
from zapi.analyzer.model import Analysis
from zapi.analyzer.paths import Rules
from zapi.analyzer.pipeline import AnalyzeOptions, Collector
from zapi.errors import AnalysisError
from zapi.files import load_model
from zapi.har import HarReader, expand_paths
from zapi.redact import Redactor

__all__ = [
    "AnalyzeResult",
    "analyze",
    "check_recording",
    "diff_captures",
    "load_rules",
    "plan_recording",
    "unmatched_rules",
]

_Template = Annotated[str, StringConstraints(pattern=r"^/")]
Progress = Callable[[int, int, int, int], None]  # (entries, bytes read, total bytes, operations)


@dataclass(repr=False)
class AnalyzeResult:
    """What ``analyze`` produced and where it wrote it."""

    analysis: Analysis
    out_dir: str
    openapi_path: str
    report_path: str
    card_paths: list[str] = field(default_factory=list)
    unmatched_rules: list[str] = field(default_factory=list)  # "force /x/{y}" lines

    def __repr__(self) -> str:
        """A one-line summary (the analysis itself can be megabytes)."""
        a = self.analysis
        return (
            f"<AnalyzeResult {len(self.card_paths)} tools from {a.entries_kept} API calls "
            f"({a.entries_read} entries) in {self.out_dir!r}>"
        )

    def summary(self) -> dict[str, object]:
        """A JSON-ready summary: counts, where things were written, rules that matched nothing."""
        a = self.analysis
        return {
            "out_dir": self.out_dir,
            "openapi": self.openapi_path,
            "report": self.report_path,
            "cards": sorted(self.card_paths),
            "tools": len(self.card_paths),
            "entries_read": a.entries_read,
            "entries_kept": a.entries_kept,
            "dropped": dict(sorted(a.dropped.items())),
            "unmatched_rules": list(self.unmatched_rules),
        }


def _segments(template: str) -> list[str]:
    return ["{}" if s.startswith("{") else s for s in template.split("/") if s]


def unmatched_rules(rules: Rules, card_paths: Sequence[str]) -> list[str]:
    """The rules that shaped no tool: a ``force`` no card path took, a ``forbid`` no path hit.

    A ``forbid`` counts as used when a card path has the forbidden shape with a
    literal where the parameter would be (``/users/alice`` for ``/users/{user_id}``).
    """
    shapes = [_segments(p) for p in card_paths]
    out = [f"force {t}" for t in rules.force if _segments(t) not in shapes]
    for t in rules.forbid:
        want = _segments(t)
        if not any(
            len(have) == len(want)
            and all(w == h or (w == "{}" and h != "{}") for w, h in zip(want, have, strict=True))
            for have in shapes
        ):
            out.append(f"forbid {t}")
    return out


class _RulesFile(BaseModel):
    """The ``--rules`` file: path templates to force and to forbid."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    force: tuple[_Template, ...] = ()
    forbid: tuple[_Template, ...] = ()


def load_rules(path: str | None) -> Rules:
    """Read a ``--rules`` file: JSON or YAML with ``force`` and ``forbid`` template lists.

    Raises:
        AnalysisError: the file is missing or malformed (names the file and field).
    """
    if not path:
        return Rules()
    data = load_model(
        path,
        _RulesFile,
        what="rules file",
        fix="fix the rules file ('force' and 'forbid': lists of templates starting with '/')",
        error=AnalysisError,
    )
    return Rules(force=data.force, forbid=data.forbid)


def _read_sidecar(har_path: str) -> dict[tuple[str, int], str]:
    """UI action attributions from a recorder sidecar next to the HAR, if present."""
    side = har_path + ".actions.json"
    if not os.path.exists(side):
        return {}
    try:
        with open(side, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    out = {}
    for item in data.get("attributions", []) if isinstance(data, dict) else []:
        if isinstance(item, dict) and isinstance(item.get("entry"), int) and item.get("action"):
            out[(har_path, int(item["entry"]))] = str(item["action"])
    return out


# Below this, a second process costs more than it saves (starting it, sending answers back).
BESIDE_MIN_BYTES = 4 << 20
# Up to this, the flows pass keeps the capture's entries (less their response bodies) in
# memory, so it can read them before the cards exist (``toolgen.flows.flows_early``).
EARLY_FLOWS_MAX_BYTES = 64 << 20


def _capture_bytes(paths: Sequence[str]) -> int:
    return sum(os.path.getsize(f) for f in expand_paths(list(paths)) if os.path.exists(f))


def collect(
    paths: Sequence[str],
    options: AnalyzeOptions,
    progress: Progress | None = None,
    redactor: Redactor | None = None,
    *,
    workers: int | None = None,
) -> Collector:
    """Stream every HAR into one collector, in worker processes when that pays.

    Args:
        paths: HAR files and folders of them, read as one capture in this order.
        options: analysis options.
        progress: called now and then with (entries, bytes read, total bytes,
            operations found so far).
        redactor: the redactor for examples kept while reading.
        workers: processes to read with; ``None`` picks 2 on a multi-core machine
            for captures over ``PARALLEL_MIN_BYTES``, or over ``DENSE_MIN_BYTES`` when
            they are many small entries (``parallel.entries_per_mib``), and 1
            otherwise.  The result is the same for any value.
    """
    files = expand_paths(list(paths))
    ui: dict[tuple[str, int], str] = dict(options.ui_actions)
    for f in files:
        ui.update(_read_sidecar(f))
    opts = AnalyzeOptions(
        include_hosts=options.include_hosts,
        exclude_hosts=options.exclude_hosts,
        rules=options.rules,
        filters=options.filters,
        ui_actions=ui,
    )
    redactor = redactor or Redactor()
    total = sum(os.path.getsize(f) for f in files if os.path.exists(f))
    if workers is None:
        from zapi.analyzer.parallel import (
            DENSE_ENTRIES_PER_MIB,
            DENSE_MIN_BYTES,
            PARALLEL_MIN_BYTES,
            entries_per_mib,
        )

        split = total > PARALLEL_MIN_BYTES or (
            total >= DENSE_MIN_BYTES and entries_per_mib(files) >= DENSE_ENTRIES_PER_MIB
        )
        workers = min(2, os.cpu_count() or 1) if split else 1
    if workers > 1 and all(os.path.exists(f) for f in files):
        from zapi.analyzer.parallel import collect_parallel

        par = collect_parallel(files, opts, redactor, workers, progress)
        if par is not None:
            return par
    col = Collector(opts, redactor=redactor)
    done_bytes = 0
    n = 0
    for f in files:
        reader = HarReader(f)
        for item in reader:
            col.feed(item)
            n += 1
            if progress is not None and n % 1000 == 0:
                progress(n, done_bytes + reader.bytes_read, total, len(col.groups))
        done_bytes += os.path.getsize(f)
    if progress is not None:
        progress(n, total, total, len(col.groups))
    return col


@paused_gc()  # zapi/_gc.py: a quarter of the run went to collecting nothing
def analyze(
    paths: Sequence[str],
    out_dir: str,
    *,
    include_hosts: Sequence[str] = (),
    exclude_hosts: Sequence[str] = (),
    rules: str | Rules | None = None,
    redact: bool = True,
    progress: Progress | None = None,
    workers: int | None = None,
) -> AnalyzeResult:
    """Analyze HAR files or folders; write ``openapi.json``, ``cards/`` and ``report.md``.

    Raises:
        HarError: a HAR cannot be read (names the file and entry).
        AnalysisError: no API operation was found (says what was seen), or bad rules.
        SpecValidationError: the OpenAPI document would be invalid; nothing is written.
    """
    from toolgen.build import build_cards_with_texts
    from toolgen.flows import attach_flows_beside, flows_early, send_cards
    from toolgen.openapi import validation_standby
    from zapi.files import atomic_write

    if not paths:
        raise ValueError("analyze() needs at least one HAR path")
    rules_obj = rules if isinstance(rules, Rules) else load_rules(rules)
    options = AnalyzeOptions(
        include_hosts=tuple(include_hosts), exclude_hosts=tuple(exclude_hosts), rules=rules_obj
    )
    redactor = Redactor(enabled=redact)
    # Large captures share work with forked processes (zapi._beside); the outputs are the
    # same whatever runs where.  Two start now, beside the collection, and wait for what
    # they need: the flows pass reads the capture (on a capture that fits in memory) and
    # waits for the cards; the validator loads and waits for the document.
    size = _capture_bytes(paths)
    parallel = workers != 1 and size >= BESIDE_MIN_BYTES
    early = flows_early(paths) if parallel and size < EARLY_FLOWS_MAX_BYTES else None
    checker = validation_standby(enabled=parallel)
    try:
        col = collect(paths, options, progress, redactor, workers=workers)
        analysis = col.finish()
        if not analysis.operations:
            raise AnalysisError(_nothing_found(analysis, options))
        built = build_cards_with_texts(analysis, redactor, parallel=parallel)
        cards = [card for card, _ in built]
        # flows (inputs_from hints, OUT/flows.json) go on beside the OpenAPI build and
        # validation, which do not depend on them
        flows = (
            send_cards(early, cards)
            if early is not None
            else attach_flows_beside(paths, cards, enabled=parallel)
        )
        texts = {id(card): text for card, text in built}
        out = _documents(analysis, cards, flows, redactor, checker.send, texts)
    finally:
        checker.close()
        if early is not None:
            early.close()
    cards_dir = os.path.join(out_dir, "cards")
    os.makedirs(cards_dir, exist_ok=True)
    keep = {f"{c.name}.json" for c in out.cards}
    for stale in os.listdir(cards_dir):
        if stale.endswith(".json") and stale not in keep:
            os.unlink(os.path.join(cards_dir, stale))
    card_paths = []
    for c, text in zip(out.cards, out.card_texts, strict=True):
        p = os.path.join(cards_dir, f"{c.name}.json")
        atomic_write(p, text)
        card_paths.append(p)
    openapi_path = os.path.join(out_dir, "openapi.json")
    atomic_write(openapi_path, out.openapi)
    atomic_write(os.path.join(out_dir, "flows.json"), out.flows)
    report_path = os.path.join(out_dir, "report.md")
    atomic_write(report_path, out.report)
    unused = unmatched_rules(rules_obj, [c.path for c in out.cards])
    return AnalyzeResult(analysis, out_dir, openapi_path, report_path, card_paths, unused)


@dataclass
class _Documents:
    """Everything ``analyze`` writes, as text, checked before any of it is written."""

    cards: list[Any]  # ToolCard, with their flow hints
    card_texts: list[str]
    openapi: str
    flows: str
    report: str


def _documents(
    analysis: Analysis,
    cards: list[Any],
    flows: Callable[[], tuple[list[Any], Any]],
    redactor: Redactor,
    check: Callable[[dict[str, Any]], Callable[[], str | None]],
    texts: dict[int, str],
) -> _Documents:
    """The OpenAPI document, the cards with their flow hints and the report, as text.

    ``check(doc)`` starts the document's validation (``validation_error``) and returns
    a call for its answer, asked for only once everything else is ready.  ``texts``:
    the cards' texts by card identity; a card the flows gave hints is a new card,
    dumped here.
    """
    from toolgen.flows import flows_markdown
    from toolgen.openapi import build_openapi, dump_json, validate_openapi
    from toolgen.report import render_report

    try:
        doc = build_openapi(cards, analysis)
        checked = check(doc)
        doc_text = dump_json(doc)
    except BaseException:
        with contextlib.suppress(Exception):
            flows()  # reap the flows pass's process; what went wrong here is the error
        raise
    cards, graph = flows()
    card_texts = [texts.get(id(c)) or c.dump() for c in cards]
    report = render_report(analysis, cards, redactor) + flows_markdown(graph)
    if checked() is not None:
        validate_openapi(doc)  # raises the error here, with its full detail
    return _Documents(cards, card_texts, doc_text, graph.dump(), report)


def _nothing_found(a: Analysis, options: AnalyzeOptions) -> str:
    seen = ", ".join(f"{h} ({n})" for h, n in sorted(a.hosts.items(), key=lambda kv: -kv[1])[:8])
    drops = ", ".join(f"{r}: {n}" for r, n in sorted(a.dropped.items()))
    scope = ""
    if options.include_hosts:
        scope = f" with --include-host {' '.join(options.include_hosts)}"
    return (
        f"no API operations found in {a.entries_read} entries{scope}; hosts seen: "
        f"{seen or 'none'}; dropped: {drops or 'nothing'}; "
        "check --include-host/--exclude-host or record API traffic"
    )


# -- flows: plan from a recording, drift between captures, contract check ------


def _tool_set(path: str, work: str) -> dict[str, Any]:
    """Cards of an analysis folder, or of a HAR (or folder of HARs) analysed into ``work``."""
    from toolgen.cards import load_cards

    if os.path.isdir(path) and (
        os.path.isdir(os.path.join(path, "cards"))
        or any(f.endswith(".json") for f in os.listdir(path))
    ):
        return dict(load_cards(path))
    analyze([path], work)
    return dict(load_cards(work))


def plan_recording(
    har: str, tools_dir: str, *, name: str = "", only: Sequence[str] = ()
) -> tuple[dict[str, Any], str]:
    """A ``zapi run`` plan (dict and YAML text) from the writes of a recording.

    Raises:
        HarError: the HAR cannot be read.
        ToolCardError: ``tools_dir`` holds no cards.
        AnalysisError: the recording holds no successful write of these tools.
        WorkflowError: the generated plan does not validate.
    """
    import re

    from runtime.workflows.plan import Plan
    from toolgen.cards import load_cards
    from toolgen.flowplan import build_plan, dump_plan, recorded_calls
    from zapi.har import expand_paths, iter_har_files

    cards = list(load_cards(tools_dir).values())
    unknown = sorted(set(only) - {c.name for c in cards})
    if unknown:
        raise AnalysisError(f"--only {', '.join(unknown)}: no such tool in {tools_dir}")
    calls = recorded_calls(iter_har_files(expand_paths([har])), cards)
    stem = os.path.basename(har).split(".")[0]
    plan_name = name or re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:64] or "recorded"
    try:
        plan = build_plan(calls, cards, name=plan_name, source=os.path.basename(har), only=only)
    except ValueError as exc:
        raise AnalysisError(f"{har}: {exc}; record the writes you want replayed") from exc
    try:
        Plan.model_validate(plan)
    except ValueError as exc:
        from zapi.errors import WorkflowError

        raise WorkflowError(f"{har}: the generated plan is invalid ({exc})") from exc
    header = (
        f"Plan replayed from {os.path.basename(har)} by `zapi plan`: edit freely.\n"
        "${steps.ID.output...} = a value an earlier response gave; ${inputs.x} = a value typed "
        "in the recording\n(override with --input x=...)."
    )
    return plan, dump_plan(plan, header=header)


def diff_captures(old: str, new: str) -> Any:
    """A :class:`toolgen.diff.DriftReport` from OLD to NEW (analysis folders or HARs).

    Raises:
        HarError: a HAR cannot be read.
        ToolCardError: a folder holds no cards.
    """
    import tempfile

    from toolgen.diff import diff_cards

    with tempfile.TemporaryDirectory(prefix="zapi-diff-") as tmp:
        a = _tool_set(old, os.path.join(tmp, "old"))
        b = _tool_set(new, os.path.join(tmp, "new"))
    return diff_cards(a, b)


def check_recording(har: str, tools_dir: str) -> Any:
    """A :class:`toolgen.contract.CheckReport`: where the HAR's calls disagree with the cards.

    Raises:
        HarError: the HAR cannot be read.
        ToolCardError: ``tools_dir`` holds no cards.
    """
    from toolgen.cards import load_cards
    from toolgen.contract import check_traffic
    from zapi.har import expand_paths, iter_har_files

    cards = list(load_cards(tools_dir).values())
    return check_traffic(iter_har_files(expand_paths([har])), cards)
