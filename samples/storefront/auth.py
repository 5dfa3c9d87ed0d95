"""Storefront logins: expiring access tokens, rotating refresh tokens, and the sign-in page."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["USERS", "SIGN_IN_PAGE", "Grant", "TokenIssuer"]

USERS = {"alice": "wonderland", "bob": "builder"}
"""Demo accounts: username to password."""


@dataclass(frozen=True)
class Grant:
    """What ``POST /api/login`` and ``POST /api/token/refresh`` answer."""

    access_token: str
    refresh_token: str
    expires_in: int

    def to_json(self) -> dict[str, object]:
        """The JSON answer."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
        }


class TokenIssuer:
    """Issues access tokens that expire server-side and refresh tokens that rotate."""

    def __init__(
        self,
        *,
        access_ttl_s: int = 900,
        refresh_ttl_s: int = 86400,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create an issuer with the token lifetimes (seconds) and a clock."""
        self.access_ttl_s, self.refresh_ttl_s, self.clock = access_ttl_s, refresh_ttl_s, clock
        self._lock = threading.Lock()
        self._access: dict[str, float] = {}  # token -> expiry
        self._refresh: dict[str, float] = {}
        self.refreshes = 0
        self.logins = 0

    def login(self, user: str, password: str) -> Grant | None:
        """A grant for valid credentials, else ``None``."""
        known = USERS.get(user)
        if known is None or not secrets.compare_digest(known, password):
            return None
        with self._lock:
            self.logins += 1
            return self._grant()

    def refresh(self, token: str) -> Grant | None:
        """A new grant for a live refresh token (which is used up), else ``None``."""
        with self._lock:
            expiry = self._refresh.pop(token, None)
            if expiry is None or expiry <= self.clock():
                return None
            self.refreshes += 1
            return self._grant()

    def valid(self, token: str) -> bool:
        """Whether ``token`` is a live access token."""
        with self._lock:
            expiry = self._access.get(token)
            return expiry is not None and expiry > self.clock()

    def expire_access(self) -> int:
        """End every access token now (refresh tokens stay live); return how many."""
        with self._lock:
            n = len(self._access)
            self._access.clear()
            return n

    def expire_all(self) -> None:
        """End every access and refresh token."""
        with self._lock:
            self._access.clear()
            self._refresh.clear()

    def _grant(self) -> Grant:
        now = self.clock()
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        self._access[access] = now + self.access_ttl_s
        self._refresh[refresh] = now + self.refresh_ttl_s
        return Grant(access, refresh, self.access_ttl_s)


SIGN_IN_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Storefront</title></head>
<body>
<form id="login" onsubmit="return false">
  <input id="username" name="username" autocomplete="username">
  <input id="password" name="password" type="password" autocomplete="current-password">
  <button id="login-btn" type="button">Sign in</button>
</form>
<button id="refresh-btn" type="button">Stay signed in</button>
<ul id="orders"></ul>
<p id="status"></p>
<script>
let access = "", refresh = "";
const status = (t) => { document.getElementById("status").textContent = t; };
async function api(method, path, body) {
  const r = await fetch(path, {
    method, headers: Object.assign({"Authorization": "Bearer " + access},
      body ? {"Content-Type": "application/json"} : {}),
    body: body ? JSON.stringify(body) : undefined});
  return r.json();
}
function keep(grant) { access = grant.access_token; refresh = grant.refresh_token; }
async function load() {
  const products = await api("GET", "/api/products?page=1&per_page=10");
  for (const p of products.data.slice(0, 3)) await api("GET", "/api/products/" + p.id);
  const orders = await api("GET", "/api/orders?page=1&per_page=10");
  for (const o of orders.data) await api("GET", "/api/orders/" + o.id);
  const page = await api("GET", "/api/orders?status=pending");
  const list = document.getElementById("orders");
  list.innerHTML = "";
  for (const o of page.data) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.className = "pay"; b.dataset.id = o.id; b.textContent = "Mark " + o.id + " paid";
    b.onclick = async () => { await api("PATCH", "/api/orders/" + o.id, {status: "paid"});
                              status("Paid " + o.id); };
    li.appendChild(b); list.appendChild(li);
  }
  status("Loaded " + page.data.length);
}
document.getElementById("login-btn").onclick = async () => {
  const r = await fetch("/api/login", {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({username: document.getElementById("username").value,
                          password: document.getElementById("password").value})});
  if (!r.ok) { status("Sign-in failed"); return; }
  keep(await r.json());
  await load();
};
document.getElementById("refresh-btn").onclick = async () => {
  const r = await fetch("/api/token/refresh", {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({refresh_token: refresh})});
  keep(await r.json());
  status("Refreshed");
};
</script>
</body></html>
"""
