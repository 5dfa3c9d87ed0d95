"""``SampleServer``: a threaded stdlib HTTP server on 127.0.0.1 that hosts one sample app."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from samples._http import Request, Response, json_response

__all__ = ["SampleServer"]

HOST = "127.0.0.1"
MAX_BODY_BYTES = 32 * 1024 * 1024
_POLL_INTERVAL_S = 0.01  # how fast stop() returns; idle cost is ~100 selects a second

logger = logging.getLogger("samples")


class SampleServer:
    """Base class for the sample apps: subclasses implement :meth:`handle` and :meth:`reset`.

    The server binds ``127.0.0.1`` only. :meth:`start` resets the app state and serves
    from a daemon thread; use it as a context manager to stop it again::

        with make_server() as server:
            httpx.get(server.url + "/login")
    """

    def __init__(self, port: int = 0) -> None:
        """Prepare (but do not bind) a server.

        Args:
            port: TCP port on 127.0.0.1; ``0`` picks a free ephemeral port at each start.
        """
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {port}")
        self._requested_port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._request_numbers = itertools.count(1)
        self._request_lock = threading.Lock()

    # -- app hooks -------------------------------------------------------------------------

    def reset(self) -> None:
        """Restore the app's seeded initial state (called by :meth:`start`)."""

    def handle(self, request: Request) -> Response:
        """Answer one request. Subclasses override this.

        ``request.header("x-request-id")`` is always set: the client's ``X-Request-ID``
        or a server-generated ``req-nnnnnn``; it is echoed on the response.
        """
        return json_response({"error": "not_found", "detail": request.path}, 404)

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port.

        Raises:
            RuntimeError: If the server is not running.
        """
        if self._httpd is None:
            raise RuntimeError("server is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL such as ``http://127.0.0.1:54321`` (no trailing slash)."""
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server is bound and serving."""
        return self._httpd is not None

    def start(self) -> Self:
        """Reset state, bind 127.0.0.1 and serve from a daemon thread.

        Returns:
            The server itself, for chaining.

        Raises:
            RuntimeError: If the server is already running.
            OSError: If the port cannot be bound.
        """
        if self._httpd is not None:
            raise RuntimeError("server is already running")
        self.reset()
        with self._request_lock:
            self._request_numbers = itertools.count(1)
        httpd = _HTTPServer((HOST, self._requested_port), _make_handler(self))
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name=f"{type(self).__name__}:{httpd.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._httpd, self._thread = httpd, thread
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and release the port (idempotent)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def next_request_id(self) -> str:
        """Allocate a server-side request id (``req-000001``, ``req-000002``, ...)."""
        with self._request_lock:
            return f"req-{next(self._request_numbers):06d}"

    def wait(self) -> None:
        """Block until the server stops (``KeyboardInterrupt`` interrupts the wait)."""
        thread = self._thread
        while thread is not None and thread.is_alive():
            thread.join(timeout=0.5)

    def __enter__(self) -> Self:
        """Start the server unless it is already running."""
        return self if self.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()


class _HTTPServer(ThreadingHTTPServer):
    """Threading server that tracks live connections so :meth:`SampleServer.stop` can close them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # listen backlog: tests run 48 workers' calls at once (default 5)

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._live: set[socket.socket] = set()
        self._live_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._live_lock:
            self._live.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._live_lock:
            self._live.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._live_lock:
            live, self._live = self._live, set()
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (or our own deliberate drops) are routine for a chaos target.
        logger.debug("connection error from %s", client_address, exc_info=True)


def _make_handler(app: SampleServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_RequestHandler):
        sample_app = app

    return Handler


class _RequestHandler(BaseHTTPRequestHandler):
    """Turns raw HTTP into :class:`Request`, calls the app, writes the :class:`Response`."""

    protocol_version = "HTTP/1.1"
    server_version = "zapi-sample/1.0"
    sys_version = ""
    sample_app: SampleServer

    def setup(self) -> None:
        """Disable Nagle so headers and body are not held back by delayed ACKs."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep request logging quiet (debug level only)."""
        logger.debug("%s - %s", self.address_string(), format % args)

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError as exc:
            self._write(json_response({"error": "bad_request", "detail": str(exc)}, 400))
            self.close_connection = True
            return
        split = urlsplit(self.path)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            joiner = "; " if key == "cookie" else ", "
            headers[key] = f"{headers[key]}{joiner}{value}" if key in headers else value
        request_id = headers.get("x-request-id") or self.sample_app.next_request_id()
        headers["x-request-id"] = request_id
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
        )
        try:
            response = self.sample_app.handle(request)
        except Exception:
            logger.exception("unhandled error in %s %s", self.command, self.path)
            response = json_response({"error": "internal"}, 500)
        if response.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._write(response.with_headers(("X-Request-ID", request_id)))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            raise ValueError(f"Content-Length {length} out of range")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(1024).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise ValueError("chunked body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        if response.content_type is not None:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
