"""JSON Schema inference from samples: mergeable running statistics, not the first sample.

Each :class:`SchemaStats` node tallies what was seen at one place in a JSON
document: how often each JSON type occurred, per object property how many
samples had it, for strings a bounded set of distinct values (enum
evidence) and format votes, for numbers whether any was fractional.  Nodes
merge associatively and commutatively, so evidence can be gathered per
sample, per provisional group or per process and combined in any order.
:meth:`SchemaStats.to_schema` turns the evidence into JSON Schema
(2020-12 / OpenAPI 3.1 dialect) with ``required`` by presence, ``null`` in
the type list when seen, enums only with enough evidence, formats by
majority, maps with dynamic keys as ``additionalProperties`` and
``x-observed`` sample counts.

genson was considered for the merging core and refused: its builders keep
no per-field presence counts or value tallies, which required-by-presence,
enums, formats by majority and ``x-observed`` all need.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from zapi.shapes import Shape, classify, is_id_shape, json_format

__all__ = ["EnumPolicy", "SchemaStats", "infer"]

_MAX_VALUES = 24  # distinct string values remembered per node (enum evidence)
_MAX_PROPS = 400  # properties tracked per object before it is treated as a map
_MAX_DEPTH = 24


@dataclass(frozen=True)
class EnumPolicy:
    """When a low-cardinality string field becomes an ``enum``."""

    max_values: int = 8
    min_samples: int = 6
    min_ratio: float = 2.0  # samples per distinct value


DEFAULT_ENUM = EnumPolicy()


# The shared empty tally of a node that has not needed one yet.  A place in a body holds
# one JSON type, so most of a node's tallies stay empty (bitbucket: 230k nodes, 1.4M empty
# dicts, 85 MB); every write below replaces it with a dict of the node's own first.
# Never written to: readers outside this module only read the tallies.
_NONE: dict[Any, Any] = {}


def _none() -> dict[Any, Any]:
    return _NONE


@dataclass(slots=True)  # one per place in every body: no per-instance __dict__
class SchemaStats:
    """Running evidence about the values seen at one place in a JSON document."""

    count: int = 0
    types: dict[str, int] = field(default_factory=_none)
    props: dict[str, SchemaStats] = field(default_factory=_none)
    prop_counts: dict[str, int] = field(default_factory=_none)
    objects: int = 0
    overflow_props: bool = False
    items: SchemaStats | None = None
    strings: dict[str, int] = field(default_factory=_none)
    strings_overflow: bool = False
    formats: dict[str, int] = field(default_factory=_none)
    key_shapes: dict[str, int] = field(default_factory=_none)
    example: Any = None

    # The sort key of ``example``, kept so each add computes only the new value's key.
    example_key: tuple[str, str] | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in _FIELDS)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        # Empty tallies become the shared one again (a worker's evidence arrives pickled).
        for f, v in zip(_FIELDS, state, strict=True):
            setattr(self, f, _NONE if type(v) is dict and not v else v)

    # -- adding evidence -----------------------------------------------------
    def add(self, value: Any, depth: int = 0) -> None:
        """Add one observed JSON value."""
        self.count += 1
        t = _TYPE_OF.get(type(value)) or _json_type(value)
        types = self.types
        if types is _NONE:
            self.types = {t: 1}
        else:
            types[t] = types.get(t, 0) + 1
        if depth > _MAX_DEPTH:
            return
        if t == "object":
            self.objects += 1
            if not value:
                return
            props = self.props
            if props is _NONE:
                props = self.props = {}
            prop_counts = self.prop_counts
            if prop_counts is _NONE:
                prop_counts = self.prop_counts = {}
            key_shapes = self.key_shapes
            if key_shapes is _NONE:
                key_shapes = self.key_shapes = {}
            for k, v in value.items():
                key = str(k)
                sk = _key_shape(key)
                key_shapes[sk] = key_shapes.get(sk, 0) + 1
                child = props.get(key)
                if child is None:
                    if len(props) >= _MAX_PROPS:
                        self.overflow_props = True
                        key = "*"
                        child = props.get(key)
                    if child is None:
                        child = props[key] = SchemaStats()
                prop_counts[key] = prop_counts.get(key, 0) + 1
                child.add(v, depth + 1)
            return
        if t == "array":
            items = self.items
            if items is None:
                items = self.items = SchemaStats()
            for v in value:
                items.add(v, depth + 1)
            return
        if t == "null":
            return
        if t == "string":
            self._add_string(value)
        self._offer_example(value, t)

    def _offer_example(self, value: Any, t: str) -> None:
        """Keep the least value by ``(type, repr)``: deterministic, order-independent."""
        ex = self.example
        if ex is None:
            self.example = value
            self.example_key = (t, repr(value))
            return
        if value is ex or (type(value) is type(ex) and type(ex) is not float and value == ex):
            return  # equal keys never replace (floats excepted: -0.0 == 0.0)
        cur = self.example_key
        if cur is None:
            cur = self.example_key = _example_key(ex)
        if t > cur[0]:
            return
        key = (t, repr(value))
        if key < cur:
            self.example = value
            self.example_key = key

    def _add_string(self, value: str) -> None:
        if not self.strings_overflow:
            strings = self.strings
            if value in strings:
                strings[value] += 1
            elif len(strings) < _MAX_VALUES and len(value) <= 64:
                if strings is _NONE:
                    self.strings = {value: 1}
                else:
                    strings[value] = 1
            else:
                self.strings_overflow = True
                self.strings = _NONE
        fmt = json_format(value) if len(value) <= 256 else None
        key = fmt or ""
        formats = self.formats
        if formats is _NONE:
            self.formats = {key: 1}
        else:
            formats[key] = formats.get(key, 0) + 1

    def merge(self, other: SchemaStats, times: int = 1) -> None:
        """Fold ``other``'s evidence into this node (order-independent).

        ``times`` folds it in that many times over (every tally is a count, so
        that is what merging it ``times`` times gives, in one walk).
        """
        self.count += other.count * times
        self.objects += other.objects * times
        if other.types:
            self.types = _add_counts(self.types, other.types, times)
        if other.formats:
            self.formats = _add_counts(self.formats, other.formats, times)
        if other.key_shapes:
            self.key_shapes = _add_counts(self.key_shapes, other.key_shapes, times)
        self.overflow_props = self.overflow_props or other.overflow_props
        props = self.props
        if other.props and props is _NONE:
            props = self.props = {}
        for k, child in other.props.items():
            key = k
            mine = props.get(key)
            if mine is None and len(props) >= _MAX_PROPS:  # the cap ``add`` applies
                self.overflow_props = True
                key = "*"
                mine = props.get(key)
            if mine is None:
                props[key] = child.copy(times)
            else:
                mine.merge(child, times)
            n = other.prop_counts.get(k, 0) * times
            if n:
                if self.prop_counts is _NONE:
                    self.prop_counts = {}
                self.prop_counts[key] = self.prop_counts.get(key, 0) + n
        if other.items is not None:
            if self.items is None:
                self.items = other.items.copy(times)
            else:
                self.items.merge(other.items, times)
        if self.strings_overflow or other.strings_overflow:
            self.strings_overflow = True
            self.strings = _NONE
        elif other.strings:
            self.strings = _add_counts(self.strings, other.strings, times)
            if len(self.strings) > _MAX_VALUES:
                self.strings_overflow = True
                self.strings = _NONE
        if other.example is not None:
            if self.example is None:
                self.example, self.example_key = other.example, other.example_key
            else:
                okey = other.example_key or _example_key(other.example)
                if okey < (self.example_key or _example_key(self.example)):
                    self.example, self.example_key = other.example, okey

    def copy(self, times: int = 1) -> SchemaStats:
        """A deep copy: what merging this node into a new one gives, without the merging.

        Merging into an empty node adds every count to nothing; copying the tallies
        gives the same node (same keys in the same order, the caps already applied)
        several times faster, which is what repeated bodies and new groups cost.
        ``times`` scales every count, as ``merge(self, times)`` into a new node would.
        """
        if times != 1:
            return self._scaled(times)
        props = self.props
        return SchemaStats(
            count=self.count,
            types=self.types.copy() if self.types else _NONE,
            props={k: v.copy() for k, v in props.items()} if props else _NONE,
            prop_counts=self.prop_counts.copy() if self.prop_counts else _NONE,
            objects=self.objects,
            overflow_props=self.overflow_props,
            items=self.items.copy() if self.items is not None else None,
            strings=self.strings.copy() if self.strings else _NONE,
            strings_overflow=self.strings_overflow,
            formats=self.formats.copy() if self.formats else _NONE,
            key_shapes=self.key_shapes.copy() if self.key_shapes else _NONE,
            example=self.example,
            example_key=self.example_key,
        )

    def _scaled(self, times: int) -> SchemaStats:
        """A deep copy with every count multiplied by ``times``."""
        props = self.props
        return SchemaStats(
            count=self.count * times,
            types=_times(self.types, times),
            props={k: v._scaled(times) for k, v in props.items()} if props else _NONE,
            prop_counts=_times(self.prop_counts, times),
            objects=self.objects * times,
            overflow_props=self.overflow_props,
            items=self.items._scaled(times) if self.items is not None else None,
            strings=_times(self.strings, times),
            strings_overflow=self.strings_overflow,
            formats=_times(self.formats, times),
            key_shapes=_times(self.key_shapes, times),
            example=self.example,
            example_key=self.example_key,
        )

    # -- producing a schema --------------------------------------------------
    def is_map(self) -> bool:
        """True when the object's keys are data (ids, dates), not field names."""
        ids = self.key_shapes.get("id", 0)
        names = self.key_shapes.get("name", 0)
        if self.overflow_props:
            return True
        if ids and ids >= 2 and ids >= names * 4:
            return True
        # Many distinct keys, each seen in a small share of the objects: a dictionary.
        if self.objects >= 3 and len(self.props) >= 12:
            mean_presence = sum(self.prop_counts.values()) / (len(self.props) * self.objects)
            return mean_presence < 0.2
        return False

    def to_schema(
        self, *, enum: EnumPolicy = DEFAULT_ENUM, observed: bool = True, examples: bool = True
    ) -> dict[str, Any]:
        """Return the JSON Schema this evidence supports."""
        types = [t for t in _TYPE_ORDER if self.types.get(t)]
        if "integer" in types and "number" in types:
            types.remove("integer")
        nullable = "null" in types
        concrete = [t for t in types if t != "null"]
        out: dict[str, Any] = {}
        if not concrete:
            out["type"] = "null" if nullable else None
            if out["type"] is None:
                out = {}
        elif len(concrete) == 1:
            out.update(self._schema_for(concrete[0], enum, observed, examples))
            if nullable:
                t = out.get("type")
                out["type"] = [t, "null"] if isinstance(t, str) else t
        else:
            variants = [self._schema_for(t, enum, observed, examples) for t in concrete]
            if nullable:
                variants.append({"type": "null"})
            out["anyOf"] = variants
        if observed:
            out["x-observed"] = self.count
        return out

    def _schema_for(
        self, t: str, enum: EnumPolicy, observed: bool, examples: bool
    ) -> dict[str, Any]:
        if t == "object":
            if self.is_map():
                merged = SchemaStats()
                for child in self.props.values():
                    merged.merge(child)
                sch: dict[str, Any] = {"type": "object"}
                sch["additionalProperties"] = merged.to_schema(
                    enum=enum, observed=observed, examples=examples
                )
                if observed:
                    sch["x-dynamic-keys"] = True
                return sch
            props = {
                k: self.props[k].to_schema(enum=enum, observed=observed, examples=examples)
                for k in sorted(self.props)
            }
            sch = {"type": "object", "properties": props}
            required = sorted(
                k for k, n in self.prop_counts.items() if self.objects and n == self.objects
            )
            if required:
                sch["required"] = required
            return sch
        if t == "array":
            sch = {"type": "array"}
            if self.items is not None and self.items.count:
                sch["items"] = self.items.to_schema(enum=enum, observed=observed, examples=examples)
            else:
                sch["items"] = {}
            return sch
        if t == "string":
            sch = {"type": "string"}
            nstr = self.types.get("string", 0)
            fmt_votes = {k: v for k, v in self.formats.items() if k}
            if fmt_votes:
                best = max(sorted(fmt_votes), key=lambda k: fmt_votes[k])
                if fmt_votes[best] * 2 > nstr:
                    sch["format"] = best
            if (
                not self.strings_overflow
                and self.strings
                and nstr >= enum.min_samples
                and len(self.strings) <= enum.max_values
                and nstr >= enum.min_ratio * len(self.strings)
                and len(self.strings) >= 2
                and all(len(v) <= 40 and v.count(" ") <= 2 for v in self.strings)
                and not _id_like_values(self.strings)
            ):
                sch["enum"] = sorted(self.strings)
            if examples and isinstance(self.example, str):
                sch["examples"] = [self.example]
            return sch
        sch = {"type": t}
        if examples and self.example is not None and _json_type(self.example) == t:
            sch["examples"] = [self.example]
        return sch


