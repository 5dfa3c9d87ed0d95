"""The tool card: one callable operation with typed inputs/outputs, safety, auth and plans."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from toolgen._jsontext import dumps_indented
from zapi.errors import InvalidToolCard, ToolCardError
from zapi.files import load_model

__all__ = [
    "SCHEMA_VERSION",
    "Binding",
    "FixedValue",
    "Idempotency",
    "Login",
    "PlanKind",
    "Provenance",
    "Reconcile",
    "ToolCard",
    "Verification",
    "card_text",
    "load_card",
    "load_cards",
]

SCHEMA_VERSION = "1"
NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"

Safety = Literal["read_only", "idempotent", "write", "destructive"]
Location = Literal["path", "query", "header", "cookie", "body"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Binding(_Model):
    """Where one tool argument goes on the wire."""

    arg: str = Field(description="argument name in input_schema")
    location: Location
    name: str = Field(
        description="wire name: path parameter, query key, header, cookie or body field"
    )
    array: bool = Field(False, description="query: send one key per item")
    whole_body: bool = Field(False, description="body: the argument is the entire body")


PlanKind = Literal["same", "moved", "created", "deleted"]
"""What a write does to the resource a plan reads: changes it in place, moves it to a new
location, creates it, or deletes it."""

_SOURCES = (
    "read argument -> source: 'arg:NAME' (write argument), 'response:/json/pointer' "
    "(the write's response), 'header:NAME' (a response header, e.g. Location), "
    "'value:TEXT' (a recorded string constant) or 'json:VALUE' (a recorded typed constant)"
)


class Verification(_Model):
    """Read-after-write plan: call ``tool`` with ``args`` and check what the read shows.

    ``same``: the read shows the written fields. ``moved``: the read of the NEW location
    (bound from the response or the write's arguments) shows them, and, when
    ``gone_args`` is set, the old location answers 404/410. ``created``: the read of the
    resource the response named shows them. ``deleted``: the read answers 404/410.
    """

    kind: PlanKind = "same"
    tool: str
    args: dict[str, str] = Field(description=_SOURCES)
    patterns: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "read argument -> path pattern (a tail of the read's path template, e.g. "
            "'work/{name}.txt'): the source value is a path or URL and the argument is "
            "the part of it the placeholder matches"
        ),
    )
    compare: dict[str, str] = Field(
        default_factory=dict,
        description="write argument -> JSON pointer in the read response holding the same value",
    )
    expect: dict[str, str] = Field(
        default_factory=dict,
        description="JSON pointer in the read response -> source of the identity value it holds",
    )
    items_pointer: str = Field(
        "",
        description=(
            "JSON pointer of a list in the read response: the item whose 'expect' fields "
            "match is the one compared (or, for 'deleted', must be absent)"
        ),
    )
    gone_args: dict[str, str] = Field(
        default_factory=dict,
        description="moved: read arguments of the OLD location, which must answer 404/410",
    )


class Reconcile(_Model):
    """How to tell, after an ambiguous outcome, whether a write landed.

    ``same``: the read of the resource shows the written fields. ``moved``: the new
    location shows them (landed) or is absent while ``gone_args`` still reads (not
    landed). ``created``: a listed item carries this call's identity (client id), or, with
    ``snapshot``, it is the one item the list gained since before the send.
    ``deleted``: the read answers 404/410 (landed) or still shows the resource. Without a
    kind (cards written before kinds existed) a plan is the list match of ``created``.
    """

    kind: PlanKind = "created"
    tool: str
    args: dict[str, str] = Field(
        description="read argument -> 'arg:NAME', 'value:TEXT' or 'json:VALUE'"
    )
    patterns: dict[str, str] = Field(
        default_factory=dict, description="read argument -> path pattern (see Verification)"
    )
    match: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "write argument -> field of the listed/returned item that must equal it "
            "(identity fields for 'created': ids, client refs, names)"
        ),
    )
    items_pointer: str = Field(
        "", description="JSON pointer of the list of items in the read response"
    )
    gone_args: dict[str, str] = Field(
        default_factory=dict,
        description="moved: read arguments of the OLD location (still there: not landed)",
    )
    snapshot: str = Field(
        "",
        description=(
            "created, the server picks the identity: the field of the listed items that "
            "names each one (e.g. 'path'); the list is read before the send and again after "
            "an ambiguous one: exactly one new item landed, none did not, several: unknown"
        ),
    )


class FixedValue(_Model):
    """A request value the client always sends unchanged, or generates per request.

    Never an argument of the tool: the runtime sends ``value`` (or a fresh value when
    ``generate`` is set, e.g. a cache-buster) unless the caller overrides it by name.
    """

    location: Location
    name: str = Field(description="wire name: query key, header, cookie or body field")
    value: Any = Field(None, description="the constant to send (ignored when generate is set)")
    generate: Literal["", "timestamp_ms", "timestamp_s", "random_hex", "uuid"] = Field(
        "", description="a fresh value per request instead of a constant (cache-busters)"
    )
    in_key: bool = Field(
        False,
        description="query only: the generated value is appended to name to form the key "
        "(a cache-buster like '?p_1796003241578='), sent with value",
    )
    reason: str = Field("", description="the evidence, e.g. 'same value in all 12 requests'")


class Login(_Model):
    """What a login exchange yields; set on the card that logs in."""

    sets_cookies: list[str] = Field(
        default_factory=list, description="session cookies the login response sets"
    )
    token_pointer: str = Field("", description="JSON pointer of an access token in the response")
    refresh_pointer: str = Field("", description="JSON pointer of a refresh token")
    token_scheme: str = Field("", description="securityScheme key the token is sent as")
    csrf_source: str = Field(
        "",
        description="where the CSRF token comes from: cookie:NAME (a cookie), header:NAME (a "
        "response header), meta:NAME (a page's <meta name=NAME>), input:NAME (a page's hidden "
        "<input name=NAME>)",
    )
    csrf_page: str = Field(
        "",
        description="path of the page whose <meta>/<input> carries the CSRF token (meta:/input:"
        " sources), e.g. the page the login redirects to",
    )
    secret_args: list[str] = Field(
        default_factory=list, description="arguments that are secrets (passwords): references only"
    )


class Idempotency(_Model):
    """Evidence that a write may be safely resent."""

    header: str | None = Field(None, description="request header carrying an idempotency key")
    evidence: str = ""
    client_ids: list[str] = Field(default_factory=list, description="client-generated id fields")


class Provenance(_Model):
    """Where the evidence for this card came from."""

    sources: dict[str, int] = Field(description="HAR file -> requests of this operation")
    entries: list[tuple[str, int]] = Field(description="first (file, entry index) pairs")
    samples: int
    ui_actions: dict[str, int] = Field(default_factory=dict)


class ToolCard(_Model):
    """One operation of an API as a safe, callable tool."""

    schema_version: Literal["1"] = "1"
    name: str = Field(pattern=NAME_PATTERN)
    description: str
    method: str
    origin: str = Field(description="scheme://host[:port] the operation was recorded on")
    path: str = Field(description="path template, e.g. /orders/{order_id}")
    protocol: Literal["rest", "graphql", "jsonrpc"] = "rest"
    discriminator: str = Field("", description="GraphQL operation name or JSON-RPC method")
    safety: Safety
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    bindings: list[Binding]
    body_media: str = ""
    body_template: dict[str, Any] = Field(
        default_factory=dict, description="fixed body fields (GraphQL query, JSON-RPC method)"
    )
    responses: dict[str, str] = Field(description="status -> one-line summary of what was seen")
    error_schemas: dict[str, dict[str, Any]] = Field(default_factory=dict)
    auth: list[str] = Field(default_factory=list, description="securityScheme keys")
    csrf: dict[str, str] | None = Field(
        None,
        description="{'cookie': ..., 'header': ...} for double-submit; 'field': the body field "
        "a form sends the token in (filled by the runtime, never an argument)",
    )
    verification: Verification | None = None
    reconcile: Reconcile | None = None
    idempotency: Idempotency = Field(default_factory=Idempotency)
    fixed: list[FixedValue] = Field(
        default_factory=list, description="values sent automatically, never asked of the caller"
    )
    login: Login | None = Field(None, description="set when this tool logs in")
    safety_reasons: list[str] = Field(
        default_factory=list, description="the evidence behind the safety class"
    )
    seen_working: bool = Field(
        True,
        description="False when every recorded call failed (4xx/5xx): not offered as a "
        "working tool by default",
    )
    inputs_from: dict[str, list[str]] = Field(
        default_factory=dict,
        description="argument -> 'tool.output.field' sources seen in the recording (flows.json)",
    )
    confidence: float
    reasons: list[str]
    provenance: Provenance

    def dump(self) -> str:
        """Deterministic JSON text of the card."""
        return card_text(self.model_dump(mode="json"))

    @property
    def is_write(self) -> bool:
        """True for anything but a read."""
        return self.safety != "read_only"


def load_card(path: str | os.PathLike[str]) -> ToolCard:
    """Read one card file.

    Raises:
        ToolCardError: the file cannot be read or is not JSON.
        InvalidToolCard: the JSON does not match the card model.
    """
    return load_model(
        path,
        ToolCard,
        what="tool card",
        fix="re-run zapi analyze to regenerate it",
        error=ToolCardError,
        invalid=InvalidToolCard,
    )


def load_cards(folder: str | os.PathLike[str]) -> dict[str, ToolCard]:
    """Read every card of an analyzer output folder (``OUT`` or ``OUT/cards``), by name."""
    base = os.fspath(folder)
    cards_dir = os.path.join(base, "cards") if os.path.isdir(os.path.join(base, "cards")) else base
    if not os.path.isdir(cards_dir):
        raise ToolCardError(
            f"{base}: not a folder of tool cards; run zapi analyze first", path=base
        )
    out = {}
    for f in sorted(os.listdir(cards_dir)):
        if f.endswith(".json"):
            card = load_card(os.path.join(cards_dir, f))
            out[card.name] = card
    if not out:
        raise ToolCardError(f"{cards_dir}: holds no tool cards; run zapi analyze first", path=base)
    return out


def card_text(data: dict[str, Any]) -> str:
    """What :meth:`ToolCard.dump` writes for a card whose ``model_dump(mode="json")`` is data."""
    return dumps_indented(data) + "\n"
