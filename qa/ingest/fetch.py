"""Fetching the web pages and feeds a user names: politely, within limits, one failure per item.

Only http and https URLs are fetched, and only those the user gave or that a feed they gave links to (plus each
host's robots.txt, read once per run and obeyed). Every download has a deadline (QA_FETCH_TIMEOUT), stops at a size
(QA_FETCH_MAX_MB), and counts against the run's budget of pages (QA_FETCH_MAX_PAGES). Redirects are followed by hand,
a few at most, so robots.txt and the scheme are checked on every hop and a loop ends. What goes wrong with one URL
is a FetchError naming it and what to do; the caller reports it and goes on with the next.
"""

from __future__ import annotations

import time
import urllib.robotparser
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urljoin, urlsplit

import httpx

from qa.settings import Settings

MAX_REDIRECTS = 5
PAGE_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml")
_ROBOTS_MAX_BYTES = 500_000  # Google reads the first 500 KiB of a robots.txt; more is not a set of rules


def user_agent() -> str:
    try:
        release = version("newsqa")
    except PackageNotFoundError:
        release = "dev"
    return f"newsqa/{release} (+local news QA assistant)"


class FetchError(Exception):
    """One URL could not be used: `reason` says what happened and what to do."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def url_problem(url: str) -> str | None:
    """Why `url` is not fetched (scheme, no host), or None when it may be."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if not parts.scheme:
        return "is not a URL; only http:// and https:// URLs are fetched (a file is ingested with `qa ingest PATH`)"
    if parts.scheme.lower() not in ("http", "https"):
        return f"only http:// and https:// URLs are fetched, not {parts.scheme or 'this'}:; save the page as a file"
    if not parts.hostname:
        return "has no host name; write it like https://example.com/article"
    return None


@dataclass(frozen=True)
class Fetched:
    url: str  # where the content came from, after redirects
    content_type: str  # lower case, without parameters
    body: bytes
    charset: str | None


