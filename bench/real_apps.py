"""Real-app corpus: record sessions of real PyPI web apps and score zapi against their own OpenAPI.

    python bench/real_apps.py [--apps piccolo_admin,dstack] [--cache DIR] [--keep] [--json FILE]

For each app: install it from PyPI into its own venv under the cache (the only
network use; skipped when already there), start it on a free 127.0.0.1 port
with throwaway data, fetch the app's own OpenAPI document(s) as the truth,
record a session with ``zapi record URL --headless --script
bench/real_apps/<app>.py``, analyse the HAR with ``zapi analyze`` and score the
result with ``../shared/eval/score.py --har``.  Prints one row per app and, for
each app, the scorer's examples of what went wrong (missed operations, concrete
copies, unparameterised path segments).  Not part of the test run.

Nothing here is known to zapi: the apps are only measured, never special-cased.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVES = os.path.join(HERE, "real_apps")
# ../shared/eval beside the checkout (a worktree may sit one level deeper)
DEFAULT_EVAL = next(
    (
        d
        for d in (os.path.join(HERE, *[".."] * n, "shared", "eval") for n in (2, 3))
        if os.path.exists(os.path.join(d, "score.py"))
    ),
    os.path.join(HERE, "..", "..", "shared", "eval"),
)
DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "zapi-realapps")


@dataclass(frozen=True)
class App:
    """How to install, start, and read the truth of one real app."""

    name: str
    pip: tuple[str, ...]  # requirements installed into the app's own venv
    dist: str  # distribution whose version is reported
    serve: Callable[[str, int, str], list[str]]  # (venv bin dir, port, data dir) -> argv
    # (mount prefix, URL path of an OpenAPI document, or "file:" + a path inside the venv's
    # site-packages for a document the app ships but does not serve)
    truth: tuple[tuple[str, str], ...]
    start_path: str = "/"
    ready_path: str = "/"
    env: dict[str, str] = field(default_factory=dict)  # "{data}": the data dir, "{port}": the port
    truth_login: Callable[[httpx.Client], None] | None = None  # log the truth client in if needed
    files: dict[str, str] = field(default_factory=dict)  # written into the data dir before setup
    setup: tuple[tuple[str, ...], ...] = ()  # commands run in the venv's bin dir before serving
    startup_s: float = 180.0


def _piccolo_login(client: httpx.Client) -> None:
    """Log in with the demo's published login (the private API document needs a session)."""
    client.get("/public/meta/")
    token = client.cookies.get("csrftoken") or ""
    client.post(
        "/public/login/",
        json={"username": "piccolo", "password": "piccolo123"},
        headers={"X-CSRFToken": token},
    ).raise_for_status()


def _superset_login(client: httpx.Client) -> None:
    """Get a bearer token for the admin created at setup (the OpenAPI endpoint needs one)."""
    resp = client.post(
        "/api/v1/security/login",
        json={"username": "admin", "password": "admin", "provider": "db", "refresh": False},
    )
    resp.raise_for_status()
    client.headers["Authorization"] = "Bearer " + resp.json()["access_token"]


with open(os.path.join(DRIVES, "superset_config.py")) as _fh:
    SUPERSET_CONFIG = _fh.read()

