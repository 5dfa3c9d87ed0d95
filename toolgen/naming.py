"""Tool names: readable, stable, unique and valid for MCP, OpenAI and Anthropic."""

from __future__ import annotations

import keyword
import re

from toolgen.safety import DESTRUCTIVE_WORDS, READ_WORDS, WRITE_WORDS, created_evidence
from zapi.analyzer.model import Operation
from zapi.analyzer.paths import singular
from zapi.analyzer.protocols import tool_prefix

__all__ = ["answers_a_listing", "arg_name", "plural", "tool_names"]

_EXT = re.compile(r"\.(do|php|aspx?|jsp|cgi|action|json|xml|html?|csv)$", re.I)
_SKIP = re.compile(r"^(api|rest|v\d+(\.\d+)?|\d+)$", re.I)
_ACTION_WORDS = frozenset(
    [
        "login",
        "logout",
        "signin",
        "signout",
        "signup",
        "register",
        "search",
        "find",
        "import",
        "export",
        "upload",
        "download",
        "approve",
        "reject",
        "cancel",
        "archive",
        "restore",
        "publish",
        "unpublish",
        "reset",
        "sync",
        "refresh",
        "verify",
        "validate",
        "confirm",
        "enable",
        "disable",
        "start",
        "stop",
        "restart",
        "reboot",
        "poweron",
        "poweroff",
        "shutdown",
        "attach",
        "detach",
        "assign",
        "unassign",
        "retry",
        "resize",
        "rebuild",
        "clone",
        "copy",
        "move",
        "merge",
        "lock",
        "unlock",
        "send",
        "resend",
        "apply",
        "execute",
        "create",
        "find",
        "get",
        "add",
        "remove",
        "set",
        "update",
        "delete",
        "list",
        "change",
    ]
)


# Action words a GET can perform: it reads, searches, exports or checks.
_READ_ACTIONS = frozenset(
    ["search", "find", "get", "list", "export", "download", "verify", "validate", "confirm"]
)
# A field naming an object's own identity: ``id``, ``uuid``, ``dag_id``, ``userId``.
_ID_WORD = re.compile(r"(^|_)(id|uuid|guid)$|[a-z]Id$")
# Query keys that page through a list: a GET that takes one reads a collection.
_PAGE_KEYS = frozenset(
    {"page", "per_page", "perpage", "page_size", "pagesize", "page_token", "pagetoken"}
    | {"limit", "offset", "cursor"}
)


# Words that name an action when they lead a segment (``set_state``); any other
# singular segment a POST created something under is a sub-resource (``filter_state``).
_VERBS = (_ACTION_WORDS | WRITE_WORDS | DESTRUCTIVE_WORDS) - READ_WORDS


def plural(word: str) -> str:
    """A cheap plural of a resource name: ``dashboard`` → ``dashboards``, ``y`` → ``ies``."""
    low = word.lower()
    if low.endswith("s") and not low.endswith(("ss", "us", "is")):
        return word
    if low.endswith("y") and len(low) > 2 and low[-2] not in "aeiou":
        return word[:-1] + "ies"
    if low.endswith("is") and len(low) > 3:
        return word[:-2] + "es"  # analysis → analyses
    if low.endswith(("ss", "us", "x", "z", "ch", "sh")):
        return word + "es"  # status → statuses
    return word + "s"


