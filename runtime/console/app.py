"""The operator console: a Starlette app over the runs database, action log and tool cards."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from runtime.console.logview import LogFilter, LogReader, describe, parse_since
from runtime.console.runs import FILTERS, matches, run_row, timeline
from runtime.console.safe import clean, pretty
from runtime.console.security import CSRF_COOKIE, SESSION_COOKIE, Guard, is_loopback
from runtime.console.tools import card_view, input_schemas, load_tool_cards
from runtime.console.values import ValueProblem, check_changes, parse_value, schemas_for
from runtime.workflows import RunInfo, RunsClient
from zapi.errors import WorkflowError

__all__ = ["ConsoleConfig", "create_app", "render_page"]

_HERE = Path(__file__).resolve().parent
_ACTIONS = ("approve", "reject", "resume", "cancel")


@dataclass(frozen=True)
class ConsoleConfig:
    """What the console serves and who may act.

    Attributes:
        database_url: the runs database (``sqlite:///...`` or ``postgresql://...``).
        state: the action-log SQLite file, if any.
        tools: an analyzer output folder, if any.
        host: the address served on (decides whether the Host header is checked).
        operator: a fixed operator name recorded on every decision; without it, people
            sign in with their name.
        token: the sign-in token (required for a non-loopback host).
        refresh_s: auto-refresh period of the runs and run pages.
        page_size: runs shown per page.
    """

    database_url: str
    state: str | None = None
    tools: str | None = None
    host: str = "127.0.0.1"
    operator: str | None = None
    token: str | None = None
    refresh_s: float = 3.0
    page_size: int = 200


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["pretty"] = pretty
    env.filters["tojson_compact"] = lambda v: json.dumps(v, sort_keys=True, default=str)
    env.filters["epoch"] = lambda ts: (
        datetime.fromtimestamp(float(ts)).astimezone().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        if ts is not None
        else ""
    )
    return env


_ENV = _environment()


def render_page(name: str, context: dict[str, Any], *, csrf: str = "") -> str:
    """Render template ``name`` with ``context`` cleaned of secrets first.

    ``csrf`` is the one value passed through as is: the form token of this browser (the
    redactor would rightly take it for a secret).
    """
    return _ENV.get_template(name).render(**clean(context), csrf=csrf)


class Console:
    """The app's state: clients, the pending-decision memory and the request guard."""

    def __init__(self, config: ConsoleConfig, *, guard: Guard | None = None) -> None:
        """Connect to the runs database and load the tool cards.

        Raises:
            WorkflowError: the runs database cannot be opened.
            ToolCardError: ``tools`` holds no readable cards.
        """
        self.config = config
        self.guard = guard or Guard(config.token, loopback=is_loopback(config.host))
        self.client = RunsClient(config.database_url)
        self.cards = load_tool_cards(config.tools)
        self.schemas = input_schemas(self.cards)
        self._pending: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._reader: LogReader | None = None

    def close(self) -> None:
        """Release the database connections."""
        self.client.close()
        if self._reader is not None:
            self._reader.close()

    # -- pending decisions --------------------------------------------------------------------

    def remember(self, run_id: str, decision: dict[str, Any]) -> None:
        """Keep a sent decision until a worker applies it."""
        with self._lock:
            self._pending[run_id] = decision

    def pending(self, info: RunInfo) -> dict[str, Any] | None:
        """A decision sent to the wait the run is parked at that no worker has applied yet.

        With a ``RunsClient.pending_decision`` (the runs database's own record of sent
        decisions, which also sees ``zapi runs`` decisions and survives a console restart)
        that is the answer; otherwise the decisions sent from this console, kept until the
        run leaves the wait they were sent to.
        """
        wait_id = _wait_id(info)
        with self._lock:
            mine = self._pending.get(info.run_id)
            if mine is not None and (wait_id is None or mine.get("wait_id") != wait_id):
                self._pending.pop(info.run_id, None)  # applied: the run moved on
                mine = None
        durable: Any = getattr(self.client, "pending_decision", None)
        if not callable(durable):
            return mine
        found = durable(info)
        if found is None:
            return None
        action, by, at = found
        changes = (
            mine.get("changes", {}) if mine and (mine["action"], mine["by"]) == (action, by) else {}
        )
        return {"action": action, "by": by, "at": at, "wait_id": wait_id, "changes": changes}

    def log_reader(self) -> LogReader | None:
        """The action log, when one is configured and exists (opened once, then kept)."""
        if not self.config.state:
            return None
        with self._lock:
            if self._reader is None:
                try:
                    self._reader = LogReader(self.config.state)
                except FileNotFoundError:
                    return None
            return self._reader


def _wait_id(info: Any) -> str | None:
    state = info.state
    return (
        state.wait.wait_id if state is not None and state.wait is not None and info.parked else None
    )


# -- request plumbing ------------------------------------------------------------------------


def _page(
    console: Console, request: Request, name: str, ctx: dict[str, Any], status: int = 200
) -> Response:
    cookie = request.cookies.get(CSRF_COOKIE) or console.guard.new_csrf_cookie()
    base = {
        "operator": console.config.operator or console.guard.session_operator(request) or "",
        "fixed_operator": bool(console.config.operator),
        "code_required": console.config.token is not None,
        "has_log": bool(console.config.state),
        "has_tools": bool(console.cards),
        "refresh_ms": int(console.config.refresh_s * 1000),
        "path": request.url.path,
    }
    html = render_page(name, {**base, **ctx}, csrf=console.guard.csrf_token(cookie))
    response = HTMLResponse(html, status_code=status)
    if request.cookies.get(CSRF_COOKIE) != cookie:
        response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="strict")
    response.headers["Cache-Control"] = "no-store"
    return response


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def _guarded(
    console: Console, handler: Callable[[Console, Request], Any], *, public: bool = False
) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        guard = console.guard
        if not guard.host_ok(request):
            return Response("unexpected Host header", status_code=400)
        if not public and not guard.authenticated(request):
            if request.method == "GET":
                return RedirectResponse("/login?" + urlencode({"next": request.url.path}), 303)
            return Response("sign in first", status_code=401)
        if request.method == "POST":
            form = await _form(request)
            if not guard.csrf_ok(request, form.get("csrf", "")):
                return Response("CSRF check failed: reload the page and try again", status_code=403)
            request.state.form = form
        result: Response = await handler(console, request)
        return result

    return endpoint


