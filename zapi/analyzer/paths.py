"""Path templating: ``/orders/8812`` → ``/orders/{order_id}``, from several signals at once.

Signals, per position in a trie of every observed path (per origin):

* **value shape** — integers, UUIDs, hex, ObjectIds, ULIDs, dates, prefixed
  ids and opaque tokens are parameters wherever they appear;
* **sibling cardinality** — a position where many distinct values each occur
  once or twice holds a parameter, while values repeated far more often than
  their siblings are literals (``/user/logout`` among ``/user/{username}``), and
  rare plain words of the kind of frequent literal siblings with the same
  continuations are literals too (``/api/volumes/list`` beside ``/api/runs/list``);
* **behaviour** — a repeated sibling whose requests look different from the
  parameter population (other methods, query keys, response shape, children)
  is a literal route (``/pet/findByStatus`` beside ``/pet/{id}``);
* **a word guard** — common API vocabulary (``me``, ``search``, ``login``…)
  never becomes a parameter, and a word never joins a population of numbers;
* **provenance** — a value the parent (or its ``filter``/``search`` endpoint)
  listed, or that bodies named as an id/name/key/code, is an identifier whatever
  its shape; several named words side by side join when they share
  continuations or answer alike (ids), not when they do neither (verbs);
* **place** — a word right under a version segment (``/api/v1/chart``) names a
  collection unless provenance says otherwise; a punctuation-only value
  (``~``) where ids go is a wildcard id.

Every decision carries a confidence and its reasons.  ``Rules`` force or
forbid templates and survive reruns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache

from zapi.shapes import Shape, classify, is_id_shape

__all__ = [
    "GREEDY",
    "PLACEHOLDER",
    "PathObservation",
    "Rules",
    "Template",
    "TemplateTrie",
    "build_templates",
    "is_version",
    "param_name",
    "singular",
]

PLACEHOLDER = "\x00"
_VOCAB = frozenset(
    [
        "me",
        "self",
        "current",
        "mine",
        "my",
        "search",
        "filter",
        "paginate",
        "find",
        "query",
        "lookup",
        "autocomplete",
        "suggest",
        "login",
        "logout",
        "signin",
        "signout",
        "signup",
        "register",
        "session",
        "sessions",
        "new",
        "create",
        "edit",
        "update",
        "delete",
        "remove",
        "count",
        "stats",
        "statistics",
        "summary",
        "export",
        "import",
        "upload",
        "download",
        "bulk",
        "batch",
        "all",
        "latest",
        "recent",
        "active",
        "default",
        "defaults",
        "settings",
        "config",
        "configuration",
        "preferences",
        "profile",
        "status",
        "health",
        "healthz",
        "ping",
        "info",
        "metadata",
        "meta",
        "schema",
        "history",
        "preview",
        "validate",
        "verify",
        "confirm",
        "cancel",
        "approve",
        "reject",
        "archive",
        "unarchive",
        "restore",
        "publish",
        "unpublish",
        "refresh",
        "sync",
        "reset",
        "token",
        "tokens",
        "auth",
        "oauth",
        "callback",
        "authorize",
        "me.json",
        "index",
        "list",
        "feed",
        "home",
        "dashboard",
        "admin",
        "public",
        "private",
        "internal",
        "graphql",
        "rpc",
        "api",
        "v1",
        "v2",
        "v3",
        "v4",
        "next",
        "previous",
        "prev",
        "first",
        "last",
        "top",
        "random",
        "today",
        "tomorrow",
        "yesterday",
        "pending",
        "open",
        "closed",
        "draft",
        "drafts",
        "trash",
        "archived",
        "favorites",
        "starred",
        "events",
        "notifications",
        "messages",
        "inbox",
        "outbox",
        "sent",
        "unread",
        "read",
        "actions",
        "action",
        "bulk_update",
    ]
)
# Words that name an operation, not a thing: a body naming one as an id does not make it one.
_CORE_VOCAB = frozenset(
    {
        *("me", "self", "current", "mine", "my", "search", "find", "query", "lookup"),
        *("login", "logout", "signin", "signout", "signup", "register", "new", "create"),
        *("count", "all", "batch", "bulk", "export", "import", "upload", "download"),
    }
)
# Version segments (``v1``, ``v2beta1``, ``2.0``, ``3.1.0``) are route words, never ids.
_VERSION = re.compile(r"^(?:v\d+(?:\.\d+)*(?:(?:alpha|beta|rc|a|b)\d*)?|\d+\.\d+(?:\.\d+)?)$", re.I)
_MAX_VERSIONS = 4  # more distinct version-like values than this at one position are ids
GREEDY = PLACEHOLDER + "path"  # a run of segments a body named as one id (a file path)
_PARAM_RE = re.compile(r"\{([^{}]+?)\+?\}")
_WILD = re.compile(r"^[^\w]+$")  # punctuation only: ``~``, ``-``, ``*``
_EXT = re.compile(r"^(.+?)(\.[A-Za-z][A-Za-z0-9]{0,5})$")


@dataclass(frozen=True)
class PathObservation:
    """One distinct request shape: method, path segments and how it behaved."""

    origin: str
    method: str
    segments: tuple[str, ...]
    count: int = 1
    signature: str = ""  # response / query behaviour summary
    echoed: tuple[int, ...] = ()  # segment positions whose value the bodies repeat
    values_only: bool = False  # placeholder segments were strong ids
    sourced: tuple[int, ...] = ()  # positions whose value a body named as an id/name/key
    listed: tuple[int, ...] = ()  # positions whose value the parent path's body listed
    spans: tuple[tuple[int, int], ...] = ()  # [i, j) runs a body named as one id (a file path)


@dataclass
class _Node:
    count: int = 0
    children: dict[str, _Node] = field(default_factory=dict)
    ops: dict[str, set[str]] = field(default_factory=dict)  # method -> behaviour signatures
    values: dict[str, int] = field(default_factory=dict)  # concrete values merged here
    shapes: dict[str, int] = field(default_factory=dict)
    values_overflow: bool = False
    echoed: int = 0  # requests whose bodies repeated this segment's value
    sourced: int = 0  # requests whose value a body named as an id/name/key field
    listed: int = 0  # requests whose value the parent path's response listed

    def add_value(self, v: str, n: int) -> None:
        if not self.values_overflow:
            self.values[v] = self.values.get(v, 0) + n
            if len(self.values) > 64:
                self.values_overflow = True
                self.values = dict(sorted(self.values.items())[:64])
        sh = classify(v).value if not v.startswith(PLACEHOLDER) else v[1:]
        self.shapes[sh] = self.shapes.get(sh, 0) + n

    def merge(self, other: _Node) -> None:
        self.count += other.count
        self.echoed += other.echoed
        self.sourced += other.sourced
        self.listed += other.listed
        for m, sigs in other.ops.items():
            self.ops.setdefault(m, set()).update(sigs)
        for v, n in other.values.items():
            if not self.values_overflow:
                self.values[v] = self.values.get(v, 0) + n
        if len(self.values) > 64:
            self.values_overflow = True
            self.values = dict(sorted(self.values.items())[:64])
        self.values_overflow = self.values_overflow or other.values_overflow
        for s, n in other.shapes.items():
            self.shapes[s] = self.shapes.get(s, 0) + n
        for k, c in other.children.items():
            mine = self.children.get(k)
            if mine is None:
                self.children[k] = c
            else:
                mine.merge(c)


@dataclass(frozen=True)
class Rules:
    """User overrides: templates to force, and parameter positions to forbid.

    ``force``: templates such as ``/files/{path+}`` or ``/orders/{order_id}``;
    any path they match takes exactly that template.  ``forbid``: templates
    such as ``/users/{user_id}`` that must never be produced; the segment
    stays literal there.
    """

    force: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()


@dataclass(frozen=True)
class Template:
    """A path template with per-parameter confidence and reasons."""

    path: str
    params: tuple[str, ...]
    confidence: float
    reasons: tuple[str, ...]
    param_shapes: tuple[tuple[str, str], ...] = ()  # (param, dominant shape)
    param_examples: tuple[tuple[str, str], ...] = ()


def singular(word: str) -> str:
    """A cheap singular form of a resource name: ``orders`` → ``order``."""
    w = word
    low = w.lower()
    if low.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if low.endswith(("sses", "xes", "ches", "shes")):
        return w[:-2]
    if low.endswith("s") and not low.endswith(("ss", "us", "is")) and len(w) > 3:
        return w[:-1]
    return w


def _snake(word: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", word)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()
    return s or "id"


def param_name(previous: str | None, used: set[str]) -> str:
    """Name a parameter after the literal segment before it (``orders`` → ``order_id``)."""
    base = f"{_snake(singular(previous))}_id" if previous else "id"
    if base[0].isdigit():
        base = "p_" + base
    name, i = base, 2
    while name in used:
        name = f"{base}_{i}"
        i += 1
    used.add(name)
    return name


class TemplateTrie:
    """The templated route tree of one origin; routes concrete paths to templates."""

    def __init__(self, rules: Rules | None = None) -> None:
        self.root = _TNode()
        self.rules = rules or Rules()

    def fold(self, segments: tuple[str, ...]) -> tuple[str, ...]:
        """Replace the values that land on a parameter with a placeholder of their shape.

        A run of segments landing on a greedy parameter becomes one placeholder.
        """
        out: list[str] = []
        if _match(self.root, segments, 0, out) is not None:
            return tuple(out)
        node = self.root
        out.clear()
        for i, seg in enumerate(segments):
            nxt = node.literals.get(seg)
            if nxt is not None and not seg.startswith("{"):
                out.append(seg)
            elif node.param is not None:
                nxt = node.param
                out.append(
                    seg if seg.startswith(PLACEHOLDER) else PLACEHOLDER + classify(seg).value
                )
            else:
                out.extend(segments[i:])
                break
            node = nxt
        return tuple(out)

    def route(self, segments: Iterable[str]) -> Template | None:
        """The template a concrete (or placeholder) path belongs to."""
        segs = _apply_force(tuple(segments), self.rules)
        hit = _match(self.root, segs, 0, [])
        if hit is not None:
            return hit.template
        node = self.root
        for seg in segs:
            nxt = node.literals.get(seg)
            if nxt is None:
                nxt = node.param
                if nxt is None:
                    return node.greedy.template if node.greedy is not None else None
            node = nxt
        return node.template


@dataclass
class _TNode:
    literals: dict[str, _TNode] = field(default_factory=dict)
    param: _TNode | None = None
    greedy: _TNode | None = None  # a parameter spanning one or more segments
    template: Template | None = None
    spans: bool = False  # a greedy node with routes below it (else it takes the whole rest)


def _match(node: _TNode, segs: tuple[str, ...], i: int, out: list[str]) -> _TNode | None:
    """Route ``segs[i:]`` below ``node``: literals first, then a parameter, then a greedy one.

    ``out`` receives the folded tokens (placeholders for parameter values).
    """
    if i == len(segs):
        return node if node.template is not None else None
    seg = segs[i]
    n = len(out)
    nxt = node.literals.get(seg)
    if nxt is not None:
        out.append(seg)
        hit = _match(nxt, segs, i + 1, out)
        if hit is not None:
            return hit
        del out[n:]
    if node.param is not None and seg != GREEDY:
        out.append(seg if seg.startswith(PLACEHOLDER) else PLACEHOLDER + classify(seg).value)
        hit = _match(node.param, segs, i + 1, out)
        if hit is not None:
            return hit
        del out[n:]
    g = node.greedy
    if g is not None:
        out.append(GREEDY)
        if not g.spans:
            return g if g.template is not None else None
        for j in range(i + 1, len(segs) + 1):  # the shortest run that routes the rest
            hit = _match(g, segs, j, out)
            if hit is not None:
                return hit
        del out[n:]
    return None


def _is_namespace(node: _Node) -> bool:
    """One id-shaped value that prefixes many routes (``/rest/api/2/...``) is a literal."""
    if node.values_overflow or len(node.values) != 1:
        return False
    value = next(iter(node.values))
    literal_children = [k for k in node.children if not _is_strong(k)]
    short = len(value) <= 4 or classify(value) == Shape.DATE  # ``/2`` or ``/2024-06-01``
    return short and len(literal_children) >= 3 and node.count >= 3


# ``iss_duFRThRwgFec``: a short prefix, then a random mixed-case tail that happens to hold no
# digit (so it reads as a word to the shape classifier); camelCase words are not random.
_PREFIXED_TAIL = re.compile(r"^[a-z]{1,12}_([A-Za-z]{10,})$")
_CAMEL = re.compile(r"^[A-Za-z][a-z]+(?:[A-Z][a-z]+)*$")


@lru_cache(maxsize=16384)
def _opaque_prefixed(seg: str) -> bool:
    """A prefixed id whose tail mixes cases like random letters (not a camelCase word)."""
    m = _PREFIXED_TAIL.match(seg)
    if m is None:
        return False
    tail = m.group(1)
    return sum(c.isupper() for c in tail) >= 3 and not _CAMEL.match(tail)


def _is_strong(seg: str) -> bool:
    if seg.startswith(PLACEHOLDER):
        return True
    return not _VERSION.match(seg) and (is_id_shape(classify(seg)) or _opaque_prefixed(seg))


def is_version(seg: str) -> bool:
    """True for version segments (``v1``, ``v2beta1``, ``2.0``): literal route words."""
    return bool(_VERSION.match(seg))


def normalise_segment(seg: str) -> str:
    """Replace a strong-id segment with a placeholder carrying its shape."""
    if not seg or (seg.isalpha() and len(seg) != 24) or _VERSION.match(seg):
        return seg  # letters only are a word (24 could be an ObjectId of a-f); versions
    shape = classify(seg)
    return PLACEHOLDER + shape.value if is_id_shape(shape) else seg


def _sig(node: _Node) -> frozenset[str]:
    """Behaviour of a subtree: its operations and the names just below it."""
    out = set()
    for m, sigs in node.ops.items():
        for s in sigs:
            out.add(f"{m} {s}")
    for k, c in node.children.items():
        if _is_strong(k) or (c.count <= 2 and k.lower() not in _VOCAB):
            out.add("/*")
        else:
            out.add("/" + k)
    return frozenset(out)


@dataclass
class _Decision:
    param_keys: list[str]
    confidence: float
    reason: str
    greedy: bool = False
    spans: bool = False  # the greedy parameter has routes below it (``{path}/checkpoints``)


def _leaf_paths(node: _Node, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix] if node.ops else []
    for k, c in node.children.items():
        out.extend(_leaf_paths(c, (*prefix, k)))
    return out


def _is_file_path_population(node: _Node, keys: list[str]) -> bool:
    """True when the parameter values are file paths of varying depth (``reports/2026/q3.csv``)."""
    leaves = [(k, *rest) for k in keys for rest in _leaf_paths(node.children[k])]
    if len(leaves) < 2:
        return False
    exts = [m.group(2).lower() for leaf in leaves if (m := _EXT.match(leaf[-1]))]
    depths = {len(leaf) for leaf in leaves}
    return len(exts) * 5 >= len(leaves) * 4 and len(depths) > 1 and len(set(exts)) > 1


_BEH_DEPTH = 4
_CROWD = 20  # this many rare values behaving alike make a position a parameter for sure


def _keys_by_depth(
    node: _Node, depth: int = 0, out: list[set[str]] | None = None
) -> list[set[str]]:
    """The child keys found at each depth below ``node``."""
    if out is None:
        out = [set() for _ in range(_BEH_DEPTH)]
    if depth < _BEH_DEPTH:
        for k, c in node.children.items():
            out[depth].add(k)
            _keys_by_depth(c, depth + 1, out)
    return out


def _behaviour(
    node: _Node, shared: list[set[str]], rel: str = "", depth: int = 0
) -> frozenset[str]:
    """What requests under a subtree do: relative path, method and response shape.

    Id-shaped segments read as ``*``, segments that occur below only one
    sibling as ``?``; only successful responses count when there are any
    (error bodies look alike across unrelated resources).
    """
    out: set[str] = set()
    for m, sigs in node.ops.items():
        for sig in sigs:
            out.add(f"{rel} {m} {sig}")
    if depth < _BEH_DEPTH:
        for k, c in node.children.items():
            key = "*" if _is_strong(k) else k if k in shared[depth] else "?"
            out |= _behaviour(c, shared, f"{rel}/{key}", depth + 1)
    elif node.children:
        out |= _deep_ops(node, f"{rel}/...")  # deep routes still say what they do
    ok = {b for b in out if " 2:" in b}
    return frozenset(ok or out)


def _deep_ops(node: _Node, rel: str) -> set[str]:
    out: set[str] = set()
    stack = list(node.children.values())
    while stack:
        n = stack.pop()
        for m, sigs in n.ops.items():
            out.update(f"{rel} {m} {sig}" for sig in sigs)
        stack.extend(n.children.values())
    return out


def _coarse(behaviour: frozenset[str]) -> frozenset[str]:
    """Behaviour without query keys: optional query parameters vary between calls."""
    return frozenset(b.split("|q:", 1)[0] for b in behaviour)


def _rare(node: _Node) -> bool:
    """Seen at most twice, or at most twice per distinct route below it.

    A slug in ``/repos/{owner}/{repo}/...`` is used once or twice by each of the deep
    routes below it; a literal collection is used far more often than it has routes.
    """
    return node.count <= 2 or node.count <= 2 * _routes_below(node)


def _routes_below(node: _Node, depth: int = 0) -> int:
    n = 1 if node.ops else 0
    if depth < _BEH_DEPTH:
        n += sum(_routes_below(c, depth + 1) for c in node.children.values())
    return n


_WORD_FORMS = (
    ("lower", re.compile(r"[a-z]+")),
    ("snake", re.compile(r"[a-z]+(?:_[a-z]+)+")),
    ("kebab", re.compile(r"[a-z]+(?:-[a-z]+)+")),
    ("camel", re.compile(r"[a-z]+(?:[A-Z][a-z]+)+")),
)


def _word_kind(word: str) -> str | None:
    """The kind of a plain word: its letter form and whether it reads as a plural noun.

    ``fleets`` and ``projects`` are one kind (lower-case plurals), ``alice`` another,
    ``get_user`` a third; words with digits or other characters have no kind here.
    """
    for form, pattern in _WORD_FORMS:
        if pattern.fullmatch(word):
            return form + (" plural" if singular(word) != word else "")
    return None


def _continuations(node: _Node) -> set[str]:
    """The route words right below a node, and ``.`` when the node is itself a route."""
    out = {k for k in node.children if not _is_strong(k) and not _VERSION.match(k)}
    if node.ops:
        out.add(".")
    return out


def _without_rare_collections(
    node: _Node,
    members: list[str],
    cands: list[str],
    low: list[str],
    known: set[str],
    strong: list[str],
) -> list[str]:
    """Drop rare words that are one more literal of the kind their frequent siblings are.

    In an RPC-style API (``/api/projects/list``, ``/api/runs/list`` used often;
    ``/api/volumes/list`` once) the rare words share the continuation ``list`` with each
    other, but so do their frequent siblings, which are literals: sharing it argues
    nothing.  A rare word is kept out of the population when it is a plain word of the
    same kind (letter form, plural or not) as at least two frequent literal siblings
    whose continuations cover all of its own, and no body named it (provenance) and its
    shape is no id's.  A frequent sibling that would join as a popular id (everything
    it does is something the population does) is no literal and argues nothing.
    """
    low_set = set(low)
    frequent = [k for k in cands if k not in low_set and k not in known and _word_kind(k)]
    kinds = {_word_kind(k) for k in frequent}
    if len(frequent) < 2 or not any(_word_kind(k) in kinds for k in members if k not in known):
        return members
    popular = _popular(node, [*strong, *members], frequent) if len(members) >= 3 else []
    literal = [k for k in frequent if k not in popular]  # as ``_decide`` decides them
    by_kind: dict[str | None, list[set[str]]] = {}
    for k in literal:
        by_kind.setdefault(_word_kind(k), []).append(_continuations(node.children[k]))
    kept = []
    for k in members:
        own = _continuations(node.children[k])
        peers = [c for c in by_kind.get(_word_kind(k) or "-", []) if c & own]
        if k not in known and own and len(peers) >= 2 and own <= set().union(*peers):
            continue  # one more literal of its frequent siblings' kind
        kept.append(k)
    return kept


def _popular(node: _Node, population: list[str], keys: list[str]) -> list[str]:
    """The keys everything of which, values below abstracted, the population does too."""
    blind = [set[str]() for _ in range(_BEH_DEPTH)]
    pop_abs: set[str] = set()
    for k in population:
        pop_abs |= _behaviour(node.children[k], blind)
    return [k for k in keys if _behaviour(node.children[k], blind) <= pop_abs]


def _decide(
    node: _Node,
    forbidden: bool,
    forced_literal: set[str],
    depth_zero: bool = False,
    under_version: bool = False,
    after_literal: bool = False,
) -> _Decision | None:
    """Split a node's children into literals and one parameter group.

    A weak (not id-shaped) value joins the parameter when it is rare (seen at
    most twice) *and* behaves like another member of the population (same
    relative paths, methods and response shapes), so ``/api/settings`` and
    ``/api/profile`` seen once each stay literal while ``/user/alice`` and
    ``/user/bob`` merge.  A frequent value joins only when its behaviour is
    fully explained by a large population (a popular id).

    Right under a version segment (``/api/v1/chart``, ``/api/v1/dataset``) a word names
    a resource collection: sibling collections share continuations (``_info``,
    ``related/owners``, ``{pk}``) and envelopes, so only provenance (a body named the value)
    or an echo makes a word a parameter there.
    """
    if not node.children:
        return None
    strong = [k for k in node.children if _is_strong(k) and not _is_namespace(node.children[k])]
    if forbidden:
        # Id-shaped values were merged while streaming; a rule keeps only word-like values literal.
        if not strong:
            return None
        return _Decision(strong, 0.9, "id-shaped values; rule keeps word-like values literal")
    weak = [k for k in node.children if not _is_strong(k) and k]
    versions = {k for k in weak if _VERSION.match(k)}
    if len(versions) > _MAX_VERSIONS:
        versions = set()  # a population of dotted numbers: ids, not versions
    # Where values come from: a value the parent's response listed, or that a body named
    # as an id/name/key field, is an identifier whatever its shape.
    listed = [k for k in weak if node.children[k].listed and k not in versions]
    named = [
        k
        for k in weak
        if node.children[k].sourced
        and k not in versions
        and k not in listed
        and k.lower() not in _CORE_VOCAB
        and not depth_zero
    ]
    known_all = set(listed) | set(named)
    vocab = {
        k
        for k in weak
        if (k.lower() in _VOCAB or k in forced_literal or k in versions) and k not in known_all
    }
    if under_version:
        vocab |= {k for k in weak if k not in known_all and not node.children[k].echoed}
    cands = [k for k in weak if k not in vocab]
    low = [k for k in cands if node.children[k].count <= 2]
    seen: list[dict[str, int]] = [{} for _ in range(_BEH_DEPTH)]
    below = {k: _keys_by_depth(node.children[k]) for k in [*strong, *cands]}
    for k in [*strong, *cands]:
        for d, keys in enumerate(below[k]):
            for key in keys:
                seen[d][key] = seen[d].get(key, 0) + 1

    def linked(k: str) -> bool:
        """Some route word below ``k`` recurs below another sibling (or ``k`` is a leaf).

        API groups (``/apis/apps.example.io/v1/deployments``) share only a version
        below them: their continuations differ, so they stay literal.
        """
        if any(
            seen[d][key] >= 2 and not _is_strong(key) and not _VERSION.match(key)
            for d, keys in enumerate(below[k])
            for key in keys
        ):
            return True
        # Nothing recurs below: values under values (``/{owner}/{repo}``) are linked by
        # shape; a version right below and then different words is a namespace.
        return not any(_VERSION.match(key) for key in below[k][0])

    # A key below counts as a route word when it recurs under a real share of the siblings;
    # a value that recurs under two or three of thousands is a coincidence of the data.
    floor = max(2, (len(strong) + len(cands)) // 100)
    shared = [{key for key, n in level.items() if n >= floor} for level in seen]
    beh = {k: _behaviour(node.children[k], shared) for k in cands}
    strong_beh: set[str] = set()
    for k in strong:
        strong_beh |= _behaviour(node.children[k], shared)
    coarse = {k: _coarse(v) for k, v in beh.items()}
    strong_coarse = _coarse(frozenset(strong_beh))
    # Values the bodies repeat (``/items/A-1`` answering ``{"sku": "A-1"}``) are ids, unless
    # they are plain words (a route word may appear as a value: ``{"status": "active"}``).
    echo = [k for k in cands if node.children[k].echoed and classify(k) != Shape.WORD]
    # k is a member when some behaviour of k is shared by another rare value or the id group.
    shared_by: dict[str, int] = {}
    for k in low:
        for b in coarse[k]:
            shared_by[b] = shared_by.get(b, 0) + 1
    members = [
        k
        for k in low
        if any(shared_by[b] >= 2 or b in strong_coarse for b in coarse[k]) and linked(k)
    ]
    members = _without_rare_collections(node, members, cands, low, known_all, strong)
    rare = [*strong, *low]
    if GREEDY not in strong and len(rare) >= 3 and _is_file_path_population(node, rare):
        return _Decision(rare, 0.8, "file paths of varying depth", greedy=True)
    member_set = set(members)
    # A plain word a body named elsewhere (a command name, a label) joins only where no
    # unnamed literal stands beside it: ``/translations/default`` but not ``/{id}/restart``
    # beside ``/{id}/interrupt``.  Several named words side by side are ids when they lead
    # to the same continuations or answer alike (``/dags/tutorial/runs``,
    # ``/dags/etl_daily/runs``); verbs (``restart``, ``interrupt``) do neither.
    others = [k for k in weak if k not in listed]
    unnamed = [  # route vocabulary (``/pools/filter``) beside a named value argues nothing
        k
        for k in weak
        if k not in known_all
        and k not in member_set
        and not _WILD.match(k)
        and k.lower() not in _VOCAB
    ]
    peers = [*named, *members]

    def continues(k: str) -> bool:
        return any(
            seen[d][key] >= 2 and not _is_strong(key) and not _VERSION.match(key)
            for d, keys in enumerate(below[k])
            for key in keys
        )

    peer_count: dict[str, int] = {}
    for o in dict.fromkeys(peers):
        for b in coarse[o]:
            peer_count[b] = peer_count.get(b, 0) + 1

    def alike(k: str) -> bool:
        """Some item behaviour of k (not a POST: actions answer alike) is another peer's."""
        return any(
            (b in strong_coarse or peer_count.get(b, 0) >= 2) and " POST " not in b
            for b in coarse[k]
        )

    sourced = [
        k
        for k in named
        if classify(k) != Shape.WORD
        or len(others) == 1
        or (not unnamed and (continues(k) or alike(k)))
    ]
    known = set(listed) | set(sourced)
    held = {  # named words the guard kept literal stay out of every population
        k
        for k in named
        if k not in known and (k.lower() in _VOCAB or k in forced_literal or under_version)
    }
    members = [k for k in members if k not in held]
    member_set -= held
    # A value with no letter or digit (``~``, ``-``, ``*``) is no route word.  Right after a
    # collection word (``/runs/~/steps``) it stands where an id goes: a wildcard id.  After
    # a value (``/{project}/-/issues``) or at the root it may be a separator, so there it
    # joins only a position that holds ids and leads where they lead.
    wild_all = [k for k in cands if _WILD.match(k)]
    lone_wild = bool(wild_all) and after_literal
    if not strong and not echo and not known and len(members) < 2 and not lone_wild:
        return None
    params = list(strong) + [k for k in [*echo, *listed, *sourced] if k not in member_set]
    params = list(dict.fromkeys(params))
    few = bool(strong) and len(members) + len(known) < 3
    for k in members:
        if few and classify(k) == Shape.WORD and k not in known:
            continue  # a word does not join a population of ids on thin evidence
        params.append(k)
    crowd: list[str] = []
    if len(members) >= _CROWD:
        # In a crowd of ids, a rare value that continues with the crowd's route words is one
        # more id, though its one deep route was used by no other (``/{ws}/{repo}/issues/…``).
        crowd = [
            k
            for k in low
            if k not in member_set
            and k not in params
            and k not in held
            and any(
                key in shared[d] and not _is_strong(key) and not _VERSION.match(key)
                for d, keys in enumerate(below[k])
                for key in keys
            )
        ]
        params.extend(crowd)
    if len(members) >= 3:
        # A frequent value is a popular id when everything it does, with the values below it
        # abstracted, is something the population does too (``/user/logout`` answers a string
        # where ``/user/{name}`` answers a user, so it stays literal).
        frequent = [
            k for k in cands if node.children[k].count > 2 and k not in member_set and k not in held
        ]
        params.extend(_popular(node, [*strong, *members], frequent))
    wild = [k for k in wild_all if k not in params and (after_literal or (params and linked(k)))]
    params.extend(wild)
    params = list(dict.fromkeys(params))  # a value may qualify twice; it joins once
    if not params:
        return None
    greedy = GREEDY in params
    n_values = sum(len(node.children[k].values) or 1 for k in params)
    if strong and len(params) == len(strong) and not greedy:
        conf = 0.97
        reason = "id-shaped values (" + ", ".join(sorted({s[1:] for s in strong})) + ")"
    else:
        conf = round(min(0.95, 0.55 + 0.4 * (1 - 1 / max(1, n_values))), 2)
        parts = []
        if greedy:
            conf = max(conf, 0.9)
            parts.append("values with '/' that bodies name as one id (a file path)")
        if listed:
            conf = max(conf, 0.9)
            parts.append(
                f"value(s) {', '.join(sorted(listed)[:3])} listed by the parent's response"
            )
        if sourced:
            conf = max(conf, 0.8)
            parts.append(
                f"value(s) {', '.join(sorted(sourced)[:3])} named as id/name/key in bodies"
            )
        if echo:
            conf = max(conf, 0.85)
            parts.append(f"value(s) {', '.join(sorted(echo)[:3])} repeated in the bodies")
        if members:
            parts.append(f"{len(members)} distinct values, each rare and behaving alike")
        if crowd:
            parts.append(f"{len(crowd)} rare value(s) continuing with the crowd's route words")
        if wild:
            parts.append(f"wildcard value(s) {', '.join(wild)} where ids go")
        if strong and not greedy:
            parts.append("id-shaped values")
        reason = "; ".join(parts)
    return _Decision(params, conf, reason, greedy=greedy, spans=greedy)