def _snake(word: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", word)
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()


def arg_name(wire: str, used: set[str]) -> str:
    """A safe Python identifier for a wire name (query key, header, field), unique in ``used``."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", wire).strip("_") or "arg"
    if base[0].isdigit():
        base = "p_" + base
    if keyword.iskeyword(base) or base in ("self", "cls"):
        base += "_"
    base = base[:60]
    name, i = base, 2
    while name in used:
        name = f"{base}_{i}"
        i += 1
    used.add(name)
    return name


def _words(op: Operation) -> tuple[list[str], bool, str | None]:
    """Resource words, whether the path ends in a parameter, and a trailing action word."""
    segs = [s for s in op.template.path.split("/") if s]
    ends_param = bool(segs) and segs[-1].startswith("{")
    lits = [_EXT.sub("", s) for s in segs if not s.startswith("{") and not _SKIP.match(s)]
    action = None
    if lits and not ends_param:
        last = _snake(lits[-1])
        first = last.split("_")[0]
        if (
            op.method == "POST"
            and len(last.split("_")) > 1
            and any(w in _ACTION_WORDS for w in last.split("_")[1:])
        ):
            return [_snake(w) for w in lits[:-1]], ends_param, last  # bin_update.do: bin_update
        # A read word leading a compound that created something names a thing
        # (``search_state``), as in safety: it is no action.
        created = op.method == "POST" and bool(created_evidence(op))
        # A GET only reads: a write verb leading a compound names a thing (importErrors);
        # alone it is the action (GET /user/login).
        reads = op.method in ("GET", "HEAD") and "_" in last
        verb = first in (_READ_ACTIONS if reads else _ACTION_WORDS)
        if (
            (verb and not (created and first in READ_WORDS))
            or (len(lits) >= 2 and segs[-2] in ("actions", "action"))
            or (
                len(segs) >= 2
                and segs[-2].startswith("{")
                and op.method == "POST"
                and not last.endswith("s")
                and not (created and first not in _VERBS)
            )
        ):
            action = last
            lits = lits[:-1]
            if lits and lits[-1].lower() in ("actions", "action"):
                lits = lits[:-1]
    return [_snake(w) for w in lits], ends_param, action


# Read words that are nouns: ``/flow_runs/history`` reads the history of flow runs.
_READ_NOUNS = frozenset(
    {"history", "stats", "statistics", "summary", "aggregate", "aggregates", "preview"}
)
# The read words are safety's (one list, so naming and safety never disagree); the
# nouns above name what is read, and "exists" answers a question rather than naming it.
_READ_VERBS = READ_WORDS - _READ_NOUNS - {"exists"}


def _read_candidate(op: Operation, depth: int) -> str:
    """A read that is not a GET is named by its read word: filter_flow_runs, count_task_runs."""
    segs = [s for s in op.template.path.split("/") if s]
    lits = [_EXT.sub("", s) for s in segs if not s.startswith("{") and not _SKIP.match(s)]
    if not lits:
        return "query_root"
    last = _snake(lits[-1])
    ws = last.split("_")
    res = [_snake(w) for w in lits[:-1]][-depth:]
    if res and len(segs) >= 2 and segs[-2].startswith("{"):
        res[-1] = singular(res[-1])  # /projects/{name}/get reads one project
    if ws[0] in _READ_VERBS:
        if len(ws) > 1:
            return "_".join([*[singular(w) for w in res[:-1]], last]) if depth > 1 else last
        return "_".join([ws[0], *res]) if res else ws[0]
    if ws[-1] in _READ_NOUNS:
        return "_".join(["get", *[singular(w) for w in res], last])
    return "_".join(["query", *res, last]) if res else f"query_{last}"


def _candidate(
    op: Operation,
    depth: int,
    hint: str = "",
    collection: bool = False,
    listing: bool | None = None,
) -> str:
    if op.protocol in ("graphql", "jsonrpc") and op.discriminator:
        return f"{tool_prefix(op.protocol)}_{_snake(op.discriminator)}"
    if hint == "login":
        return "login" if depth == 1 else "_".join(["login", *_words(op)[0][-depth + 1 :]])
    if hint == "read" and op.method not in ("GET", "HEAD"):
        return _read_candidate(op, depth)
    if hint == "action":
        segs = [s for s in op.template.path.split("/") if s]
        lits = [_snake(_EXT.sub("", s)) for s in segs if not s.startswith("{")]
        lits = [w for w in lits if not _SKIP.match(w) and w not in ("actions", "action")]
        return "_".join(["run", *[singular(w) for w in lits[-depth:]], "action"])
    words, ends_param, action = _words(op)
    m = op.method
    if action:
        res = [singular(w) for w in words[-depth:]] if words else []
        return "_".join([action, *res]) if res else action
    if not words:
        words = ["root"]
    segs = [s for s in op.template.path.split("/") if s]
    # A sub-resource of one item (/items/{id}/stock) is named with its parent: update_item_stock.
    sub_resource = not ends_param and len(segs) >= 2 and segs[-2].startswith("{")
    tail = words[-max(depth, 2 if sub_resource and len(words) >= 2 else 1) :]
    body = [singular(w) for w in tail[:-1]]
    last = tail[-1]
    if sub_resource and m in ("PUT", "PATCH"):
        return "_".join(["update", *body, last])
    if m in ("GET", "HEAD"):
        if ends_param:
            verb, noun = "get", singular(last)
        elif collection or (
            (_paged(op) or (answers_a_listing(op) if listing is None else listing))
            and not _under_plural(segs)
        ):
            # /board/ beside /board/{id}, paged, or answered with a listing: the list of
            # boards (a word right under a plural, /runs/nightly, may be one item's value)
            verb, noun = "list", plural(last)
        else:
            # settings, menus; not status, address or analysis
            is_plural = last.endswith("s") and not last.endswith(("ss", "tus", "sis"))
            verb, noun = ("list", last) if is_plural else ("get", last)
    elif m == "POST":
        verb, noun = ("create", singular(last)) if not ends_param else ("post", singular(last))
    elif m == "PUT":
        verb, noun = ("update" if ends_param else "replace", singular(last))
    elif m == "PATCH":
        verb, noun = ("update" if ends_param else "patch", singular(last))
    elif m == "DELETE":
        verb, noun = ("delete", singular(last))
    else:
        verb, noun = (m.lower(), singular(last))
    return "_".join([verb, *body, noun])


def _paged(op: Operation) -> bool:
    return bool(_PAGE_KEYS & {q.lower().strip("_$") for q in op.evidence.query})


def answers_a_listing(op: Operation) -> bool:
    """Every 2xx JSON answer is a listing: objects in an array or in an envelope.

    The envelope is an object with no id of its own holding exactly one array of
    objects (``{"count": 2, "result": [...]}``); an item (``{"id": 7, "tags": [...]}``)
    is no listing.
    """
    seen = False
    for status, rs in op.evidence.responses.items():
        stats = rs.bodies.get("json") if 200 <= status < 300 else None
        if stats is None or stats.schema is None:
            continue
        sch, seen = stats.schema, True
        if set(sch.types) == {"array"}:
            if sch.items is None or "object" not in sch.items.types:
                return False
            continue
        if set(sch.types) != {"object"} or any(_ID_WORD.search(k) for k in sch.props):
            return False
        rows = [n for n in sch.props.values() if n.items is not None and "object" in n.items.types]
        if len(rows) != 1:
            return False
    return seen


def _under_plural(segs: list[str]) -> bool:
    parent = segs[-2] if len(segs) >= 2 else ""
    return bool(parent) and not parent.startswith("{") and singular(parent) != parent


def _clean(name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    name = re.sub(r"_+", "_", name).strip("_") or "tool"
    return name[:64]


def tool_names(
    ops: list[Operation], hints: list[str] | None = None, listings: list[bool] | None = None
) -> list[str]:
    """Names for the operations, in order: shortest unambiguous, deterministic.

    Args:
        ops: the operations.
        hints: per operation, ``"read"`` (a read that is not a GET: named by its
            read word, never ``create_``), ``"login"``, ``"action"`` (one route whose
            query/body value selects the action: ``run_ui_action``) or ``""``.
        listings: per operation, :func:`answers_a_listing`, when it was found before
            (it reads the response schemas; ``build_cards`` finds it beside the rest).

    Linear in the number of operations: only clashing names are recomputed at a
    greater depth, and the last-resort numbering keeps one counter per name.
    """
    hs = hints if hints is not None else [""] * len(ops)
    memo: dict[tuple[str, str, str, str, str, str, int], str] = {}
    # Paths that have an item route below them (``/dashboard/{id}``): their GET lists.
    parents = {
        (op.origin, op.template.path.rstrip("/").rsplit("/", 1)[0])
        for op in ops
        if op.template.path.rstrip("/").rsplit("/", 1)[-1].startswith("{")
    }

    def name_at(i: int, d: int) -> str:
        op = ops[i]
        key = (op.origin, op.method, op.template.path, op.protocol, op.discriminator, hs[i], d)
        got = memo.get(key)
        if got is None:
            listed = (op.origin, op.template.path.rstrip("/")) in parents
            known = listings[i] if listings is not None else None
            got = memo[key] = _clean(_candidate(op, d, hs[i], listed, known))
        return got

    depth = [1] * len(ops)
    max_depth = 8
    names = [name_at(i, 1) for i in range(len(ops))]
    pending = list(range(len(ops)))
    while pending:
        seen: dict[str, list[int]] = {}
        for i, n in enumerate(names):
            seen.setdefault(n, []).append(i)
        clashing = [i for idx in seen.values() if len(idx) > 1 for i in idx]
        pending = [i for i in clashing if depth[i] < max_depth]
        for i in pending:
            depth[i] += 1
            names[i] = name_at(i, depth[i])
        if pending and all(name_at(i, depth[i] - 1) == names[i] for i in pending):
            break  # deeper names stopped changing: no more words to tell them apart
    # Still clashing (same words, different methods or origins): suffix deterministically.
    out: list[str] = []
    used: set[str] = set()
    counters: dict[str, int] = {}
    for n, op in zip(names, ops, strict=True):
        cand = n
        if cand in used and op.method == "PUT" and n.startswith("update_"):
            cand = "replace_" + n[len("update_") :]  # PUT replaces beside PATCH's update
        if cand in used:
            cand = _clean(f"{n}_{op.method.lower()}")
        base = cand
        i = counters.get(base, 2)
        while cand in used:
            cand = _clean(f"{base[:60]}_{i}")
            i += 1
        counters[base] = i
        used.add(cand)
        out.append(cand)
    return out