# -- pages ------------------------------------------------------------------------------------


def _runs_data(console: Console, params: dict[str, str]) -> dict[str, Any]:
    status = params.get("status", "")
    query = params.get("q", "")
    try:
        limit = max(1, min(int(params.get("limit") or console.config.page_size), 100_000))
    except ValueError:
        limit = console.config.page_size
    started = time.perf_counter()
    infos = console.client.list_runs(limit=limit if not query else 100_000, status=status or None)
    rows = [run_row(i, console.pending(i)) for i in infos if matches(i, query)][:limit]
    return {
        "rows": rows,
        "status": status,
        "q": query,
        "limit": limit,
        "filters": FILTERS,
        "query_ms": round((time.perf_counter() - started) * 1000, 1),
    }


async def runs_page(console: Console, request: Request) -> Response:
    data = await run_in_threadpool(_runs_data, console, dict(request.query_params))
    return _page(console, request, "runs.html", {"title": "Runs", **data})


async def runs_table(console: Console, request: Request) -> Response:
    data = await run_in_threadpool(_runs_data, console, dict(request.query_params))
    return HTMLResponse(render_page("_runs_table.html", data))


def _detail(console: Console, run_id: str) -> dict[str, Any]:
    reader = console.log_reader()
    records = reader.records() if reader is not None else None
    view = timeline(console.client, run_id, records)
    wait = view["wait"]
    view["pending"] = console.pending(console.client.get(run_id))
    if wait and wait.get("kind") == "approval":
        schemas, narrow = schemas_for(
            wait.get("values") or {},
            wait_name=str(wait.get("name", "")),
            plan=console.client.get(run_id).plan,
            tool_schemas=console.schemas,
        )
        view["value_fields"] = [
            {
                "name": k,
                "value": json.dumps(v) if not isinstance(v, str) else v,
                "schema": schemas.get(k, {}),
                "narrow": k in narrow,
            }
            for k, v in sorted((wait.get("values") or {}).items())
        ]
    else:
        view["value_fields"] = []
    err = (wait or {}).get("error") or {}
    view["ask_landed"] = bool(wait and "resume" in (wait.get("accepts") or []) and err)
    return view


async def run_page(console: Console, request: Request) -> Response:
    run_id = request.path_params["run_id"]
    try:
        view = await run_in_threadpool(_detail, console, run_id)
    except WorkflowError as exc:
        return _page(
            console, request, "error.html", {"title": "No such run", "message": exc.message}, 404
        )
    flash = request.query_params.get("sent", "")
    return _page(
        console,
        request,
        "run.html",
        {"title": f"Run {run_id}", "run": view, "flash": flash, "problem": "", "form": {}},
    )


