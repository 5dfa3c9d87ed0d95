"""report.md: what was found, with confidence and evidence, and what was dropped and why."""

from __future__ import annotations

from toolgen.cards import ToolCard
from zapi.analyzer.model import Analysis
from zapi.redact import Redactor

__all__ = ["render_report"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_report(analysis: Analysis, cards: list[ToolCard], redactor: Redactor) -> str:
    """Markdown report of one analysis (deterministic; secrets scrubbed)."""
    a = analysis
    lines = [
        "# zapi analysis report",
        "",
        f"- HAR files: {len(a.sources)}",
        f"- entries read: {a.entries_read}; API calls kept: {a.entries_kept}; "
        f"operations: {len(cards)}",
        f"- first-party hosts: {', '.join(a.first_party) or 'none'}",
        f"- auth schemes: {', '.join(s.key for s in a.auth_schemes) or 'none seen'}",
    ]
    if a.csrf:
        lines.append(
            "- CSRF double-submit: "
            + ", ".join(f"cookie `{c or '?'}` → header `{h}`" for c, h in a.csrf)
        )
    lines += [
        "",
        "## Operations",
        "",
        "Lowest confidence first: confirm these, or pin them with `--rules`.",
        "",
        "| tool | method | path | safety | samples | confidence | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in sorted(cards, key=lambda c: (c.confidence, c.name)):
        lines.append(
            f"| `{c.name}` | {c.method} | `{_cell(c.path)}` | {c.safety} | {c.provenance.samples} "
            f"| {c.confidence:.2f} | {_cell('; '.join(c.reasons))} |"
        )
    lines += ["", "## Dropped entries", "", "| reason | count | examples |", "|---|---|---|"]
    for reason in sorted(a.dropped):
        ex = ", ".join(f"`{_cell(redactor.url(u))}`" for u in a.dropped_examples.get(reason, []))
        lines.append(f"| {reason} | {a.dropped[reason]} | {ex} |")
    if not a.dropped:
        lines.append("| (none) | 0 | |")
    if a.skipped_count:
        lines += ["", f"## Unreadable entries ({a.skipped_count})", ""]
        for src, idx, why in a.skipped:
            lines.append(f"- `{src}` entry {idx}: {why}")
    lines += ["", "## Hosts seen", "", "| host | entries | first-party |", "|---|---|---|"]
    first = set(a.first_party)
    for h, n in sorted(a.hosts.items()):
        lines.append(f"| {h} | {n} | {'yes' if h in first else 'no'} |")
    return redactor.text("\n".join(lines)) + "\n"