def build_templates(
    observations: Iterable[PathObservation], rules: Rules | None = None
) -> dict[str, TemplateTrie]:
    """Template every observed path; return a router per origin."""
    rules = rules or Rules()
    roots: dict[str, _Node] = {}
    for ob in observations:
        root = roots.setdefault(ob.origin, _Node())
        root.count += ob.count
        node = root
        for i, j, seg in _tokens(ob, rules):
            key = seg if seg.startswith("{") else normalise_segment(seg)
            if j > i + 1:
                key = GREEDY
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = _Node()
            child.count += ob.count
            if i in ob.echoed:
                child.echoed += ob.count
            if i in ob.sourced:
                child.sourced += ob.count
            if i in ob.listed:
                child.listed += ob.count
            child.add_value(seg, ob.count)
            if key == GREEDY:
                child.shapes = {"path": child.count}
            node = child
        node.ops.setdefault(ob.method, set()).add(ob.signature)
    forbidden = {_norm_template(t) for t in rules.forbid}
    out = {}
    for origin, root in sorted(roots.items()):
        trie = TemplateTrie(rules)
        _build(root, trie.root, [], [], forbidden, set(), (), 1.0)
        out[origin] = trie
    return out


def _tokens(ob: PathObservation, rules: Rules) -> list[tuple[int, int, str]]:
    """The segments of an observation as ``(start, end, value)``; a span is one token."""
    segs = _apply_force(ob.segments, rules)
    if segs != ob.segments or not ob.spans:
        return [(i, i + 1, s) for i, s in enumerate(segs)]
    out: list[tuple[int, int, str]] = []
    starts = dict(sorted(ob.spans, key=lambda sp: sp[1] - sp[0]))  # longest span per start
    i = 0
    while i < len(segs):
        j = starts.get(i, i + 1)
        out.append((i, j, "/".join(segs[i:j])))
        i = j
    return out


