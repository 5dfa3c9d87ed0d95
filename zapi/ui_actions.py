"""UI actions seen during a recording, and which API call each one caused.

An init script (:data:`INIT_SCRIPT`) reports navigations, clicks, fills,
Enter presses and form submits through a page binding, each stamped with the
browser clock.  :func:`attribute` pairs every recorded request with the latest
action that happened at most ``window_ms`` before it; :func:`build_sidecar`
writes the ``<har>.actions.json`` document that ``zapi.api.analyze`` reads to
ground tool descriptions.  Values typed into password (or secret-named) fields
are never stored: the action only says that a fill happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from zapi.redact import Redactor

__all__ = ["BINDING_NAME", "INIT_SCRIPT", "UiAction", "attribute", "build_sidecar", "describe"]

BINDING_NAME = "__zapiRecordAction"
_MAX_LABEL = 80
_MAX_VALUE = 200
_EARLY_SLACK_MS = 1.0  # Date.now() has 1 ms granularity; request times are finer

INIT_SCRIPT = (
    """
(() => {
  const B = "__BINDING__";
  if (window[B + "Installed"]) { return; }
  Object.defineProperty(window, B + "Installed", {value: true});
  const topFrame = window.top === window;
  const clip = (s, n) => (s || "").replace(/\\s+/g, " ").trim().slice(0, n);
  const send = (a) => {
    a.t = Date.now(); a.url = location.href; a.top = topFrame;
    try { const p = window[B] && window[B](a); if (p && p.catch) { p.catch(() => {}); } }
    catch (err) { /* the binding is gone while the page unloads */ }
  };
  const esc = (s) => (window.CSS && CSS.escape) ? CSS.escape(s) : s;
  const selector = (el) => {
    if (!el || !el.tagName) { return ""; }
    if (el.id) { return "#" + esc(el.id); }
    let s = el.tagName.toLowerCase();
    const classes = Array.from(el.classList || []).slice(0, 2);
    if (classes.length) { s += "." + classes.map(esc).join("."); }
    const name = el.getAttribute("name");
    if (name) { s += '[name="' + name + '"]'; }
    for (const at of Array.from(el.attributes)) {
      if (at.name.startsWith("data-")) {
        s += "[" + at.name + '="' + clip(at.value, 40) + '"]';
        break;
      }
    }
    return s;
  };
  const label = (el) => {
    if (!el || !el.getAttribute) { return ""; }
    const aria = el.getAttribute("aria-label");
    if (aria) { return clip(aria, __MAX__); }
    const tag = el.tagName;
    const field = tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
    if (tag === "INPUT" && ["submit", "button", "reset"].includes(el.type)) {
      return clip(el.value, __MAX__);
    }
    if (field && el.labels && el.labels.length) { return clip(el.labels[0].innerText, __MAX__); }
    if (!field) { const t = clip(el.innerText || el.textContent, __MAX__); if (t) { return t; } }
    return clip(el.placeholder || el.title || el.name || el.id || tag.toLowerCase(), __MAX__);
  };
  const isSecret = (el) => {
    if (el.type === "password") { return true; }
    const hint = [el.name, el.id, el.autocomplete].join(" ");
    return /pass|secret|token|otp|cvc|cvv|card-?number|cc-number|pin\\b/i.test(hint);
  };
  let pending = null;
  const flush = () => {
    if (!pending) { return; }
    const p = pending; pending = null; clearTimeout(p.timer);
    const el = p.el;
    const a = {kind: "fill", selector: selector(el), label: label(el), t0: p.t0,
               name: el.name || el.id || "", field_type: el.type || el.tagName.toLowerCase()};
    if (isSecret(el)) { a.secret = true; } else { a.value = clip(String(el.value), __MAXV__); }
    send(a);
  };
  const fieldOf = (t) => t && t.closest && t.closest("input,textarea,select,[contenteditable]");
  document.addEventListener("input", (ev) => {
    const el = fieldOf(ev.target);
    if (!el) { return; }
    if (pending && pending.el !== el) { flush(); }
    if (!pending) { pending = {el: el, t0: Date.now(), timer: 0}; }
    clearTimeout(pending.timer);
    pending.timer = setTimeout(flush, 600);
  }, true);
  document.addEventListener("change", (ev) => {
    const el = fieldOf(ev.target);
    if (el && pending && pending.el === el) { flush(); }
  }, true);
  document.addEventListener("click", (ev) => {
    flush();
    const el = (ev.target.closest && ev.target.closest(
      "a,button,input,select,textarea,label,summary,[role=button],[onclick]")) || ev.target;
    send({kind: "click", selector: selector(el), label: label(el)});
  }, true);
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") { return; }
    const el = fieldOf(ev.target);
    if (!el || el.tagName === "TEXTAREA") { return; }
    flush();
    send({kind: "key", key: "Enter", selector: selector(el), label: label(el)});
  }, true);
  document.addEventListener("submit", (ev) => {
    flush();
    const form = ev.target;
    const by = ev.submitter ? label(ev.submitter) : "";
    const named = form.getAttribute("name") || form.id || form.getAttribute("action");
    send({kind: "submit", selector: selector(form), label: by || clip(named, __MAX__)});
  }, true);
  window.addEventListener("pagehide", flush, true);
  Object.defineProperty(window, B + "Flush", {value: flush});
  if (topFrame && location.protocol.startsWith("http")) {
    send({kind: "navigate", selector: "", label: ""});
    for (const m of ["pushState", "replaceState"]) {
      const orig = history[m];
      history[m] = function (...args) {
        const r = orig.apply(this, args);
        send({kind: "navigate", selector: "", label: ""});
        return r;
      };
    }
    window.addEventListener("popstate", () => send({kind: "navigate", selector: "", label: ""}));
  }
})();
""".replace("__BINDING__", BINDING_NAME)
    .replace("__MAXV__", str(_MAX_VALUE))
    .replace("__MAX__", str(_MAX_LABEL))
)
"""Installed on every page of the recording context before any page script runs."""


@dataclass(frozen=True)
class UiAction:
    """One thing the person (or script) did in the page.

    Attributes:
        time_ms: browser wall clock when it happened (first keystroke for fills).
        kind: ``navigate``, ``click``, ``fill``, ``key`` or ``submit``.
        page_url: the page the action happened on.
        selector: a CSS selector for the element (``#id`` when it has one).
        label: the visible label (button text, ``<label>``, placeholder...).
        value: what was typed, only for non-secret fields.
        secret: the field held a password or other secret; its value was not kept.
    """

    time_ms: float
    kind: str
    page_url: str
    selector: str = ""
    label: str = ""
    value: str | None = None
    secret: bool = False
    field_name: str = ""

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], redactor: Redactor) -> UiAction | None:
        """Validate what the init script sent; ``None`` when it is not an action."""
        kind = payload.get("kind")
        if kind not in ("navigate", "click", "fill", "key", "submit"):
            return None
        t = payload.get("t0") if kind == "fill" else payload.get("t")
        if not isinstance(t, int | float):
            return None
        name = str(payload.get("name") or "")
        secret = bool(payload.get("secret")) or (
            kind == "fill" and bool(name) and redactor.is_secret(name)
        )
        value = payload.get("value")
        if kind == "key":
            value = str(payload.get("key") or "")
        return cls(
            time_ms=float(t),
            kind=str(kind),
            page_url=str(payload.get("url") or ""),
            selector=str(payload.get("selector") or "")[:300],
            label=str(payload.get("label") or "")[:_MAX_LABEL],
            value=None if secret or not isinstance(value, str) else value[:_MAX_VALUE],
            secret=secret,
            field_name=name[:100],
        )


def describe(action: UiAction) -> str:
    """Human phrase for an action, e.g. ``clicking 'Save stock' on /inventory``."""
    path = urlsplit(action.page_url).path or "/"
    if action.kind == "navigate":
        return f"opening {path}"
    verb = {
        "click": "clicking",
        "fill": "filling",
        "key": "pressing Enter in",
        "submit": "submitting",
    }[action.kind]
    what = action.label or action.selector or "the page"
    return f"{verb} '{what}' on {path}"


def attribute(
    request_starts_ms: Sequence[float], actions: Sequence[UiAction], *, window_ms: float = 2000.0
) -> list[int | None]:
    """For each request start, the index of the latest action at most ``window_ms`` before it.

    Fills attribute only when nothing else happened since (search-as-you-type);
    a click, key or submit after a fill wins.
    """
    order = sorted(range(len(actions)), key=lambda i: actions[i].time_ms)
    out: list[int | None] = []
    for start in request_starts_ms:
        best: int | None = None
        for i in order:
            t = actions[i].time_ms
            if t > start + _EARLY_SLACK_MS:
                break
            if start - t <= window_ms:
                best = i
        out.append(best)
    return out


def build_sidecar(
    har_name: str,
    actions: Sequence[UiAction],
    entry_starts_ms: Sequence[float],
    redactor: Redactor,
    *,
    window_ms: float = 2000.0,
    stable_times: bool = False,
) -> dict[str, Any]:
    """The ``<har>.actions.json`` document: the action list plus entry attributions.

    Args:
        har_name: file name of the HAR this sidecar belongs to.
        actions: the recorded actions, any order.
        entry_starts_ms: start time of each HAR entry, in entry order.
        redactor: scrubs URLs, labels and typed values.
        window_ms: how long after an action a request still counts as caused by it.
        stable_times: write ``t_ms`` on the HAR's stable timeline (entry *i* at
            *i* ms) instead of the wall clock, keeping the order, for diffable files.
    """
    ordered = sorted(actions, key=lambda a: a.time_ms)
    picks = attribute(entry_starts_ms, ordered, window_ms=window_ms)
    times = (
        _stable_times(ordered, entry_starts_ms)
        if stable_times
        else [round(a.time_ms, 1) for a in ordered]
    )
    out_actions = []
    for i, a in enumerate(ordered):
        item: dict[str, Any] = {
            "index": i,
            "t_ms": times[i],
            "kind": a.kind,
            "page_url": redactor.url(a.page_url),
            "selector": redactor.text(a.selector),
            "label": redactor.text(a.label),
        }
        if a.secret:
            item["secret"] = True
        elif a.value is not None:
            item["value"] = redactor.text(a.value)
        out_actions.append(item)
    attributions = [
        {"entry": entry, "action_index": pick, "action": redactor.text(describe(ordered[pick]))}
        for entry, pick in enumerate(picks)
        if pick is not None
    ]
    return {
        "schema_version": "1",
        "har": har_name,
        "window_ms": window_ms,
        "actions": out_actions,
        "attributions": attributions,
    }


def _stable_times(ordered: Sequence[UiAction], starts: Sequence[float]) -> list[float]:
    """Place actions between the entries they fall between, on a timeline of 1 ms per entry."""
    sorted_starts = sorted(starts)
    slots: list[int] = []
    for a in ordered:
        slots.append(sum(1 for s in sorted_starts if s < a.time_ms))
    out = []
    for i, slot in enumerate(slots):
        same = [j for j, s in enumerate(slots) if s == slot]
        k = same.index(i)
        out.append(round(slot - 1 + (k + 1) / (len(same) + 1), 3))
    return out
