"""The MCP server: tool cards as MCP tools, every call made through the runtime.

:class:`ToolServer` is the synchronous core (curation, scope, write budget, approvals,
results); :func:`build_server` wraps it in an ``mcp`` low-level server; :func:`serve_stdio`
and :func:`serve_http` run that server. A call takes exactly the path of ``rt.call``:
validation before I/O, host scope, credentials by reference, the hash-chained action log,
safe retries, reconcile, read-after-write verification and drift findings.

A tool that needs a person's approval (every destructive tool, and whatever the policy's
``require_approval`` names) is not called at once: the call starts a durable one-step run
whose step the workflow engine gates with an approval; ``zapi runs approve RUN --by NAME``
decides it, and the ``zapi_run_result`` tool returns the run's outcome. The approval is
never asked of the MCP client itself (no elicitation): the agent driving the client must
not be the one who approves its own destructive calls.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shlex
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

import runtime as rt_pkg
from runtime.calls import CallResult
from runtime.executor import Runtime
from runtime.mcp_approvals import RUN_RESULT_TOOL, WORKFLOW, ApprovalRuns, ToolReply, short
from runtime.policy import Scope
from runtime.validate import Validators
from toolgen.cards import ToolCard
from toolgen.render import mcp_tools
from zapi.errors import ExecutionError, InvalidArguments, ScopeDenied, ZapiError

__all__ = [
    "RUN_RESULT_TOOL",
    "WORKFLOW",
    "ServeConfig",
    "ToolReply",
    "ToolServer",
    "build_server",
    "serve_http",
    "serve_stdio",
]

MAX_NAME = 64

_OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "what the runtime did: status, attempts, verification, reconcile, drift",
    "properties": {
        "status": {"type": "string"},
        "tool": {"type": "string"},
    },
    "required": ["status"],
}


@dataclass(frozen=True)
class ServeConfig:
    """What ``zapi serve`` was asked to serve.

    Attributes:
        out_dir: the ``zapi analyze`` output folder.
        credentials: a credentials file (secrets by ``env:``/``file:`` reference).
        base_url: call this origin instead of the recorded one.
        policy: a permissions policy file (YAML/JSON), the one ``zapi worker`` reads.
        tools: name globs selecting the tools to expose (all when empty).
        allow_writes: expose write tools (without it only read-only ones, unless the policy
            grants writes).
        state: the action-log file (``""`` = ``OUT/zapi.db``).
        write_budget: write calls allowed while this server runs, all clients together
            (``None`` = no limit).
        runs_db: the runs database URL for approvals (``sqlite:///...`` or ``postgresql://``).
        approval_timeout_s: how long a call waits for its run to park or finish.
        decision_wait_s: how long ``zapi_run_result`` lets a parked run take up a decision.
    """

    out_dir: str
    credentials: str | None = None
    base_url: str | None = None
    policy: str | None = None
    tools: tuple[str, ...] = ()
    allow_writes: bool = False
    state: str | None = ""
    write_budget: int | None = None
    runs_db: str = ""
    approval_timeout_s: float = 120.0
    decision_wait_s: float = 3.0


def mcp_name(name: str) -> str:
    """An MCP tool name (``[A-Za-z0-9_-]``, at most 64 characters) for a card name."""
    clean = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in name) or "tool"
    if len(clean) <= MAX_NAME and clean == name:
        return clean
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{clean[: MAX_NAME - 9]}_{digest}"


def _selected(name: str, globs: Sequence[str]) -> bool:
    return not globs or any(fnmatch.fnmatchcase(name, g) for g in globs)


class ToolServer:
    """The tools an agent may call, and how each call goes through the runtime.

    Thread-safety: calls are serialised by a lock (the runtime is not thread-safe).
    """

    def __init__(
        self,
        config: ServeConfig,
        *,
        runtime: Runtime | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """Open the runtime and decide which tools are exposed.

        Args:
            config: what to serve.
            runtime: an already opened runtime (the config's folder is opened if omitted).
            sleep: how to wait while polling a run (a real sleep if omitted).

        Raises:
            ToolCardError: the folder holds no readable cards.
            ExecutionError: the credentials or base URL are unusable.
            WorkflowError: the policy file cannot be read.
        """
        from runtime.workflows.adapters import RuntimeRunner
        from runtime.workflows.permissions import Policy, load_policy

        self.config = config
        self.rt = runtime or rt_pkg.open(
            config.out_dir,
            credentials=config.credentials,
            state=config.state,
            base_url=config.base_url,
        )
        user = load_policy(config.policy) if config.policy else None
        # The worker's policy: the user's grants, plus an approval for every destructive call.
        self.policy = Policy(
            default=user.default if user else "allow",
            grants=list(user.grants) if user else [],
            require_approval=sorted({*(user.require_approval if user else []), "destructive"}),
        )
        self._runner = RuntimeRunner(self.rt)
        self.cards: dict[str, ToolCard] = {}
        self.gated: set[str] = set()
        for card in sorted(self.rt.cards.values(), key=lambda c: c.name):
            if not _selected(card.name, config.tools):
                continue
            info = self._runner.info(card.name)
            if user is not None:
                try:
                    user.check(WORKFLOW, info)
                except ScopeDenied:
                    continue
            elif card.safety != "read_only" and not config.allow_writes:
                continue
            self.cards[mcp_name(card.name)] = card
            if self.policy.needs_approval(info):
                self.gated.add(card.name)
        login = self.rt.credentials.login
        allowed = {c.name for c in self.cards.values()} | ({login.tool} if login else set())
        self.rt.scope = Scope(
            origins=self.rt.scope.origins,
            tools=frozenset(allowed),
            safety=self.rt.scope.safety,
        )
        self._validators = Validators()
        self._out_validators: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.writes = 0
        self._approvals: ApprovalRuns | None = None
        if self.gated:
            state = config.state
            self._approvals = ApprovalRuns(
                config.runs_db or "sqlite:///" + os.path.abspath("zapi-runs.db"),
                self.policy,
                {
                    "tools": os.path.abspath(config.out_dir),
                    "base_url": config.base_url,
                    "credentials": config.credentials,
                    "state": None if state is None else (os.path.abspath(state) if state else ""),
                },
                timeout_s=config.approval_timeout_s,
                decision_wait_s=config.decision_wait_s,
                sleep=sleep,
            )

    # -- listing ---------------------------------------------------------------------------

    def tool_definitions(self) -> list[dict[str, Any]]:
        """MCP tool definitions (``toolgen.render.mcp_tools``, renamed and annotated)."""
        by_card = {c.name: n for n, c in self.cards.items()}
        out = []
        for tool in mcp_tools(self.cards.values())["tools"]:
            card = self.rt.cards[tool["name"]]
            tool["name"] = by_card[card.name]
            tool["description"] = self._description(card)
            tool["outputSchema"] = {
                "type": "object",
                "properties": {
                    "result": tool.get("outputSchema", {}),
                    "outcome": _OUTCOME_SCHEMA,
                },
                "required": ["outcome"],
            }
            out.append(tool)
        if self.gated:
            out.append(
                {
                    "name": RUN_RESULT_TOOL,
                    "description": (
                        "The outcome of a call that was parked for a person's approval: pass "
                        "the run_id it returned. Returns the API's answer once the run is "
                        "approved and finished, or says what the run still waits for."
                    ),
                    "inputSchema": {
                        "type": "object",
                        "properties": {"run_id": {"type": "string"}},
                        "required": ["run_id"],
                        "additionalProperties": False,
                    },
                    "annotations": {
                        "title": "run result",
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                }
            )
        return out

    def _description(self, card: ToolCard) -> str:
        notes = [card.description]
        if card.safety != "read_only":
            if card.verification is not None:
                notes.append(f"Each write is verified by reading {card.verification.tool}.")
            if card.reconcile is not None or card.idempotency.header:
                notes.append("An ambiguous write is settled by reading, never blindly resent.")
        if card.name in self.gated:
            notes.append(
                f"Needs a person's approval: the call returns a run id; once approved, "
                f"{RUN_RESULT_TOOL} returns the answer."
            )
        return " ".join(notes)

    # -- calling ---------------------------------------------------------------------------

    def call(self, name: str, args: dict[str, Any] | None) -> ToolReply:
        """Call one tool by its MCP name; never raises for a refused or failed call."""
        with self._lock:
            try:
                if name == RUN_RESULT_TOOL and self._approvals is not None:
                    return self._approvals.result(args or {})
                card = self.cards.get(name)
                if card is None:
                    known = ", ".join(sorted(self.cards)[:20])
                    raise InvalidArguments(f"unknown tool {name!r}; this server has: {known}")
                return self._call(card, dict(args or {}))
            except ZapiError as exc:
                return self._error(exc)

    def _error(self, exc: ZapiError) -> ToolReply:
        message = str(exc)
        tool = exc.context.get("tool")
        hint = f"`zapi log --state {shlex.quote(self._state())} --tool "
        if "`zapi log --tool " in message:  # name the log this server writes
            message = message.replace("`zapi log --tool ", hint)
        elif isinstance(exc, ExecutionError) and tool and "record_id" in exc.context:
            message += f"; see {hint}{tool}`"
        return ToolReply(f"{type(exc).__name__}: {message}", None, is_error=True)

    def _state(self) -> str:
        state = self.config.state
        return rt_pkg.default_state(self.config.out_dir) if state == "" else str(state or "")

    def _preflight(self, card: ToolCard, args: dict[str, Any]) -> None:
        """Refuse before any I/O: arguments, scope, write budget."""
        self._validators.check(card, self.rt.prepare(card.name, args))
        self.rt.scope.check(card, (self.rt.base_url or card.origin).rstrip("/") + card.path)
        budget = self.config.write_budget
        if card.safety != "read_only" and budget is not None and self.writes >= budget:
            raise ScopeDenied(
                f"the write budget of this session ({budget} write calls) is used up; "
                "restart `zapi serve` with a larger --write-budget to allow more",
                tool=card.name,
            )

    def _call(self, card: ToolCard, args: dict[str, Any]) -> ToolReply:
        self._preflight(card, args)
        if card.name in self.gated and self._approvals is not None:
            self.writes += 1
            return self._approvals.park(card, args)
        if card.safety != "read_only":
            self.writes += 1
        result = self.rt.execute(card.name, args)
        return self._reply(card, result)

    def _reply(self, card: ToolCard, result: CallResult) -> ToolReply:
        outcome: dict[str, Any] = {
            "status": "ok",
            "tool": card.name,
            "http_status": result.status,
            "attempts": result.attempts,
            "call_id": result.call_id,
        }
        if result.reconciled:
            outcome["reconciled"] = result.reconciled
        if result.verification is not None:
            report = result.verification
            outcome["verified"] = report.ok
            outcome["verified_by"] = report.read_tool
        if result.drift:
            outcome["drift"] = [f"{f.kind} {f.pointer}: {f.detail}" for f in result.drift]
        if self._matches_output(card, result.data):
            structured = {"result": result.data, "outcome": outcome}
        else:
            outcome["unmatched_output"] = "the answer does not match the card's output schema"
            structured = {"raw_result": result.data, "outcome": outcome}
        return ToolReply(short(structured), structured)

    def _matches_output(self, card: ToolCard, data: Any) -> bool:
        from toolgen.render import clean_schema

        validator = self._out_validators.get(card.name)
        if validator is None:
            schema = clean_schema(card.output_schema) or {}
            cls = jsonschema.validators.validator_for(
                schema, default=jsonschema.Draft202012Validator
            )
            validator = self._out_validators[card.name] = cls(schema)
        return bool(validator.is_valid(data))

    def close(self) -> None:
        """Stop the approval worker and close the runtime."""
        if self._approvals is not None:
            self._approvals.close()
        self.rt.close()


# -- the MCP layer ----------------------------------------------------------------------


def _resources(server: ToolServer) -> list[tuple[str, str, str, str]]:
    """(uri, name, mime type, text) of the OpenAPI document and each exposed card."""
    out = []
    spec = os.path.join(server.config.out_dir, "openapi.json")
    if os.path.isfile(spec):
        with open(spec, encoding="utf-8") as fh:
            out.append(("zapi://openapi.json", "openapi.json", "application/json", fh.read()))
    for name, card in sorted(server.cards.items()):
        out.append((f"zapi://cards/{name}", f"card {name}", "application/json", card.dump()))
    return out


def build_server(tools: ToolServer) -> Any:
    """An ``mcp`` low-level server over ``tools`` (tools and, as resources, the cards)."""
    import anyio
    import mcp_types as types
    from mcp.server import Server

    limiter = anyio.CapacityLimiter(1)
    definitions = [types.Tool.model_validate(d) for d in tools.tool_definitions()]
    resources = _resources(tools)

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=definitions)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        reply = await anyio.to_thread.run_sync(
            tools.call, params.name, dict(params.arguments or {}), limiter=limiter
        )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=reply.text)],
            structured_content=reply.structured,
            is_error=reply.is_error,
        )

    async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            resources=[
                types.Resource(uri=uri, name=name, mime_type=mime)
                for uri, name, mime, _ in resources
            ]
        )

    async def read_resource(
        ctx: Any, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        for uri, _, mime, text in resources:
            if uri == str(params.uri):
                return types.ReadResourceResult(
                    contents=[types.TextResourceContents(uri=uri, mime_type=mime, text=text)]
                )
        raise ValueError(f"no resource {params.uri}")

    return Server(
        "zapi",
        instructions=(
            "Tools generated by zapi from a recorded session. Every call is validated, "
            "scoped, logged and verified; calls that need approval return a run id."
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )


def serve_stdio(tools: ToolServer) -> None:
    """Serve over stdin/stdout until the client closes the stream."""
    import anyio
    from mcp.server.stdio import stdio_server

    server = build_server(tools)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)


def serve_http(tools: ToolServer, host: str = "127.0.0.1", port: int = 8766) -> None:
    """Serve streamable HTTP at ``http://HOST:PORT/mcp`` until interrupted."""
    import uvicorn

    app = build_server(tools).streamable_http_app(host=host)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def exposed(tools: ToolServer) -> Iterable[str]:
    """The exposed MCP tool names (for the startup line)."""
    return sorted(tools.cards)