def _apply_force(segs: tuple[str, ...], rules: Rules) -> tuple[str, ...]:
    for tmpl in rules.force:
        t = [s for s in tmpl.split("/") if s != ""]
        greedy = bool(t) and t[-1].endswith("+}")
        if greedy:
            if len(segs) < len(t):
                continue
        elif len(segs) != len(t):
            continue
        ok = all(ts.startswith("{") or ts == s for ts, s in zip(t, segs, strict=False))
        if ok:
            return tuple(t)
    return segs


def _norm_template(t: str) -> str:
    return "/" + "/".join("{}" if s.startswith("{") else s for s in t.split("/") if s)


def _build(
    node: _Node,
    tnode: _TNode,
    path: list[str],
    norm: list[str],
    forbidden: set[str],
    used: set[str],
    reasons: tuple[str, ...],
    conf: float,
) -> None:
    if node.ops:
        shapes: list[tuple[str, str]] = []
        examples: list[tuple[str, str]] = []
        tnode.template = Template(
            path="/" + "/".join(path) if path else "/",
            params=tuple(m for p in path for m in _PARAM_RE.findall(p)),
            confidence=round(conf, 2),
            reasons=reasons or ("literal path",),
            param_shapes=tuple(shapes),
            param_examples=tuple(examples),
        )
    forced = {k for k in node.children if k.startswith("{")}
    for k in sorted(forced):
        child = node.children[k]
        name = k.strip("{}").rstrip("+")
        new_used = used | {name}
        t = _TNode()
        tnode.literals[k] = t  # forced param tokens route literally
        tnode.param = tnode.param or t
        _build(
            child,
            t,
            [*path, "{" + name + "}"],  # {path+} is rule syntax; the template names {path}
            [*norm, "{}"],
            forbidden,
            new_used,
            (*reasons, f"{{{name}}} forced by rules"),
            conf,
        )
        if k.endswith("+}") and t.template is not None:  # greedy: may contain '/'
            kept = {s for s in t.template.param_shapes if s[0] != name} | {(name, "path")}
            t.template = replace(t.template, param_shapes=tuple(sorted(kept)))
    here_forbidden = _norm_template("/".join([*norm, "{}"])) in forbidden
    decision = _decide(
        _Node(children={k: v for k, v in node.children.items() if k not in forced}),
        here_forbidden,
        set(),
        depth_zero=not path,
        under_version=bool(path) and is_version(path[-1]),
        after_literal=bool(path) and not path[-1].startswith("{") and not is_version(path[-1]),
    )
    params = set(decision.param_keys) if decision else set()
    for k in sorted(node.children):
        if k in params or k in forced:
            continue
        t = _TNode()
        tnode.literals[k] = t
        shown = k
        if k.startswith(PLACEHOLDER) and len(node.children[k].values) == 1:
            shown = next(iter(node.children[k].values))  # a namespace like /rest/api/2/
            tnode.literals[shown] = t
        _build(node.children[k], t, [*path, shown], [*norm, shown], forbidden, used, reasons, conf)
    if decision:
        merged = _Node()
        for k in decision.param_keys:
            merged.merge(node.children[k])
        prev = next((p for p in reversed(path) if not p.startswith("{")), None)
        if prev is not None and path and path[-1].startswith("{"):
            prev = None if len(path) < 2 else prev
        name_used = set(used)
        if decision.greedy and decision.spans:
            word = _resource_word(path)
            name = param_name(word, name_used).removesuffix("_id") + "_path" if word else "path"
            name_used.add(name)
            t = _TNode()
            tnode.greedy = t
            t.spans = True
            reason = f"{{{name}}}: {decision.reason}; may contain '/'"
            _build(
                merged,
                t,
                [*path, "{" + name + "}"],
                [*norm, "{}"],
                forbidden,
                name_used,
                (*reasons, reason),
                min(conf, decision.confidence),
            )
            _annotate(t, name, "path", merged)
            return
        if decision.greedy:
            word = _resource_word(path)
            name = f"{_snake(singular(word))}_path" if word else "path"
            t = _TNode()
            tnode.greedy = t
            tpath = [*path, "{" + name + "}"]
            t.template = Template(
                path="/" + "/".join(tpath),
                params=tuple(m for p in tpath for m in _PARAM_RE.findall(p)),
                confidence=round(min(conf, decision.confidence), 2),
                reasons=(*reasons, f"{{{name}}}: {decision.reason}; may contain '/'"),
                param_shapes=((name, "path"),),
                param_examples=(),
            )
            return
        name = param_name(_resource_word(path), name_used)
        seg = "{" + name + "}"
        ext = _common_extension(merged.values)
        if ext and not merged.values_overflow:
            seg = "{" + name + "}" + ext
        t = _TNode()
        tnode.param = t
        shape = _dominant_shape(merged.shapes)
        reason = f"{{{name}}}: {decision.reason}; shape {shape}"
        _build(
            merged,
            t,
            [*path, seg],
            [*norm, "{}"],
            forbidden,
            name_used,
            (*reasons, reason),
            min(conf, decision.confidence),
        )
        # record the shape and one example for the parameter
        if t.template is not None or t.literals or t.param:
            _annotate(t, name, shape, merged)


