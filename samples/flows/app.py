"""The flows sample: a workflow-runs console (Prefect-like) whose UI reads through POSTs.

Everything a real single-page app does that fools a method-based analyzer:

- ``GET /login`` + ``POST /login`` (form) → ``303 /app`` setting ``flows_session``;
  ``GET /app`` carries the CSRF token in ``<meta name="csrf-token">``; every write
  sends it back as ``X-CSRF-Token``.
- Reads that are POSTs: ``POST /api/flow_runs/filter``, ``/api/flow_runs/count``,
  ``/api/task_runs/count``, ``/api/flow_runs/paginate``, ``/api/flow_runs/{id}/history``,
  ``/api/flow_runs/by_ids``; GraphQL queries (``FlowRuns``, ``FlowRunCount``) and
  JSON-RPC reads (``runs.list``, ``runs.get``) on ``POST /graphql`` and ``POST /rpc``.
- Writes: ``POST /api/flow_runs`` (422 naming ``name`` when it is missing),
  ``POST /api/flow_runs/{id}/set_state``, ``DELETE /api/flow_runs/{id}``, GraphQL
  mutations ``CreateFlowRun``/``DeleteFlowRun``, JSON-RPC ``runs.retry``, and one
  action route ``POST /api/ui/actions?id=list_tasks|delete_tasks`` (a read and a delete).
- ``GET /api/flow_runs/recent`` with cache-busters (``?_=<ms>``, ``?p_<ms>=``),
  ``GET /app/settings`` (a whole HTML page the UI fetches) and
  ``GET /api/legacy_stats`` (always 404).

The UI sends ``X-App-UI: true`` on every call and a ``ui_theme`` cookie its script
sets (the server never does).  Stdlib only; binds 127.0.0.1.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from samples._http import (
    HttpError,
    Request,
    Response,
    Router,
    html_response,
    json_response,
    redirect,
)
from samples._server import SampleServer

__all__ = ["DEFAULT_PASSWORD", "DEFAULT_USER", "FlowsServer", "make_server"]

DEFAULT_USER = "ops"
DEFAULT_PASSWORD = "flows-demo-pass"
STATES = ("SCHEDULED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
SESSION_COOKIE = "flows_session"

_LOGIN_PAGE = """<!doctype html><html><head><title>Flows: log in</title></head><body>
<form method="post" action="/login"><input name="username"><input name="password"
type="password"><button>Log in</button></form></body></html>"""
_SETTINGS_PAGE = """<!doctype html><html><head><title>Settings</title></head>
<body><h1>Settings</h1><p>Theme and notifications.</p></body></html>"""
_APP_PAGE = """<!doctype html><html><head><title>Flows</title>
<meta name="csrf-token" content="{csrf}"></head><body><div id="runs"></div>
<script>
document.cookie = "ui_theme=dark; path=/";
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const headers = {{"Content-Type": "application/json", "X-App-UI": "true", "X-CSRF-Token": csrf}};
const post = (url, body) => fetch(url, {{method: "POST", headers, body: JSON.stringify(body)}});
post("/api/flow_runs/filter", {{state: "RUNNING", limit: 10}});
post("/api/flow_runs/count", {{state: "FAILED"}});
</script></body></html>"""


@dataclass
class FlowRun:
    """One run of a flow."""

    id: str
    name: str
    flow: str
    state: str
    history: list[str] = field(default_factory=list)
    tasks: int = 3

    def to_json(self) -> dict[str, Any]:
        """The API representation."""
        return {
            "id": self.id,
            "name": self.name,
            "flow": self.flow,
            "state": self.state,
            "task_count": self.tasks,
        }


class FlowsServer(SampleServer):
    """The flows app. See the module docstring for routes."""

    def __init__(self, port: int = 0) -> None:
        """Create (but do not start) the app on 127.0.0.1:``port`` (0: ephemeral)."""
        super().__init__(port)
        self.runs: dict[str, FlowRun] = {}
        self.sessions: dict[str, str] = {}  # session id -> CSRF token
        self.writes = 0
        self.router = Router()
        add = self.router.add
        add("GET", "/login", lambda _: html_response(_LOGIN_PAGE))
        add("POST", "/login", self._login)
        add("GET", "/app", self._app)
        add("GET", "/app/settings", lambda _: html_response(_SETTINGS_PAGE))
        add("POST", "/api/flow_runs/filter", self._filter)
        add("POST", "/api/flow_runs/count", self._count)
        add("POST", "/api/flow_runs/paginate", self._paginate)
        add("POST", "/api/flow_runs/by_ids", self._by_ids)
        add("POST", "/api/task_runs/count", self._task_count)
        add("GET", "/api/flow_runs/recent", self._recent)
        add("POST", "/api/flow_runs", self._create)
        add("POST", "/api/flow_runs/{run_id}/history", self._history)
        add("POST", "/api/flow_runs/{run_id}/set_state", self._set_state)
        add("DELETE", "/api/flow_runs/{run_id}", self._delete)
        add("POST", "/api/ui/actions", self._action)
        add("POST", "/graphql", self._graphql)
        add("POST", "/rpc", self._rpc)

    def reset(self) -> None:
        """Seed twelve runs; forget sessions."""
        self.sessions.clear()
        self.writes = 0
        self.runs = {}
        for i in range(1, 13):
            rid = f"fr-{i:04d}"
            state = STATES[i % len(STATES)]
            self.runs[rid] = FlowRun(rid, f"nightly-{i}", ("etl", "report")[i % 2], state, [state])

    # -- auth --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Session and CSRF checks for the API, then route."""
        api = request.path.startswith(("/api/", "/graphql", "/rpc"))
        if api or request.path.startswith("/app"):
            sid = request.cookies.get(SESSION_COOKIE, "")
            if sid not in self.sessions:
                if not api:
                    return redirect("/login")
                return json_response({"error": "unauthorized", "detail": "log in first"}, 401)
            if api and request.method != "GET":
                sent = request.header("x-csrf-token")
                if not secrets.compare_digest(sent.encode(), self.sessions[sid].encode()):
                    return json_response({"error": "csrf", "detail": "bad X-CSRF-Token"}, 403)
        return self.router.dispatch(request)

    def _login(self, request: Request) -> Response:
        form = request.form()
        if form.get("username") != DEFAULT_USER or form.get("password") != DEFAULT_PASSWORD:
            return html_response(_LOGIN_PAGE, 401)
        sid = secrets.token_hex(16)
        self.sessions[sid] = secrets.token_urlsafe(24)
        cookie = f"{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax"
        return redirect("/app", headers=(("Set-Cookie", cookie),))

    def _app(self, request: Request) -> Response:
        csrf = self.sessions[request.cookies[SESSION_COOKIE]]
        return html_response(_APP_PAGE.format(csrf=csrf))

    # -- reads -------------------------------------------------------------------------------

    def _select(self, body: dict[str, Any]) -> list[FlowRun]:
        state = body.get("state")
        like = body.get("name_like")
        return [
            r
            for r in sorted(self.runs.values(), key=lambda r: r.id)
            if (not state or r.state == state) and (not like or like in r.name)
        ]

    def _filter(self, request: Request) -> Response:
        body = request.json_object()
        limit = int(body.get("limit", 10))
        return json_response({"flow_runs": [r.to_json() for r in self._select(body)[:limit]]})

    def _count(self, request: Request) -> Response:
        return json_response({"count": len(self._select(request.json_object()))})

    def _paginate(self, request: Request) -> Response:
        body = request.json_object()
        page, per_page = int(body.get("page", 1)), int(body.get("per_page", 5))
        runs = self._select(body)
        chunk = runs[(page - 1) * per_page : page * per_page]
        return json_response(
            {"results": [r.to_json() for r in chunk], "page": page, "total": len(runs)}
        )

    def _by_ids(self, request: Request) -> Response:
        ids = request.json_object().get("ids", [])
        return json_response([self.runs[i].to_json() for i in ids if i in self.runs])

    def _task_count(self, request: Request) -> Response:
        run = self._run(str(request.json_object().get("flow_run_id", "")))
        return json_response({"count": run.tasks})

    def _recent(self, request: Request) -> Response:
        runs = sorted(self.runs.values(), key=lambda r: r.id)[-3:]
        return json_response({"flow_runs": [r.to_json() for r in runs]})

    def _history(self, request: Request) -> Response:
        run = self._run(request.params["run_id"])
        return json_response({"id": run.id, "states": list(run.history)})

    def _run(self, run_id: str) -> FlowRun:
        run = self.runs.get(run_id)
        if run is None:
            raise HttpError.not_found("no such flow run")
        return run

    # -- writes ------------------------------------------------------------------------------

    def _create(self, request: Request) -> Response:
        body = request.json_object()
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise HttpError.validation("name is required", "name")
        rid = f"fr-{len(self.runs) + 1:04d}"
        while rid in self.runs:
            rid = f"fr-{int(rid[3:]) + 1:04d}"
        self.runs[rid] = FlowRun(rid, name, str(body.get("flow", "etl")), "SCHEDULED")
        self.runs[rid].history.append("SCHEDULED")
        self.writes += 1
        return json_response(
            self.runs[rid].to_json(), 201, headers=(("Location", f"/api/flow_runs/{rid}"),)
        )

    def _set_state(self, request: Request) -> Response:
        run = self._run(request.params["run_id"])
        state = request.json_object().get("state")
        if state not in STATES:
            raise HttpError.validation(f"state must be one of {', '.join(STATES)}", "state")
        run.state = str(state)
        run.history.append(run.state)
        self.writes += 1
        return json_response(run.to_json())

    def _delete(self, request: Request) -> Response:
        self._run(request.params["run_id"])
        del self.runs[request.params["run_id"]]
        self.writes += 1
        return Response(204)

    def _action(self, request: Request) -> Response:
        action = request.arg("id")
        run = self._run(str(request.json_object().get("flow_run_id", "")))
        if action == "list_tasks":
            return json_response({"tasks": [f"{run.id}-t{i}" for i in range(run.tasks)]})
        if action == "delete_tasks":
            run.tasks = 0
            self.writes += 1
            return json_response({"deleted": True})
        raise HttpError.validation("unknown action", "id")

    # -- protocols ---------------------------------------------------------------------------

    def _graphql(self, request: Request) -> Response:
        body = request.json_object()
        op = body.get("operationName")
        var = body.get("variables") or {}
        if op == "FlowRuns":
            runs = self._select({"state": var.get("state")})
            return json_response({"data": {"flowRuns": [r.to_json() for r in runs]}})
        if op == "FlowRunCount":
            return json_response({"data": {"flowRunCount": len(self._select(var))}})
        if op == "CreateFlowRun":
            fake = Request(
                "POST",
                "/api/flow_runs",
                body=json.dumps(var).encode(),
                headers={"content-type": "application/json"},
            )
            created = json.loads(self._create(fake).body)
            return json_response({"data": {"createFlowRun": created}})
        if op == "DeleteFlowRun":
            self._run(str(var.get("id")))
            del self.runs[str(var.get("id"))]
            self.writes += 1
            return json_response({"data": {"deleteFlowRun": True}})
        return json_response({"errors": [{"message": f"unknown operation {op}"}]}, 400)

    def _rpc(self, request: Request) -> Response:
        body = request.json_object()
        method, params, rid = body.get("method"), body.get("params") or {}, body.get("id")
        if method == "runs.list":
            result: Any = [r.to_json() for r in self._select(params)]
        elif method == "runs.get":
            result = self._run(str(params.get("id"))).to_json()
        elif method == "runs.retry":
            run = self._run(str(params.get("id")))
            run.state = "SCHEDULED"
            run.history.append(run.state)
            self.writes += 1
            result = run.to_json()
        else:
            return json_response({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601}})
        return json_response({"jsonrpc": "2.0", "id": rid, "result": result})


def make_server(port: int = 0) -> FlowsServer:
    """A flows app on 127.0.0.1:``port`` (0 picks a free port at start)."""
    return FlowsServer(port)