async def run_state(console: Console, request: Request) -> Response:
    run_id = request.path_params["run_id"]

    def read() -> dict[str, Any]:
        info = console.client.get(run_id)
        wid = _wait_id(info)
        return {
            "status": info.status,
            "wait_id": wid,
            "pending": console.pending(info) is not None,
            "step": info.state.step if info.state else 0,
        }

    try:
        data = await run_in_threadpool(read)
    except WorkflowError as exc:
        return JSONResponse({"error": exc.message}, status_code=404)
    return JSONResponse(data)


def _decide(console: Console, run_id: str, form: dict[str, str], operator: str) -> str:
    """Validate and send one decision; return the flash text.

    Raises:
        ValueProblem: the form is refused (nothing was sent).
        WorkflowError: the run does not accept this decision (nothing was sent).
    """
    action = form.get("action", "")
    if action not in _ACTIONS:
        raise ValueProblem(f"unknown action {action!r}")
    if not operator:
        raise ValueProblem("say who you are first: sign in with your name")
    note = form.get("note", "").strip()
    info = console.client.get(run_id)
    wid = _wait_id(info)
    already = console.pending(info)
    if already is not None:
        raise ValueProblem(
            f"a decision is already on its way ({already['action']} by {already['by']} at "
            f"{already['at']}); a worker applies it when it picks the run up"
        )
    if action == "cancel":
        what = console.client.cancel(run_id, by=operator, note=note)
        if info.parked:
            console.remember(
                run_id,
                {"action": "cancel", "by": operator, "at": _now(), "wait_id": wid, "changes": {}},
            )
        return f"cancel by {operator}: {what}"
    changes: dict[str, Any] = {}
    wait = info.state.wait if info.state is not None else None
    if action == "approve" and wait is not None:
        edits = {
            k.removeprefix("value."): parse_value(v)
            if not isinstance(wait.values.get(k.removeprefix("value.")), str)
            else v
            for k, v in form.items()
            if k.startswith("value.")
        }
        schemas, narrow = schemas_for(
            wait.values, wait_name=wait.name, plan=info.plan, tool_schemas=console.schemas
        )
        changes = check_changes(wait.values, edits, schemas, narrow)
    if action == "resume":
        landed = form.get("landed", "")
        if landed in ("true", "false"):
            changes = {"landed": landed == "true"}
        elif landed:
            raise ValueProblem("landed must be true, false or left to the reconcile read")
    decision = console.client.decide(run_id, action, by=operator, note=note, changes=changes)
    console.remember(run_id, {**decision.model_dump(mode="json")})
    extra = f" with {json.dumps(decision.changes, sort_keys=True)}" if decision.changes else ""
    return f"{action} by {operator}{extra} sent"


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


async def decide(console: Console, request: Request) -> Response:
    run_id = request.path_params["run_id"]
    form: dict[str, str] = request.state.form
    operator = console.config.operator or console.guard.session_operator(request) or ""
    try:
        flash = await run_in_threadpool(_decide, console, run_id, form, operator)
    except (ValueProblem, WorkflowError) as exc:
        problem = exc.message if isinstance(exc, WorkflowError) else str(exc)
        try:
            view = await run_in_threadpool(_detail, console, run_id)
        except WorkflowError as missing:
            return _page(
                console,
                request,
                "error.html",
                {"title": "No such run", "message": missing.message},
                404,
            )
        return _page(
            console,
            request,
            "run.html",
            {"title": f"Run {run_id}", "run": view, "flash": "", "problem": problem, "form": form},
            status=400,
        )
    target = f"/runs/{quote(run_id, safe='')}?" + urlencode({"sent": flash})
    return RedirectResponse(target, status_code=303)