APPS: dict[str, App] = {
    app.name: app
    for app in (
        App(
            name="piccolo_admin",
            pip=("piccolo_admin", "piccolo[sqlite]"),
            dist="piccolo_admin",
            serve=lambda bindir, port, data: [
                os.path.join(bindir, "python"),
                "-P",  # the drive script piccolo_admin.py beside it must not shadow the package
                os.path.join(DRIVES, "piccolo_admin_serve.py"),
                str(port),
            ],
            truth=(("/api", "/api/openapi.json"), ("/public", "/public/openapi.json")),
            ready_path="/public/meta/",
            truth_login=_piccolo_login,
        ),
        App(
            name="superset",
            # rich and cachetools are imported but not declared; Flask-Caching 2.4+ breaks its cache
            pip=("apache-superset", "rich", "cachetools", "flask-caching<2.4"),
            dist="apache-superset",
            serve=lambda bindir, port, data: [
                os.path.join(bindir, "superset"),
                "run",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "--with-threads",
            ],
            truth=(("", "/api/v1/_openapi"),),
            start_path="/login/",
            ready_path="/health",
            env={"SUPERSET_CONFIG_PATH": "{data}/superset_config.py", "PYTHONPATH": ""},
            files={"superset_config.py": SUPERSET_CONFIG},
            setup=(
                ("superset", "db", "upgrade"),
                (
                    "superset",
                    "fab",
                    "create-admin",
                    "--username",
                    "admin",
                    "--firstname",
                    "Ada",
                    "--lastname",
                    "Admin",
                    "--email",
                    "admin@example.org",
                    "--password",
                    "admin",  # throwaway local admin on 127.0.0.1
                ),
                ("superset", "init"),
            ),
            truth_login=_superset_login,
        ),
        App(
            name="airflow",
            pip=("apache-airflow",),
            dist="apache-airflow",
            serve=lambda bindir, port, data: [os.path.join(bindir, "airflow"), "standalone"],
            truth=(
                ("", "/openapi.json"),
                ("", "/auth/openapi.json"),
                ("", "file:airflow/api_fastapi/core_api/openapi/_private_ui.yaml"),
            ),
            ready_path="/api/v2/monitor/health",
            env={
                "AIRFLOW_HOME": "{data}",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "True",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": "{port}",
            },
            startup_s=400.0,
        ),
        App(
            name="dstack",
            pip=("dstack[server]",),
            dist="dstack",
            serve=lambda bindir, port, data: [
                os.path.join(bindir, "dstack"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--token",
                "5b1f0c2e-0d7a-4c1e-9d7e-2f6a1b3c4d5e",  # throwaway admin (the drive types it)
            ],
            truth=(("", "/openapi.json"),),
            ready_path="/openapi.json",
            # HOME too: the server writes the CLI's ~/.dstack/config.yml and asks before
            # replacing another server's entry
            env={"DSTACK_SERVER_DIR": "{data}/server", "HOME": "{data}"},
        ),
    )
}


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_venv(app: App, cache: str) -> str:
    """Create the app's venv and install it from PyPI unless already done; return its bin dir."""
    root = os.path.join(cache, app.name)
    venv = os.path.join(root, "venv")
    bindir = os.path.join(venv, "bin")
    marker = os.path.join(root, "installed.json")
    want = list(app.pip)
    if os.path.exists(marker):
        with open(marker) as fh:
            if json.load(fh) == want:
                return bindir
    os.makedirs(root, exist_ok=True)
    if not os.path.exists(os.path.join(bindir, "python")):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    print(f"[{app.name}] installing {' '.join(want)} into {venv}", file=sys.stderr)
    subprocess.run(
        [os.path.join(bindir, "python"), "-m", "pip", "install", "-q", *want],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with open(marker, "w") as fh:
        json.dump(want, fh)
    return bindir


def app_version(app: App, bindir: str) -> str:
    """The installed version of the app's distribution."""
    code = f"import importlib.metadata as m; print(m.version({app.dist!r}))"
    out = subprocess.run(
        [os.path.join(bindir, "python"), "-c", code], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll URL until the app answers below 500; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def _prefix_refs(node: Any, tag: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/components/"):
                kind, _, name = v[len("#/components/") :].partition("/")
                out[k] = f"#/components/{kind}/{tag}{name}"
            else:
                out[k] = _prefix_refs(v, tag)
        return out
    if isinstance(node, list):
        return [_prefix_refs(v, tag) for v in node]
    return node


def merge_documents(parts: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One OpenAPI document from mounted ones: paths get their mount prefix, components a tag.

    A document's own server path (``servers[0].url``, e.g. ``/api/v1``) is folded into its
    paths too (once: a server path that already starts with the mount is the whole prefix),
    so the merged document needs no ``servers``.
    """
    merged: dict[str, Any] = {
        "openapi": parts[0][1].get("openapi", "3.1.0"),
        "info": {"title": "merged", "version": "1"},
        "paths": {},
        "components": {},
    }
    for i, (prefix, doc) in enumerate(parts):
        tag = f"m{i}_"
        doc = _prefix_refs(doc, tag)
        servers = doc.get("servers") or [{}]
        served = urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")
        mount = prefix.rstrip("/")
        # A mounted app often reports its mount as its server path (FastAPI's root_path):
        # ``/api`` mounted at ``/api`` is ``/api``, not ``/api/api``.
        prefix = served if mount and (served + "/").startswith(mount + "/") else mount + served
        for path, item in (doc.get("paths") or {}).items():
            merged["paths"][prefix.rstrip("/") + path] = item
        for kind, entries in (doc.get("components") or {}).items():
            bucket = merged["components"].setdefault(kind, {})
            for name, value in entries.items():
                bucket[tag + name] = value
    return merged


def site_packages(bindir: str) -> str:
    """The venv's site-packages folder."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    out = subprocess.run(
        [os.path.join(bindir, "python"), "-c", code], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def fetch_truth(app: App, base: str, dest: str, bindir: str) -> int:
    """Fetch, merge and write the app's own OpenAPI document(s); return the operation count."""
    with httpx.Client(base_url=base, timeout=60, follow_redirects=True) as client:
        if app.truth_login is not None:
            app.truth_login(client)
        parts = []
        for prefix, path in app.truth:
            if path.startswith("file:"):
                with open(os.path.join(site_packages(bindir), path[len("file:") :])) as fh:
                    parts.append((prefix, yaml.safe_load(fh)))
                continue
            resp = client.get(path)
            resp.raise_for_status()
            parts.append((prefix, resp.json()))
    doc = merge_documents(parts)
    with open(dest, "w") as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sum(1 for item in doc["paths"].values() for m in item if m in methods)


def _run(cmd: list[str], log: str, timeout: float) -> tuple[int, float]:
    t0 = time.monotonic()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout)
    return proc.returncode, time.monotonic() - t0


def run_app(app: App, cache: str, eval_dir: str, keep: bool) -> dict[str, Any]:
    """Install, start, record, analyse and score one app; always stop what was started."""
    t_app = time.monotonic()
    res: dict[str, Any] = {"app": app.name, "status": "ok"}
    bindir = ensure_venv(app, cache)
    res["version"] = app_version(app, bindir)
    work = tempfile.mkdtemp(prefix=f"zapi-realapp-{app.name}-")
    res["work"] = work
    data = os.path.join(work, "data")
    os.makedirs(data)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    for key, value in app.env.items():
        env[key] = value.replace("{data}", data).replace("{port}", str(port))
    for fname, text in app.files.items():
        with open(os.path.join(data, fname), "w") as fh:
            fh.write(text.replace("{data}", data))
    setup_log = os.path.join(work, "setup.log")
    with open(setup_log, "w") as fh:
        for cmd in app.setup:
            rc = subprocess.run(
                [os.path.join(bindir, cmd[0]), *cmd[1:]], cwd=data, env=env, stdout=fh, stderr=fh
            ).returncode
            if rc != 0:
                res["status"] = f"error: setup {cmd[0]} {cmd[1]} failed (rc={rc}); see {setup_log}"
                res["app_s"] = time.monotonic() - t_app
                return res
    server_log = os.path.join(work, "server.log")
    with open(server_log, "w") as slog:
        server = subprocess.Popen(
            app.serve(bindir, port, data),
            cwd=data,
            env=env,
            stdout=slog,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(base + app.ready_path, server, app.startup_s)
        truth = os.path.join(work, "truth.json")
        res["truth_ops"] = fetch_truth(app, base, truth, bindir)
        har = os.path.join(work, "app.har")
        zapi = [sys.executable, "-m", "zapi"]
        drive = os.path.join(DRIVES, f"{app.name}.py")
        rc, res["record_s"] = _run(
            [*zapi, "record", base + app.start_path, "-o", har, "--headless", "--script", drive],
            os.path.join(work, "record.log"),
            900,
        )
        if rc != 0:
            raise RuntimeError(f"zapi record failed (rc={rc}); see {work}/record.log")
        with open(os.path.join(work, "record.log")) as fh:
            res["drive_skipped"] = [ln.strip() for ln in fh if ln.startswith("drive: step")]
        out = os.path.join(work, "out")
        rc, res["wall_s"] = _run(
            [*zapi, "analyze", har, "-o", out, "--no-progress"],
            os.path.join(work, "analyze.log"),
            900,
        )
        if rc != 0:
            raise RuntimeError(f"zapi analyze failed (rc={rc}); see {work}/analyze.log")
        score = subprocess.run(
            [
                sys.executable,
                os.path.join(eval_dir, "score.py"),
                truth,
                os.path.join(out, "openapi.json"),
                "--har",
                har,
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        res["metrics"] = json.loads(score.stdout)
    except (RuntimeError, httpx.HTTPError, subprocess.SubprocessError, OSError) as exc:
        res["status"] = f"error: {exc}"
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    res["app_s"] = time.monotonic() - t_app
    if not keep and res["status"] == "ok":
        shutil.rmtree(work, ignore_errors=True)
        res.pop("work")
    return res


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" if isinstance(v, float) else str(v)


COLUMNS = (
    "app",
    "version",
    "HAR entries",
    "API calls",
    "ops P",
    "ops R",
    "ops F1",
    "pathp R",
    "FP concrete",
    "query R",
    "body R",
    "resp R",
    "wall s",
    "app s",
)


def row(res: dict[str, Any]) -> list[str]:
    """One table row (exercised scope, as ../shared/eval/run.py prints)."""
    m = res.get("metrics") or {}
    kinds = m.get("false_positive_kinds") or {}
    concrete = sum(v for k, v in kinds.items() if k.startswith("concrete_id")) if m else None
    cells = [
        res["app"],
        res.get("version"),
        _get(m, "har", "entries"),
        _get(m, "har", "api_entries"),
        _get(m, "operations", "exercised", "precision"),
        _get(m, "operations", "exercised", "recall"),
        _get(m, "operations", "exercised", "f1"),
        _get(m, "path_params", "recall"),
        concrete,
        _get(m, "query_params", "exercised", "recall"),
        _get(m, "request_body", "exercised", "recall"),
        _get(m, "response", "exercised", "recall"),
        res.get("wall_s"),
        res.get("app_s"),
    ]
    return [_fmt(c) for c in cells]


def details(res: dict[str, Any]) -> list[str]:
    """What went wrong for one app, from the scorer's examples."""
    m = res.get("metrics") or {}
    lines = [f"## {res['app']} {res.get('version', '')}: {res['status']}"]
    if not m:
        return lines
    ops = _get(m, "operations", "exercised") or {}
    lines.append(
        f"  truth ops {m.get('truth_operations')}, exercised {m.get('exercised_operations')}, "
        f"inferred {m.get('inferred_operations')}, "
        f"tp {ops.get('tp')} fp {ops.get('fp')} fn {ops.get('fn')}; "
        f"FP kinds {json.dumps(m.get('false_positive_kinds'), sort_keys=True)}"
    )
    for ex in m.get("missed_examples") or []:
        lines.append(f"  missed  {ex}")
    for kind, exs in sorted((m.get("false_positive_examples") or {}).items()):
        for ex in exs:
            lines.append(f"  FP {kind:<14} {ex}")
    for ex in _get(m, "path_params", "examples") or []:
        lines.append(f"  pathp   {ex}")
    for kind, exs in sorted((m.get("examples") or {}).items()):
        for ex in exs[:4]:
            lines.append(f"  {kind:<16} {ex}")
    for skipped in res.get("drive_skipped") or []:
        lines.append(f"  {skipped}")
    return lines


def main() -> int:
    """Run the corpus and print the table and the per-app details."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--apps", default=",".join(APPS), help="subset of: " + ", ".join(APPS))
    ap.add_argument("--cache", default=os.environ.get("ZAPI_REALAPPS_CACHE", DEFAULT_CACHE))
    ap.add_argument("--eval", default=DEFAULT_EVAL, help="folder holding score.py")
    ap.add_argument("--keep", action="store_true", help="keep work folders (HAR, truth, output)")
    ap.add_argument("--json", help="also write every result to this file")
    args = ap.parse_args()
    names = [n for n in args.apps.split(",") if n]
    unknown = [n for n in names if n not in APPS]
    if unknown:
        print(f"error: unknown app(s) {', '.join(unknown)}; use {', '.join(APPS)}", file=sys.stderr)
        return 2
    if not os.path.exists(os.path.join(args.eval, "score.py")):
        print(f"error: {args.eval}/score.py not found; pass --eval PATH", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    results = []
    for name in names:
        res = run_app(APPS[name], args.cache, args.eval, args.keep)
        results.append(res)
        print(f"[{name}] {res['status']} in {res['app_s']:.0f} s", file=sys.stderr)
    print(" | ".join(COLUMNS))
    for res in results:
        print(" | ".join(row(res)))
    print(f"total {time.monotonic() - t0:.0f} s")
    for res in results:
        print()
        print("\n".join(details(res)))
        if "work" in res:
            print(f"  work folder: {res['work']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, sort_keys=True)
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