def _annotate(t: _TNode, name: str, shape: str, merged: _Node) -> None:
    concrete = [v for v in merged.values if not v.startswith(PLACEHOLDER)]
    example = min(concrete) if concrete else ""
    stack = [t]
    while stack:
        n = stack.pop()
        if n.template is not None and name in n.template.params:
            tp = n.template
            n.template = Template(
                path=tp.path,
                params=tp.params,
                confidence=tp.confidence,
                reasons=tp.reasons,
                param_shapes=tuple(sorted({*tp.param_shapes, (name, shape)})),
                param_examples=tuple(sorted({*tp.param_examples, (name, example)})),
            )
        stack.extend(n.literals.values())
        stack.extend(c for c in (n.param, n.greedy) if c is not None)


def _resource_word(path: list[str]) -> str | None:
    """The literal segment naming the resource a parameter identifies."""
    if not path:
        return None
    last = path[-1]
    if last.startswith("{"):
        return None
    if re.fullmatch(r"v?\d+(\.\d+)?|api|rest", last, re.I):
        return None
    return last


def _dominant_shape(shapes: dict[str, int]) -> str:
    if not shapes:
        return Shape.OTHER.value
    return max(sorted(shapes), key=lambda s: shapes[s])


def _common_extension(values: dict[str, int]) -> str | None:
    exts = set()
    for v in values:
        m = _EXT.match(v)
        if not m:
            return None
        exts.add(m.group(2))
    return exts.pop() if len(exts) == 1 and len(values) >= 2 else None
