"""Schema factoring for the OpenAPI document: repeated object schemas become components.

Inferred response schemas of real APIs repeat the same objects everywhere (a user, its
``links``, an ``avatar`` with ``href``/``name``), nested dozens of levels deep.  Written
inline, a 22 MB capture gave a 30 MB document that no one could read and that took
minutes to validate.  :func:`factor_schemas` rebuilds every schema of the document
once (dropping the per-node ``x-observed`` counts, which stay in the tool cards), finds
object schemas that occur more than once with the same structure (examples aside), and
moves each to ``components/schemas`` under a name taken from where it first appeared,
replacing every occurrence with a ``$ref``.  Order of first appearance decides names and
which occurrence's examples a component keeps, so the output is deterministic.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["factor_schemas"]

_DROP = frozenset({"x-observed"})  # evidence counts: kept in the cards, noise in the document
_SUB_MAP = ("properties", "patternProperties", "$defs")
_SUB_ONE = ("items", "additionalProperties", "not", "contains", "propertyNames")
_SUB_LIST = ("anyOf", "oneOf", "allOf", "prefixItems")


class _Slot:
    """A factorable schema in the rebuilt tree, decided once every occurrence is counted."""

    __slots__ = ("sid",)

    def __init__(self, sid: int) -> None:
        self.sid = sid


class _Factor:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.bodies: list[dict[str, Any]] = []
        self.counts: list[int] = []
        self.hints: list[str] = []

    def visit(self, node: Any, hint: str) -> tuple[Any, Any]:
        """Rebuild ``node``; return it (or a slot) and its structural key (examples aside)."""
        if not isinstance(node, dict):
            return node, node
        out: dict[str, Any] = {}
        key: dict[str, Any] = {}
        for k, v in node.items():
            if k in _DROP:
                continue
            if k in _SUB_MAP and isinstance(v, dict):
                sub: dict[str, Any] = {}
                subk: dict[str, Any] = {}
                for pk, pv in v.items():
                    sub[pk], subk[pk] = self.visit(pv, str(pk))
                out[k], key[k] = sub, subk
            elif k in _SUB_ONE and isinstance(v, dict):
                out[k], key[k] = self.visit(v, hint + "_item" if k == "items" else hint)
            elif k in _SUB_LIST and isinstance(v, list):
                pairs = [self.visit(x, hint) for x in v]
                out[k] = [p[0] for p in pairs]
                key[k] = [p[1] for p in pairs]
            else:
                out[k] = v
                if k != "examples":
                    key[k] = v
        if "properties" not in out or not out["properties"]:
            return out, key
        text = json.dumps(key, sort_keys=True, default=_slot_key, ensure_ascii=False)
        sid = self.ids.get(text)
        if sid is None:
            sid = self.ids[text] = len(self.bodies)
            self.bodies.append(out)
            self.counts.append(0)
            self.hints.append(hint)
        self.counts[sid] += 1
        return _Slot(sid), {"$sid": sid}


def _slot_key(value: Any) -> Any:
    if isinstance(value, _Slot):
        return {"$sid": value.sid}
    raise TypeError(f"not JSON: {type(value).__name__}")


_NAME_BAD = re.compile(r"[^A-Za-z0-9]+")


def _component_name(hint: str, taken: set[str]) -> str:
    words = [w for w in _NAME_BAD.split(hint) if w]
    base = "".join(w[:1].upper() + w[1:] for w in words)[:60] or "Schema"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    taken.add(name)
    return name


class _Resolve:
    def __init__(self, f: _Factor, taken: set[str]) -> None:
        self.f = f
        self.taken = taken
        self.names: dict[int, str] = {}
        self.components: dict[str, Any] = {}

    def __call__(self, node: Any) -> Any:
        if isinstance(node, _Slot):
            sid = node.sid
            if self.f.counts[sid] < 2:
                return self(self.f.bodies[sid])
            name = self.names.get(sid)
            if name is None:
                name = self.names[sid] = _component_name(self.f.hints[sid], self.taken)
                self.components[name] = self(self.f.bodies[sid])
            return {"$ref": f"#/components/schemas/{name}"}
        if isinstance(node, dict):
            return {k: self(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self(v) for v in node]
        return node


def _schema_slots(doc: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """Every place in ``doc`` that holds a schema: (container, key, name hint), in order."""
    slots: list[tuple[dict[str, Any], str, str]] = []
    for item in doc.get("paths", {}).values():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            base = str(op.get("operationId") or method)
            for p in op.get("parameters", []):
                if isinstance(p.get("schema"), dict):
                    slots.append((p, "schema", str(p.get("name", base))))
            body = op.get("requestBody", {}).get("content", {})
            for media in body.values():
                if isinstance(media.get("schema"), dict):
                    slots.append((media, "schema", base + "_request"))
            for status, resp in op["responses"].items():
                for media in resp.get("content", {}).values():
                    if isinstance(media.get("schema"), dict):
                        suffix = "_response" if status.startswith("2") else f"_error_{status}"
                        slots.append((media, "schema", base + suffix))
    return slots


def factor_schemas(doc: dict[str, Any]) -> dict[str, Any]:
    """Return ``doc`` with repeated object schemas moved to ``components/schemas``.

    ``doc`` itself is not changed (its schemas may be shared with the tool cards).
    """
    slots = _schema_slots(doc)
    if not slots:
        return doc
    f = _Factor()
    rebuilt = [f.visit(container[key], hint)[0] for container, key, hint in slots]
    components = dict(doc.get("components", {}))
    taken = set(components.get("schemas", {}))
    resolve = _Resolve(f, taken)
    new_doc: dict[str, Any] = _copy_skeleton(doc)
    for (container, key, _), node in zip(_schema_slots(new_doc), rebuilt, strict=True):
        container[key] = resolve(node)
    if resolve.components:
        schemas = {**components.get("schemas", {}), **resolve.components}
        components["schemas"] = dict(sorted(schemas.items()))
        new_doc["components"] = dict(sorted(components.items()))
    return new_doc


def _copy_skeleton(node: Any) -> Any:
    """A copy of the document down to the schema holders (schemas are replaced anyway)."""
    if isinstance(node, dict):
        return {k: (v if k == "schema" else _copy_skeleton(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy_skeleton(v) for v in node]
    return node