def _log_data(console: Console, params: dict[str, str]) -> dict[str, Any]:
    problem = ""
    try:
        since = parse_since(params.get("since", ""))
        until = parse_since(params.get("until", ""))
    except ValueError:
        since = until = None
        problem = "since/until: give 15m, 2h, 1d or epoch seconds"
    f = LogFilter(
        tool=params.get("tool", ""),
        since=since,
        until=until,
        outcome=params.get("outcome", ""),
        drift=params.get("drift") == "1",
        run=params.get("run", ""),
        kind=params.get("kind", ""),
        call=params.get("call", ""),
    )
    try:
        limit = max(1, min(int(params.get("limit") or 200), 100_000))
    except ValueError:
        limit = 200
    reader = console.log_reader()
    if reader is None:
        return {
            "available": False,
            "state": console.config.state or "",
            "problem": problem,
            "params": params,
        }
    started = time.perf_counter()
    chain = reader.verify()
    everything = reader.records()
    selected = reader.select(f, everything)
    tools = sorted({r.event.tool for r in everything})
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return {
        "available": True,
        "state": console.config.state or "",
        "problem": problem,
        "params": params,
        "chain": chain.model_dump(mode="json"),
        "total": len(everything),
        "matched": len(selected),
        "records": [describe(r) for r in selected[:limit]],
        "limit": limit,
        "tools": tools,
        "query_ms": elapsed,
    }


async def log_page(console: Console, request: Request) -> Response:
    data = await run_in_threadpool(_log_data, console, dict(request.query_params))
    return _page(console, request, "log.html", {"title": "Action log", **data})


async def record_page(console: Console, request: Request) -> Response:
    try:
        seq = int(request.path_params["seq"])
    except ValueError:
        seq = -1
    reader = console.log_reader()
    found = None
    if reader is not None:
        found = next((r for r in await run_in_threadpool(reader.records) if r.seq == seq), None)
    if found is None:
        missing = {"title": "No such record", "message": f"no action-log record {seq}"}
        return _page(console, request, "error.html", missing, 404)
    ctx: dict[str, Any] = {
        "title": f"Record {seq}",
        "r": describe(found),
        "full_hash": found.hash,
        "prev_hash": found.prev_hash,
    }
    return _page(console, request, "record.html", ctx)


async def tools_page(console: Console, request: Request) -> Response:
    cards = [card_view(c) for _, c in sorted(console.cards.items())]
    return _page(
        console,
        request,
        "tools.html",
        {"title": "Tools", "cards": cards, "tools_dir": console.config.tools or ""},
    )


async def login_page(console: Console, request: Request) -> Response:
    return _page(
        console,
        request,
        "login.html",
        {"title": "Sign in", "next": request.query_params.get("next", "/"), "problem": ""},
    )


async def login(console: Console, request: Request) -> Response:
    form: dict[str, str] = request.state.form
    name = form.get("operator", "").strip()
    nxt = form.get("next", "/")
    if not nxt.startswith("/") or nxt.startswith(("//", "/\\")):
        nxt = "/"
    problem = ""
    if console.config.token is not None and not console.guard.token_ok(form.get("token", "")):
        problem = "wrong token"
    elif not name and not console.config.operator:
        problem = "give your name: it is recorded on every decision you make"
    elif "|" in name or len(name) > 80:
        problem = "a name of at most 80 characters, without '|'"
    if problem:
        return _page(
            console,
            request,
            "login.html",
            {"title": "Sign in", "next": nxt, "problem": problem},
            400,
        )
    response = RedirectResponse(nxt, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        console.guard.session_value(name or console.config.operator or ""),
        httponly=True,
        samesite="strict",
    )
    return response


async def logout(console: Console, request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def create_app(config: ConsoleConfig, *, guard: Guard | None = None) -> Starlette:
    """The console as an ASGI app (serve it with uvicorn; see ``zapi console``).

    Raises:
        WorkflowError: the runs database cannot be opened.
        ToolCardError: ``config.tools`` holds no readable cards.
    """
    console = Console(config, guard=guard)

    def route(
        path: str,
        handler: Callable[[Console, Request], Any],
        methods: list[str],
        public: bool = False,
    ) -> Route:
        return Route(path, _guarded(console, handler, public=public), methods=methods)

    routes = [
        route("/", runs_page, ["GET"]),
        route("/runs/table", runs_table, ["GET"]),
        route("/runs/{run_id:path}/state.json", run_state, ["GET"]),
        route("/runs/{run_id:path}/decide", decide, ["POST"]),
        route("/runs/{run_id:path}", run_page, ["GET"]),
        route("/log", log_page, ["GET"]),
        route("/log/record/{seq}", record_page, ["GET"]),
        route("/tools", tools_page, ["GET"]),
        route("/login", login_page, ["GET"], public=True),
        route("/login", login, ["POST"], public=True),
        route("/logout", logout, ["POST"], public=True),
        Mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.console = console
    return app