_FIELDS = tuple(f.name for f in fields(SchemaStats))

_TYPE_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")


def _id_like_values(values: dict[str, int]) -> bool:
    """Enum evidence made of ids or dates is not an enum."""
    shapes = [classify(v) for v in values]
    return sum(1 for s in shapes if is_id_shape(s) and s != Shape.INTEGER) * 2 > len(shapes)


def _example_key(value: Any) -> tuple[str, str]:
    return (_json_type(value), repr(value))


@lru_cache(maxsize=16384)
def _key_shape(key: str) -> str:
    """Whether an object key looks like data (``id``) or a field name (``name``)."""
    return "id" if is_id_shape(classify(key)) else "name"


def _times(counts: dict[Any, int], times: int) -> dict[Any, int]:
    return {k: n * times for k, n in counts.items()} if counts else _NONE


def _add_counts(into: dict[str, int], other: dict[str, int], times: int = 1) -> dict[str, int]:
    """``into`` with ``other``'s counts (times ``times``) added.

    A new dict when ``into`` is the shared empty one.
    """
    if times != 1:
        if into is _NONE:
            return {k: n * times for k, n in other.items()}
        for k, n in other.items():
            into[k] = into.get(k, 0) + n * times
        return into
    if into is _NONE:
        return dict(other)
    for k, n in other.items():
        into[k] = into.get(k, 0) + n
    return into


_TYPE_OF: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    str: "string",
    dict: "object",
    list: "array",
    tuple: "array",
}  # exact types only; floats and subclasses go through _json_type


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() and abs(value) < 2**53 else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return "string"


def infer(samples: list[Any], **kwargs: Any) -> dict[str, Any]:
    """Infer one schema from several JSON samples (a convenience over :class:`SchemaStats`)."""
    stats = SchemaStats()
    for s in samples:
        stats.add(s)
    return stats.to_schema(**kwargs)
