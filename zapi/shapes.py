"""Value-shape classifiers: what a path segment, query value or token looks like."""

from __future__ import annotations

import math
import re
from collections import Counter
from enum import StrEnum
from functools import lru_cache

__all__ = ["Shape", "classify", "entropy_bits", "is_id_shape", "is_wordlike", "json_format"]


class Shape(StrEnum):
    """The shape class of one string value, from most to least id-like."""

    UUID = "uuid"
    ULID = "ulid"
    OBJECTID = "objectid"
    HEX = "hex"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "date-time"
    JWT = "jwt"
    PREFIXED_ID = "prefixed-id"
    TOKEN = "token"
    EMAIL = "email"
    SLUG = "slug"
    WORD = "word"
    EMPTY = "empty"
    OTHER = "other"


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
_OBJECTID = re.compile(r"^[0-9a-f]{24}$")
_HEX = re.compile(r"^(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}$")
_INT = re.compile(r"^-?\d+$")
_NUM = re.compile(r"^-?\d+\.\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
# cus_8H2kQ1, prod_A19x, sk_test_..., pi_3N...: a short lowercase prefix, then an opaque tail
_PREFIXED = re.compile(r"^[a-z]{1,12}_(?:[a-z]{1,12}_)?(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{6,}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-+/=.~]{16,}$")
_EMAIL = re.compile(r"^[^@\s/]+@[^@\s/]+\.[A-Za-z]{2,}$")
_WORD = re.compile(r"^[A-Za-z]+(?:[_\-.][A-Za-z]+)*$")
_SLUG = re.compile(r"^[A-Za-z0-9]+(?:[_\-.][A-Za-z0-9]+)*$")

_ID_SHAPES = frozenset(
    {
        Shape.UUID,
        Shape.ULID,
        Shape.OBJECTID,
        Shape.HEX,
        Shape.INTEGER,
        Shape.NUMBER,
        Shape.DATE,
        Shape.DATETIME,
        Shape.JWT,
        Shape.PREFIXED_ID,
        Shape.TOKEN,
        Shape.EMAIL,
    }
)


def entropy_bits(value: str) -> float:
    """Shannon entropy of the characters of ``value``, in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_random(value: str) -> bool:
    """True for opaque tokens: long, mixed classes, high entropy (not a long word)."""
    if len(value) < 16:
        return False
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
        )
    )
    return classes >= 2 and entropy_bits(value) >= 3.5


# Shapes are pure functions of the value and the same keys and values recur on
# nearly every entry of a capture, so a bounded memo saves most regex work.
_MEMO = 16384


@lru_cache(maxsize=_MEMO)
def classify(value: str) -> Shape:
    """Return the shape class of one string value.

    The order matters: the most specific shapes are tested first, so ``2026``
    is an integer and ``8f14e45fceea167a`` is hex, not a token.
    """
    if value == "":
        return Shape.EMPTY
    if _INT.match(value):
        return Shape.INTEGER
    if _UUID.match(value):
        return Shape.UUID
    if _OBJECTID.match(value):
        return Shape.OBJECTID
    if _HEX.match(value):
        return Shape.HEX
    if _ULID.match(value):
        return Shape.ULID
    if _NUM.match(value):
        return Shape.NUMBER
    if _DATE.match(value):
        return Shape.DATE
    if _DATETIME.match(value):
        return Shape.DATETIME
    if _JWT.match(value):
        return Shape.JWT
    if _EMAIL.match(value):
        return Shape.EMAIL
    if _PREFIXED.match(value):
        return Shape.PREFIXED_ID
    if _WORD.match(value):
        return Shape.WORD
    if _TOKEN.match(value) and _looks_random(value):
        return Shape.TOKEN
    if _SLUG.match(value):
        return Shape.SLUG
    return Shape.OTHER


def is_id_shape(shape: Shape) -> bool:
    """True when a value of this shape is almost never a literal path word."""
    return shape in _ID_SHAPES


def is_wordlike(value: str) -> bool:
    """True for segments made of words only (``search``, ``createWithList``, ``disable_backup``)."""
    return bool(_WORD.match(value))


_FORMAT_BY_SHAPE = {
    Shape.UUID: "uuid",
    Shape.DATE: "date",
    Shape.DATETIME: "date-time",
    Shape.EMAIL: "email",
}
_IPV4 = re.compile(r"^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s]+$")


@lru_cache(maxsize=_MEMO)
def json_format(value: str) -> str | None:
    """Return the JSON Schema ``format`` a string value has, if any."""
    if _URI.match(value):
        return "uri"
    if _IPV4.match(value):
        return "ipv4"
    if _DATETIME.match(value) and "T" in value:
        return "date-time"
    shape = classify(value)
    return _FORMAT_BY_SHAPE.get(shape) if shape != Shape.DATETIME else None
