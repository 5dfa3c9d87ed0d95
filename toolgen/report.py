"""report.md: what was found, with confidence and evidence, and what was dropped and why."""

from __future__ import annotations

import unicodedata

from toolgen.cards import ToolCard
from zapi.analyzer.model import Analysis
from zapi.redact import Redactor

__all__ = ["render_report"]


def _cell(text: str) -> str:
    """Text safe inside a table cell or code span: no control or bidi characters, no ``|``."""
    return _escape(text).replace("|", "\\|")


def _escape(text: str) -> str:
    """Control, format (bidi overrides, zero-width) and unpaired surrogate characters as escapes.

    Recorded URLs and names are attacker-controlled; a NUL, CR or U+202E copied raw
    into report.md could hide or reorder what a reader sees.
    """
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch == "`":
            out.append("\\x60")
        elif cat in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def render_report(analysis: Analysis, cards: list[ToolCard], redactor: Redactor) -> str:
    """Markdown report of one analysis (deterministic; secrets scrubbed)."""
    a = analysis
    lines = [
        "# zapi analysis report",
        "",
        f"- HAR files: {len(a.sources)}",
        f"- entries read: {a.entries_read}; API calls kept: {a.entries_kept}; "
        f"operations: {len(cards)}",
        f"- first-party hosts: {_escape(', '.join(a.first_party)) or 'none'}",
        f"- auth schemes: {_escape(', '.join(s.key for s in a.auth_schemes)) or 'none seen'}",
    ]
    if a.csrf:
        lines.append(
            "- CSRF double-submit: "
            + ", ".join(f"cookie `{_cell(c or '?')}` → header `{_cell(h)}`" for c, h in a.csrf)
        )
    lines += [
        "",
        "## Operations",
        "",
        "| tool | method | path | safety | samples | confidence | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in cards:
        safety = c.safety + (f" ({'; '.join(c.safety_reasons)})" if c.safety_reasons else "")
        if c.login is not None:
            safety += "; logs in"
        if not c.seen_working:
            safety += "; never seen working"
        lines.append(
            f"| `{_cell(c.name)}` | {_cell(c.method)} | `{_cell(c.path)}` | {_cell(safety)} "
            f"| {c.provenance.samples} "
            f"| {c.confidence:.2f} | {_cell('; '.join(c.reasons))} |"
        )
    lines += ["", "## Dropped entries", "", "| reason | count | examples |", "|---|---|---|"]
    for reason in sorted(a.dropped):
        ex = ", ".join(f"`{_cell(redactor.url(u))}`" for u in a.dropped_examples.get(reason, []))
        lines.append(f"| {_cell(reason)} | {a.dropped[reason]} | {ex} |")
    if not a.dropped:
        lines.append("| (none) | 0 | |")
    if a.skipped_count:
        lines += ["", f"## Unreadable entries ({a.skipped_count})", ""]
        for src, idx, why in a.skipped:
            lines.append(f"- `{_cell(src)}` entry {idx}: {_cell(why)}")
    lines += ["", "## Hosts seen", "", "| host | entries | first-party |", "|---|---|---|"]
    first = set(a.first_party)
    for h, n in sorted(a.hosts.items()):
        lines.append(f"| {_cell(h)} | {n} | {'yes' if h in first else 'no'} |")
    return redactor.text("\n".join(lines)) + "\n"
