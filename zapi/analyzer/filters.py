"""Noise filters: which HAR entries are not API calls, and why.

Each filter looks at one entry and returns a drop reason or ``None``.  The
reasons are stable strings counted in the report.  Host scoping (first-party
detection) needs the whole capture, so it is decided afterwards by
:func:`first_party_hosts` from the tallies the pipeline keeps.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from urllib.parse import urlsplit

from zapi.analyzer.auth import session_cookie
from zapi.analyzer.signals import set_cookie_names
from zapi.har import HarEntry

__all__ = [
    "DEFAULT_FILTERS",
    "Reason",
    "drop_reason",
    "drop_served_file",
    "is_blocked",
    "first_party_hosts",
    "is_tracker_host",
    "looks_like_login",
    "site_key",
]


class Reason:
    """Stable drop reasons (report keys)."""

    STATIC = "static asset"
    SERVED_FILE = "static file (a file server's answer: byte ranges, validators, long cache)"
    DOCUMENT = "page navigation (document)"
    PREFLIGHT = "CORS preflight"
    BEACON = "beacon / ping"
    BLOCKED = "blocked request (refused before it was sent: an ad blocker, CSP, CORS, ORB)"
    WEBSOCKET = "websocket"
    TRACKER = "third-party host (analytics, ads, error reporting, CDN)"
    THIRD_PARTY = "third-party host (not first-party)"
    EXCLUDED = "excluded host (--exclude-host)"
    OUT_OF_SCOPE = "host outside --include-host"
    NON_HTTP = "not an http(s) URL"
    REDIRECT = "redirect (3xx)"
    SCRIPT_HTML = "HTML page fetched by a script (a page, not the app's data)"
    NOT_ALLOWED = "method not allowed on the route (405 with Allow, or 501; never answered)"
    EMPTY_SEGMENT = "refused path with an empty segment (a missing id: /runs//tasks)"


STATIC_TYPES = frozenset(
    {
        "stylesheet",
        "script",
        "image",
        "font",
        "media",
        "manifest",
        "texttrack",
        "icon",
        "imageset",
        "object",
        "other_static",
        "csp_report",
        "signedexchange",
        "prefetch",
    }
)
STATIC_EXT = frozenset(
    {
        ".js",
        ".mjs",
        ".cjs",
        ".css",
        ".map",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".svg",
        ".webp",
        ".avif",
        ".ico",
        ".bmp",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".mp4",
        ".webm",
        ".mp3",
        ".wav",
        ".ogg",
        ".m4a",
        ".wasm",
        ".webmanifest",
        ".vtt",
    }
)
STATIC_MIME_PREFIX = ("image/", "font/", "audio/", "video/", "text/css")
STATIC_MIMES = frozenset(
    {
        "application/javascript",
        "text/javascript",
        "application/x-javascript",
        "application/font-woff",
        "application/font-woff2",
        "application/wasm",
        "application/manifest+json",
    }
)
BEACON_TYPES = frozenset({"ping", "beacon", "csp_violation_report", "cspviolationreport"})
# Hosts (suffixes) of analytics, tag managers, ads, error reporting, fonts and CDNs.
TRACKER_SUFFIXES = (
    "google-analytics.com",
    "analytics.google.com",
    "googletagmanager.com",
    "doubleclick.net",
    "googlesyndication.com",
    "googleadservices.com",
    "google.com",
    "gstatic.com",
    "googleapis.com",
    "fonts.googleapis.com",
    "facebook.com",
    "facebook.net",
    "connect.facebook.net",
    "segment.io",
    "segment.com",
    "mixpanel.com",
    "amplitude.com",
    "heapanalytics.com",
    "hotjar.com",
    "hotjar.io",
    "fullstory.com",
    "clarity.ms",
    "bing.com",
    "sentry.io",
    "sentry-cdn.com",
    "bugsnag.com",
    "rollbar.com",
    "datadoghq.com",
    "datadoghq.eu",
    "browser-intake-datadoghq.com",
    "nr-data.net",
    "newrelic.com",
    "intercom.io",
    "intercomcdn.com",
    "cloudflareinsights.com",
    "jsdelivr.net",
    "unpkg.com",
    "cdnjs.cloudflare.com",
    "typekit.net",
    "fontawesome.com",
    "optimizely.com",
    "launchdarkly.com",
    "braze.com",
    "linkedin.com",
    "licdn.com",
    "twitter.com",
    "ads-twitter.com",
    "tiktok.com",
    "snapchat.com",
    "pinterest.com",
    "quantserve.com",
    "scorecardresearch.com",
    "criteo.com",
    "hs-analytics.net",
    "hubspot.com",
    "hs-scripts.com",
    "zendesk.com",
    "zdassets.com",
    "stripe.network",
    "recaptcha.net",
    "cookielaw.org",
    "onetrust.com",
    "trustarc.com",
    "posthog.com",
    "logrocket.io",
    "lr-ingest.io",
    "mouseflow.com",
    "crazyegg.com",
    "yandex.ru",
    "mc.yandex.ru",
    "akamaihd.net",
    "cloudfront.net",
    "fastly.net",
)
BEACON_PATHS = (
    "/collect",
    "/g/collect",
    "/beacon",
    "/ping",
    "/track",
    "/analytics",
    "/log",
    "/rum",
    "/events/batch",
    "/telemetry",
)

Filter = Callable[[HarEntry], str | None]


@lru_cache(maxsize=4096)
def is_tracker_host(host: str) -> bool:
    """True for well-known third-party analytics, ads, error-reporting and CDN hosts."""
    h = host.split(":", 1)[0].lower()
    return any(h == s or h.endswith("." + s) for s in TRACKER_SUFFIXES)


def _mime(entry: HarEntry) -> str:
    m = entry.response_mime or entry.header("content-type", response=True) or ""
    return m.split(";", 1)[0].strip().lower()


def drop_non_http(entry: HarEntry) -> str | None:
    """Drop data:, blob:, chrome-extension: and other non-http URLs."""
    return None if entry.url.startswith(("http://", "https://")) else Reason.NON_HTTP


def drop_websocket(entry: HarEntry) -> str | None:
    """Websocket upgrades are not request/response operations."""
    return Reason.WEBSOCKET if entry.is_websocket else None


# Failure texts (Chromium ``net::ERR_…``, Firefox ``NS_ERROR_…``) of requests the browser
# refused to send: an extension, a content or mixed-content policy, CORS/ORB.  What the page
# asked for never reached the server and may never reach it; an aborted or timed-out request
# (a navigation moved on, the server was slow) did, and stays evidence of its route.
_BLOCKED = re.compile(
    r"BLOCKED|CSP|CORS|ORB\b|MIXED|INSECURE|UNSAFE|DISALLOWED|UNKNOWN_URL_SCHEME", re.IGNORECASE
)


def is_blocked(entry: HarEntry) -> bool:
    """True when the browser refused to send the request (``net::ERR_BLOCKED_BY_CLIENT``)."""
    return bool(entry.failed_reason) and _BLOCKED.search(entry.failed_reason) is not None


def drop_blocked(entry: HarEntry) -> str | None:
    """Requests the browser refused to send (blocked by an extension, a policy, CORS or ORB).

    A request that got no answer otherwise (status 0: aborted by a navigation, cut off
    while the server was slow) is kept: it shows the route and how the app calls it.
    """
    return Reason.BLOCKED if is_blocked(entry) else None


def drop_preflight(entry: HarEntry) -> str | None:
    """CORS preflights."""
    if entry.method == "OPTIONS" and (
        entry.resource_type == "preflight"
        or entry.header("access-control-request-method") is not None
    ):
        return Reason.PREFLIGHT
    return None


def drop_tracker(entry: HarEntry) -> str | None:
    """Known analytics / ads / error-reporting / CDN hosts."""
    return Reason.TRACKER if is_tracker_host(entry.host) else None


def drop_beacon(entry: HarEntry) -> str | None:
    """``navigator.sendBeacon`` and ping requests.

    A producer that does not say the resource type (Firefox) still shows a beacon: a POST
    left unanswered (status 0) at a reporting path (``/analytics/ping``, ``/log``): a page
    fires it and moves on, and nothing a user asks of the app is in it.
    """
    if entry.resource_type in BEACON_TYPES:
        return Reason.BEACON
    if (
        not entry.status
        and entry.method == "POST"  # sendBeacon posts; a cut-off GET of /jobs/7/log is a read
        and urlsplit(entry.url).path.rstrip("/").lower().endswith(BEACON_PATHS)
    ):
        return Reason.BEACON
    return None


def drop_static(entry: HarEntry) -> str | None:
    """Static assets by resource type, extension or MIME type."""
    if entry.resource_type in STATIC_TYPES:
        return Reason.STATIC
    if entry.method not in ("GET", "HEAD"):
        return None
    path = urlsplit(entry.url).path
    ext = posixpath.splitext(path)[1].lower()
    if ext in STATIC_EXT:
        return Reason.STATIC
    if ext and path.startswith("/static/"):  # a file the web server hands out (i18n JSON)
        return Reason.STATIC
    mime = _mime(entry)
    if mime.startswith(STATIC_MIME_PREFIX) or mime in STATIC_MIMES:
        return Reason.STATIC
    return None


# A last path segment that names a file: ``common.json``, ``app.3f9c.bundle.txt``.
_FILE_NAME = re.compile(r"^[^/]*[^/.]\.[A-Za-z0-9]{1,8}$")
_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*(\d+)")
# A shared-cache lifetime of a day or more: content that does not change between deploys.
LONG_CACHE_S = 86_400
# Path segments that by web convention hold files served as they are.
_FILE_DIRS = frozenset({"static", "assets", "public", "dist", "locales", "i18n", "media"})


def drop_served_file(entry: HarEntry) -> str | None:
    """Files a file server answered, whatever their type (``/static/locales/en/common.json``).

    A data file fetched by a script (translations, JSON config) is no API call,
    and its MIME type says nothing: the evidence is how it was served.  Its
    last segment names a file, and the answer is a file server's: it offers
    byte ranges (``Accept-Ranges: bytes``) with a validator (``ETag`` or
    ``Last-Modified``), or may be cached for a day or more (``immutable``, a
    long public ``max-age``), or carries a validator under a conventional file
    directory (``/static/``, ``/assets/``).  An API answering with a document
    whose name ends in ``.json`` (``/api/contents/x.json``: validators, but no
    byte ranges and no long cache) stays an operation.
    """
    if entry.method not in ("GET", "HEAD") or not 200 <= entry.status < 300:
        return None
    path = urlsplit(entry.url).path
    if not _FILE_NAME.match(posixpath.basename(path)):
        return None
    dirs = {seg.lower() for seg in path.split("/")[:-1]}
    if "api" in dirs:  # a document an API hands out (/api/contents/public/x.json), not a file
        return None
    validator = (
        entry.header("etag", response=True) is not None
        or entry.header("last-modified", response=True) is not None
    )
    ranges = (entry.header("accept-ranges", response=True) or "").strip().lower() == "bytes"
    if ranges and validator:
        return Reason.SERVED_FILE
    cache = (entry.header("cache-control", response=True) or "").lower()
    age = _MAX_AGE.search(cache)
    shared = "private" not in cache and "no-cache" not in cache and "no-store" not in cache
    if "immutable" in cache or (shared and age is not None and int(age.group(1)) >= LONG_CACHE_S):
        return Reason.SERVED_FILE
    if validator and dirs & _FILE_DIRS:
        return Reason.SERVED_FILE
    return None


_PASSWORD_FIELD = ("password", "passwd", "passphrase", "pwd", "pass")


def looks_like_login(entry: HarEntry) -> bool:
    """A submission that logs in: it sends a password field or its answer sets a session cookie.

    Form logins answer with a redirect (``POST /login`` → 303 ``/home``) and are
    recorded as page navigations; they are the login tool, not noise.
    """
    if entry.method != "POST":
        return False
    if any(session_cookie(n) for n in set_cookie_names(entry)):
        return True
    names = [p.name for p in entry.request_params]
    if not names:
        raw = entry.request_body() or b""
        names = [kv.split("=", 1)[0] for kv in raw[:4000].decode("utf-8", "replace").split("&")]
    return any(n.lower().strip() in _PASSWORD_FIELD for n in names)


def drop_document(entry: HarEntry) -> str | None:
    """Top-level page loads (HTML documents fetched by navigation); a login submission stays."""
    if entry.resource_type in ("document", "iframe", "subdocument"):
        return None if looks_like_login(entry) else Reason.DOCUMENT
    if entry.method == "GET" and not entry.resource_type and _mime(entry) == "text/html":
        dest = (entry.header("sec-fetch-dest") or "").lower()
        mode = (entry.header("sec-fetch-mode") or "").lower()
        if dest in ("document", "iframe") or mode == "navigate":
            return Reason.DOCUMENT
    return None


def drop_script_html(entry: HarEntry) -> str | None:
    """Whole HTML pages a script fetched (``fetch('/settings')`` → ``<!doctype html>``).

    They are pages the app renders, not its data: a tool that returns a page is
    no API.  HTML *fragments* (htmx-style partials) stay, they are the data.
    """
    if entry.method != "GET" or _mime(entry) != "text/html":
        return None
    scripted = entry.resource_type in ("fetch", "xhr") or (
        (entry.header("sec-fetch-dest") or "").lower() == "empty"
    )
    if not scripted:
        return None
    head = (entry.response_body() or b"")[:512].decode("utf-8", "replace").lstrip().lower()
    return Reason.SCRIPT_HTML if head.startswith(("<!doctype html", "<html")) else None


def drop_empty_segment(entry: HarEntry) -> str | None:
    """A 4xx answer (or none) to a path with an empty segment (``/runs//tasks``): the client
    left an id out, so the path says nothing about a route (kept, its segments would shift
    one place)."""
    path = urlsplit(entry.url).path
    if (entry.status == 0 or 400 <= entry.status < 500) and "//" in path.strip("/"):
        return Reason.EMPTY_SEGMENT
    return None


def drop_redirect(entry: HarEntry) -> str | None:
    """Redirect hops: the final request carries the operation."""
    if 300 <= entry.status < 400 and entry.status != 304 and entry.redirect_url:
        return Reason.REDIRECT if entry.method == "GET" else None
    return None


DEFAULT_FILTERS: tuple[Filter, ...] = (
    drop_websocket,
    drop_non_http,
    drop_blocked,
    drop_preflight,
    drop_tracker,
    drop_beacon,
    drop_static,
    drop_served_file,
    drop_document,
    drop_script_html,
    drop_redirect,
    drop_empty_segment,
)


def drop_reason(entry: HarEntry, filters: Iterable[Filter] = DEFAULT_FILTERS) -> str | None:
    """The first filter's reason to drop ``entry``, or ``None`` to keep it."""
    for f in filters:
        reason = f(entry)
        if reason is not None:
            return reason
    return None


def site_key(host: str) -> str:
    """A coarse registrable-domain key: ``api.example.com:8443`` → ``example.com``.

    IP addresses and single-label hosts are their own key; ports are ignored,
    so ``127.0.0.1:3000`` and ``127.0.0.1:8000`` are one site.
    """
    h = host.split(":", 1)[0].lower().strip("[]")
    if not h or h.replace(".", "").isdigit() or ":" in h or "." not in h:
        return h
    labels = h.split(".")
    if (
        len(labels) >= 3
        and len(labels[-1]) == 2
        and labels[-2] in ("co", "com", "org", "net", "gov", "ac", "edu")
    ):
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def first_party_hosts(
    api_hosts: Mapping[str, int],
    page_hosts: Mapping[str, int],
) -> set[str]:
    """Decide which hosts are first-party.

    Args:
        api_hosts: hosts of API-like kept entries, with their counts.
        page_hosts: hosts the app's pages were served from (documents,
            ``Origin`` and ``Referer`` of API calls), with counts.

    Returns:
        The hosts whose site key matches a page host's; when there were no
        pages (a proxy or API-client capture), every API host.
    """
    if not page_hosts:
        return set(api_hosts)
    sites = {site_key(h) for h in page_hosts}
    return {h for h in api_hosts if site_key(h) in sites}