class Fetcher:
    """One run's HTTP client: its page budget and each host's robots.txt are kept for the run."""

    def __init__(self, settings: Settings, *, client: httpx.Client | None = None) -> None:
        self.timeout = settings.fetch_timeout
        self.max_bytes = int(settings.fetch_max_mb * 1_000_000)
        self.pages_left = settings.fetch_max_pages
        self.max_pages = settings.fetch_max_pages
        self.fetched = 0
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,  # by hand, below: robots.txt and the scheme are checked on every hop
            headers={"User-Agent": user_agent()},
            trust_env=False,  # no proxy from the environment: what is contacted is only what the user named
        )
        self._robots: dict[str, urllib.robotparser.RobotFileParser | str] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get(self, url: str, accepted: tuple[str, ...]) -> Fetched:
        """The document at `url`, of one of the `accepted` content types; FetchError says why not."""
        if self.pages_left <= 0:
            raise FetchError(
                url,
                f"not fetched: this run already fetched {self.max_pages} pages (QA_FETCH_MAX_PAGES); the next run "
                "fetches it, or raise the limit",
            )
        seen = [url]
        current = url
        for hop in range(MAX_REDIRECTS + 1):
            problem = url_problem(current)
            if problem:
                raise FetchError(url, problem if current == url else f"redirects to {current}, which {problem}")
            self._check_robots(url, current)
            if hop == 0:  # a page robots.txt keeps us from, or a host that cannot be reached, costs no budget
                self.pages_left -= 1
                self.fetched += 1
            target = self._download(url, current, accepted)
            if isinstance(target, Fetched):
                return target
            current = urljoin(current, target)
            if current in seen:
                raise FetchError(url, f"redirect loop ({' → '.join([*seen, current])}); the link is broken")
            seen.append(current)
        raise FetchError(url, f"too many redirects (more than {MAX_REDIRECTS}); the link is broken or loops")

    def _download(self, url: str, current: str, accepted: tuple[str, ...]) -> Fetched | str:
        """The document, or the Location a redirect points to."""
        deadline = time.monotonic() + self.timeout
        try:
            with self._client.stream("GET", current) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(url, f"HTTP {response.status_code} redirect without a Location")
                    return str(location)
                if response.status_code >= 400:
                    raise FetchError(url, _status_reason(response.status_code))
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind not in accepted:
                    wanted = "an HTML page or a feed" if set(FEED_TYPES) & set(accepted) else "an HTML page"
                    raise FetchError(url, f"is {kind or 'of no stated type'}, not {wanted}; only those are fetched")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(url, self._too_large(int(declared)))
                body = bytearray()
                for block in response.iter_bytes():
                    body += block
                    if len(body) > self.max_bytes:
                        raise FetchError(url, self._too_large(None))
                    if time.monotonic() > deadline:
                        raise _timed_out(url, self.timeout)
                return Fetched(str(response.url), kind, bytes(body), response.charset_encoding)
        except httpx.TimeoutException:
            raise _timed_out(url, self.timeout) from None
        except httpx.HTTPError as exc:
            raise FetchError(url, f"could not be fetched ({type(exc).__name__}: {exc}); check the URL") from None

    def _too_large(self, size: int | None) -> str:
        limit = f"{self.max_bytes / 1e6:g} MB"
        stated = f"is {size / 1e6:.1f} MB" if size is not None else f"is more than {limit}"
        return f"{stated}, over the {limit} limit (QA_FETCH_MAX_MB); the download was stopped"

    def _check_robots(self, url: str, current: str) -> None:
        parts = urlsplit(current)
        origin = f"{parts.scheme}://{parts.netloc}"
        rules = self._robots.get(origin)
        if rules is None:
            rules = self._robots[origin] = self._read_robots(origin)
        if isinstance(rules, str):
            raise FetchError(url, rules)
        if not rules.can_fetch(user_agent(), current):
            raise FetchError(url, f"disallowed by {origin}/robots.txt for newsqa; it is not fetched")

    def _read_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | str:
        """The host's rules, or why none can be read (then nothing of that host is fetched this run)."""
        rules = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        try:
            with self._client.stream("GET", origin + "/robots.txt") as response:
                status = response.status_code
                if status in (401, 403):
                    rules.parse(["User-agent: *", "Disallow: /"])  # as urllib.robotparser reads them: robots shut out
                elif 400 <= status < 500 or response.is_redirect:
                    rules.parse([])  # no robots.txt: no rules
                elif status >= 500:
                    return f"{origin}/robots.txt answered HTTP {status}; nothing of that site is fetched, try later"
                else:
                    body = bytearray()
                    for block in response.iter_bytes():
                        body += block
                        if len(body) > _ROBOTS_MAX_BYTES:
                            break
                    rules.parse(bytes(body[:_ROBOTS_MAX_BYTES]).decode("utf-8", "replace").splitlines())
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # The first request to a host is for its robots.txt: a dead host shows here, and is said to be one.
            return f"{origin} cannot be reached ({type(exc).__name__}: {exc}); check the address, or try later"
        except httpx.HTTPError as exc:
            return f"{origin}/robots.txt could not be read ({type(exc).__name__}); nothing of that site is fetched"
        return rules


def _timed_out(url: str, seconds: float) -> FetchError:
    return FetchError(url, f"timed out after {seconds:g} s (QA_FETCH_TIMEOUT); the site is slow or down, try later")


def _status_reason(status: int) -> str:
    if status == 404 or status == 410:
        return f"HTTP {status}: the page does not exist (any more); check the link"
    if status in (401, 403):
        return f"HTTP {status}: the site refuses access to it; save the page from a browser and ingest the file"
    if status == 429:
        return "HTTP 429: the site asks to be fetched less often; try later, or watch it less often"
    if status >= 500:
        return f"HTTP {status}: the site has a problem; try later"
    return f"HTTP {status}; check the link"
