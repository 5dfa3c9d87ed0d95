"""Server-rendered HTML of the ERP: the login form and the inventory page with its inline JS.

Every control has a stable ``id`` so Playwright scripts can drive it; results land in
``#status``. The inventory script talks to the JSON API with ``fetch`` and sends the
``XSRF-TOKEN`` cookie back as the ``X-XSRF-TOKEN`` header on every write.
"""

from __future__ import annotations

from html import escape

__all__ = ["render_inventory", "render_login"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
fieldset { margin: 0 0 1rem; border: 1px solid #bbb; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
#status { font-weight: bold; min-height: 1.2em; }
#ledger { max-height: 12rem; overflow: auto; background: #f6f6f6; }
"""

_LOGIN = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>ERP - Sign in</title><style>__STYLE__</style></head>
<body>
<h1>Legacy ERP</h1>
__ERROR__
<form id="login-form" method="post" action="/login">
  <label for="username">Username</label>
  <input name="username" id="username" autocomplete="username" required>
  <label for="password">Password</label>
  <input type="password" name="password" id="password" autocomplete="current-password" required>
  <button id="login-btn" type="submit">Sign in</button>
</form>
</body>
</html>
"""

_INVENTORY = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>ERP - Inventory</title><style>__STYLE__</style></head>
<body>
<header>
  <h1>Inventory</h1>
  <span id="current-user">__USER__</span>
  <form id="logout-form" method="post" action="/logout" style="display:inline">
    <button id="logout-btn" type="submit">Sign out</button>
  </form>
</header>
<p id="status" role="status" aria-live="polite"></p>

<fieldset id="search-panel"><legend>Search</legend>
  <input id="search" type="search" placeholder="SKU or name">
  <button id="search-btn" type="button">Search</button>
  <button id="prev-page" type="button">Previous</button>
  <span id="page-info"></span>
  <button id="next-page" type="button">Next</button>
  <table id="results">
    <thead><tr><th>SKU</th><th>Name</th><th>Qty</th><th>Location</th></tr></thead>
    <tbody id="results-body"></tbody>
  </table>
</fieldset>

<fieldset id="detail"><legend>Item <span id="detail-sku"></span></legend>
  <div>Name: <span id="detail-name"></span></div>
  <div>Price: <span id="detail-price"></span></div>
  <div>Quantity: <span id="detail-qty"></span></div>
  <div>Location: <span id="detail-location"></span> / <span id="detail-bin"></span></div>
  <div>Warehouse: <span id="detail-warehouse"></span></div>
  <form id="stock-form" onsubmit="return false">
    <label for="qty">New quantity</label> <input id="qty" type="number" min="0">
    <label for="reason">Reason</label> <input id="reason" value="cycle count">
    <label for="warehouse">Warehouse</label>
    <select id="warehouse">
      <option>WH-EAST</option><option>WH-NORTH</option><option>WH-WEST</option>
    </select>
    <button id="save-stock" type="button">Save stock</button>
  </form>
  <label for="notes">Notes</label>
  <textarea id="notes" rows="3" cols="60"></textarea>
  <button id="save-notes" type="button">Save notes</button>
  <div>
    <input id="attachment" type="file">
    <input id="attachment-comment" placeholder="Comment">
    <button id="upload" type="button">Upload</button>
  </div>
</fieldset>

<fieldset id="order-panel"><legend>Orders</legend>
  <input id="order-sku" placeholder="SKU">
  <input id="order-qty" type="number" min="1" value="1">
  <input id="order-customer" placeholder="Customer" value="Walk-in">
  <input id="order-ref" placeholder="Client reference (optional)">
  <button id="create-order" type="button">Create order</button>
  <button id="load-orders" type="button">List orders</button>
  <input id="order-lookup" placeholder="ORD-0001">
  <button id="find-order" type="button">Find order</button>
  <button id="find-ref" type="button">Find by reference</button>
  <table id="orders">
    <thead><tr><th>Id</th><th>SKU</th><th>Qty</th><th>Customer</th><th>Ref</th></tr></thead>
    <tbody id="orders-body"></tbody>
  </table>
</fieldset>

<fieldset><legend>Bin transfer (legacy)</legend>
  <form id="legacy-form" action="/legacy/bin_update.do" method="post">
    <input id="legacy-sku" name="sku" placeholder="SKU">
    <input id="legacy-bin" name="bin" placeholder="BIN-01">
    <button id="legacy-submit" type="submit">Move</button>
  </form>
  <div id="legacy-result"></div>
</fieldset>

<fieldset><legend>Ledger</legend>
  <button id="ledger-frag" type="button">Load ledger</button>
  <pre id="ledger"></pre>
</fieldset>

<script>
"use strict";
const $ = (id) => document.getElementById(id);
const PER_PAGE = 10;
let page = 1;
let currentItem = null;

function setStatus(text) { $("status").textContent = text; }

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\\s*)XSRF-TOKEN=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function call(method, url, body, headers) {
  const init = {method: method, credentials: "same-origin", headers: headers || {}};
  if (method !== "GET") { init.headers["X-XSRF-TOKEN"] = csrfToken(); }
  if (body !== undefined) { init.body = body; }
  const resp = await fetch(url, init);
  const text = await resp.text();
  let data = null;
  try { data = JSON.parse(text); } catch (err) { data = null; }
  if (!resp.ok) {
    const detail = (data && (data.detail || data.error)) || text;
    throw new Error("Error " + resp.status + ": " + detail);
  }
  return {data: data, text: text};
}

function sendJson(method, url, payload) {
  const headers = {"Content-Type": "application/json", "Accept": "application/json"};
  return call(method, url, JSON.stringify(payload), headers);
}

function on(id, event, handler) {
  $(id).addEventListener(event, async (ev) => {
    ev.preventDefault();
    try { await handler(ev); } catch (err) { setStatus(err.message); }
  });
}

function cell(row, value) {
  const td = document.createElement("td");
  if (value instanceof Node) { td.appendChild(value); } else { td.textContent = value; }
  row.appendChild(td);
}

function requireItem() {
  if (!currentItem) { throw new Error("Select an item first"); }
  return currentItem.sku;
}

async function loadItems() {
  const params = new URLSearchParams({page: String(page), per_page: String(PER_PAGE)});
  const q = $("search").value.trim();
  if (q) { params.set("q", q); }
  const data = (await call("GET", "/api/items?" + params.toString())).data;
  const body = $("results-body");
  body.replaceChildren();
  for (const item of data.items) {
    const row = document.createElement("tr");
    const link = document.createElement("a");
    link.href = "#";
    link.className = "item-link";
    link.id = "item-" + item.sku;
    link.dataset.sku = item.sku;
    link.textContent = item.sku;
    cell(row, link);
    cell(row, item.name);
    cell(row, String(item.quantity));
    cell(row, item.location);
    body.appendChild(row);
  }
  const pages = Math.max(1, Math.ceil(data.total / data.per_page));
  $("page-info").textContent = "Page " + data.page + " of " + pages;
  $("prev-page").disabled = data.page <= 1;
  $("next-page").disabled = data.page >= pages;
  setStatus(data.total + " items");
}

function showItem(item) {
  currentItem = item;
  $("detail-sku").textContent = item.sku;
  $("detail-name").textContent = item.name;
  $("detail-price").textContent = item.price.toFixed(2);
  $("detail-qty").textContent = String(item.quantity);
  $("detail-location").textContent = item.location;
  $("detail-bin").textContent = item.bin;
  $("detail-warehouse").textContent = item.warehouse || item.region_id || "";
  if (item.warehouse) { $("warehouse").value = item.warehouse; }
  $("qty").value = String(item.quantity);
  $("order-sku").value = item.sku;
  $("legacy-sku").value = item.sku;
}

async function openItem(sku) {
  const item = (await call("GET", "/api/items/" + encodeURIComponent(sku))).data;
  showItem(item);
  setStatus("Loaded " + item.sku);
}

function historyEntries(count) {
  const actions = ["viewed", "counted", "moved", "adjusted"];
  const start = Date.UTC(2024, 0, 1);
  const history = [];
  for (let i = 0; i < count; i++) {
    history.push({
      seq: i + 1,
      at: new Date(start + i * 60000).toISOString(),
      by: i % 3 === 0 ? "alice" : "bob",
      action: actions[i % actions.length],
      delta: (i * 7) % 13 - 6,
      note: "history entry number " + (i + 1),
    });
  }
  return history;
}

function showOrders(orders) {
  const body = $("orders-body");
  body.replaceChildren();
  for (const order of orders) {
    const row = document.createElement("tr");
    row.className = "order-row";
    row.dataset.orderId = order.id;
    for (const key of ["id", "sku", "quantity", "customer", "client_ref"]) {
      cell(row, order[key] === null ? "" : String(order[key]));
    }
    body.appendChild(row);
  }
}

on("search-btn", "click", async () => { page = 1; await loadItems(); });
$("search").addEventListener("keydown", (ev) => {
  if (ev.key !== "Enter") { return; }
  ev.preventDefault();
  page = 1;
  loadItems().catch((err) => setStatus(err.message));
});
on("prev-page", "click", async () => { page = Math.max(1, page - 1); await loadItems(); });
on("next-page", "click", async () => { page += 1; await loadItems(); });

$("results-body").addEventListener("click", async (ev) => {
  const link = ev.target.closest("a.item-link");
  if (!link) { return; }
  ev.preventDefault();
  try { await openItem(link.dataset.sku); } catch (err) { setStatus(err.message); }
});

on("save-stock", "click", async () => {
  const sku = requireItem();
  const payload = {quantity: parseInt($("qty").value, 10), reason: $("reason").value};
  if (currentItem.region_id) {
    payload.region_id = currentItem.region_id;
  } else {
    payload.warehouse = $("warehouse").value;
  }
  const url = "/api/items/" + encodeURIComponent(sku) + "/stock";
  showItem((await sendJson("PUT", url, payload)).data);
  setStatus("Saved");
});

on("save-notes", "click", async () => {
  const sku = requireItem();
  const payload = {sku: sku, notes: $("notes").value, history: historyEntries(2000)};
  const url = "/api/items/" + encodeURIComponent(sku) + "/notes";
  const data = (await sendJson("PUT", url, payload)).data;
  setStatus("Notes saved (" + data.bytes + " bytes)");
});

on("upload", "click", async () => {
  const sku = requireItem();
  const file = $("attachment").files[0];
  if (!file) { throw new Error("Choose a file first"); }
  const form = new FormData();
  form.append("file", file);
  form.append("comment", $("attachment-comment").value);
  const url = "/api/items/" + encodeURIComponent(sku) + "/attachments";
  const data = (await call("POST", url, form)).data;
  setStatus("Uploaded " + data.id + " (" + data.size + " bytes)");
});

on("create-order", "click", async () => {
  const payload = {
    sku: $("order-sku").value.trim(),
    quantity: parseInt($("order-qty").value, 10),
    customer: $("order-customer").value,
  };
  const ref = $("order-ref").value.trim();
  if (ref) { payload.client_ref = ref; }
  const order = (await sendJson("POST", "/api/orders", payload)).data;
  setStatus("Order " + order.id + " created");
});

on("load-orders", "click", async () => {
  const data = (await call("GET", "/api/orders?page=1&per_page=20")).data;
  showOrders(data.orders);
  setStatus(data.total + " orders");
});

on("find-order", "click", async () => {
  const id = $("order-lookup").value.trim();
  const order = (await call("GET", "/api/orders/" + encodeURIComponent(id))).data;
  showOrders([order]);
  setStatus("Order " + order.id + " found");
});

on("find-ref", "click", async () => {
  const params = new URLSearchParams({client_ref: $("order-ref").value.trim()});
  const data = (await call("GET", "/api/orders?" + params.toString())).data;
  showOrders(data.orders);
  setStatus(data.total + " orders");
});

on("legacy-form", "submit", async () => {
  const body = new URLSearchParams(new FormData($("legacy-form"))).toString();
  const headers = {"Content-Type": "application/x-www-form-urlencoded"};
  const result = await call("POST", "/legacy/bin_update.do", body, headers);
  $("legacy-result").innerHTML = result.text;
  setStatus("Bin updated");
});

on("ledger-frag", "click", async () => {
  const xml = (await call("GET", "/api/ledger.xml")).text;
  const doc = new DOMParser().parseFromString(xml, "application/xml");
  $("ledger").textContent = xml;
  setStatus("Ledger: " + doc.getElementsByTagName("entry").length + " entries");
});

loadItems().catch((err) => setStatus(err.message));
</script>
</body>
</html>
"""


def render_login(error: str | None = None) -> str:
    """The sign-in page, with an ``#login-error`` alert when ``error`` is given."""
    alert = f'<p id="login-error" role="alert">{escape(error)}</p>' if error else ""
    return _LOGIN.replace("__STYLE__", _STYLE).replace("__ERROR__", alert)


def render_inventory(user: str) -> str:
    """The inventory page for the signed-in ``user``."""
    return _INVENTORY.replace("__STYLE__", _STYLE).replace("__USER__", escape(user))
