r"""A fake emoncms for the tests: a real HTTP server that answers the feed API as emoncms does.

Its behaviour is described from what emoncms' public sources show (github.com/emoncms/emoncms,
its issues, other clients' fixtures); none of their code is copied. ``index.php`` (the key as
``?apikey=`` or ``Authorization: Bearer``; a wrong key is a 401 with the text ``Invalid API
key`` and a ``WWW-Authenticate`` header, with PHP's default ``text/html`` type as nothing sets
another; an unknown route a 406), ``feed_controller.php``
(``list`` is ``false`` without a key; ``data.json`` takes ``id`` or ``ids`` and says which feed
does not exist; a feed of another user gives ``[]``), ``feed_model.php`` (start and end in ms
when value/1e9 > 100, else seconds; ``Request end time before start time`` when end ≤ start;
the datapoint limit, round((end − start)/interval) > 8928, answered HTTP 200) and the engines
as docs/developer/timeseries/Fixed-interval.md and Variable-interval.md describe them:

- the grid runs from ``start`` while t ≤ ``end`` (the end is included);
- PHPFina: without averaging, the slot floor((t − start_time)/interval) when start_time ≤ t ≤
  end_time; with averaging, the mean of the non-NaN slots floor((t − start_time)/interval) up
  to floor((t + I − start_time)/interval) excluded; averaging is off when the requested
  interval I is the feed's interval or less;
- PHPTimeSeries: without averaging, the first point at or after t if it is before t + I;
  with averaging, the mean of the points in [t, t + I).

Quirks kept: list.json has every field a string (Redis mode), ``time`` an int and ``value`` a
float with 14 significant digits of the float32 (``17.690000534058``), feeds out of id order;
``strings`` mode sends time and value as strings (MySQL mode, old servers); ``old_meta`` drops
npoints and end_time from getmeta (and PHPTimeSeries' getmeta is ``null``); ``limit=3000``
speaks with the older engines' wording. JSON is PHP's ``json_encode``: ``\/`` and ``\uXXXX``.
The key is never kept: ``requests`` holds each path and query with its value as ``***``.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import math
import random
import re
import struct
import threading
import time
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

PHPFINA, PHPTIMESERIES, VIRTUAL = 5, 2, 7
APIKEY = "5d8c0f0e6a3b4c2d9e1f7a6b3c8d2e4f"
NEWEST_LIMIT = 8928

LOGIN_PAGE = (
    "<!doctype html><html><head><title>Emoncms - user login</title></head><body>"
    '<form id="login-form"><input id="username"><input id="password" type="password">'
    '<button id="login">Login</button></form></body></html>'
)


def f32(value: float) -> float:
    """Return ``value`` as emoncms stores it: a float32, widened back to a double."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


@dataclass
class FakeFeed:
    """One feed: its list.json fields and its stored data (float32, as emoncms keeps them).

    ``unit`` None leaves the key out (servers before about v10). ``values`` are the PHPFina
    slots (NaN missing), ``points`` the PHPTimeSeries ``(time_s, value)`` records, ascending.
    A PHPFina feed with ``start_time`` > 0 and no values has a meta but no data (getmeta false).
    """

    id: int
    name: str
    tag: str = ""
    unit: str | None = ""
    engine: int = PHPFINA
    interval: int = 10
    start_time: int = 0
    values: list[float] = field(default_factory=list)
    points: list[tuple[int, float]] = field(default_factory=list)
    userid: int = 1
    public: str = "0"

    def __post_init__(self) -> None:
        """Round the data to float32, as the engines write it."""
        self.values = [f32(v) for v in self.values]
        self.points = [(int(t), f32(v)) for t, v in self.points]

    @property
    def npoints(self) -> int:
        """Return how many slots or records the feed's file holds."""
        if self.engine == PHPFINA:
            return len(self.values)
        return len(self.points) if self.engine == PHPTIMESERIES else 0

    @property
    def end_time(self) -> int:
        """Return the time of the last PHPFina slot (0 when there is none)."""
        return max(0, self.start_time + self.interval * (len(self.values) - 1))

    def last(self) -> tuple[int | None, float | None]:
        """Return the feed's last time and value, as list.json gives them."""
        if self.engine == PHPFINA and self.values:
            value = self.values[-1]
            return self.end_time, None if math.isnan(value) else value
        if self.engine == PHPTIMESERIES and self.points:
            t, value = self.points[-1]
            return t, None if math.isnan(value) else value
        return None, None

    def size(self) -> int:
        """Return the bytes emoncms counts for the feed (meta and data files)."""
        if self.engine == PHPFINA:
            return 16 + 4 * len(self.values)
        return 9 * len(self.points) if self.engine == PHPTIMESERIES else 0

    def meta(self, *, old: bool = False) -> dict[str, int] | bool | None:
        """Return getmeta.json's answer for the feed (see the module)."""
        if self.engine == PHPFINA:
            return self._fina_meta(old=old)
        if self.engine == PHPTIMESERIES:
            if old:
                return None
            if not self.points:
                return False
            first, count = self.points[0][0], len(self.points)
            return {"id": self.id, "start_time": first, "npoints": count, "interval": 1}
        return False

    def _fina_meta(self, *, old: bool) -> dict[str, int] | bool:
        if self.start_time > 0 and not self.values:
            return False
        if old:
            return {"interval": self.interval, "start_time": self.start_time}
        return {
            "id": self.id,
            "interval": self.interval,
            "start_time": self.start_time,
            "npoints": len(self.values),
            "end_time": self.end_time,
        }

    def series(self, start: int, end: int, interval: int, *, average: bool) -> list[Any] | bool:
        """Return ``[[t_s, value|None], …]`` for t = start, start + interval, … ≤ end."""
        times = range(start, end + 1, interval)
        if self.engine == PHPFINA:
            if self.start_time > 0 and not self.values:
                return False
            return [[t, self._fina(t, interval, average=average)] for t in times]
        if self.engine == PHPTIMESERIES:
            stamps = [t for t, _ in self.points]
            return [[t, self._timeseries(stamps, t, interval, average=average)] for t in times]
        return [[t, None] for t in times]

    def _fina(self, t: int, interval: int, *, average: bool) -> float | None:
        n, first = len(self.values), (t - self.start_time) // self.interval
        if average and interval > self.interval:
            last = (t + interval - self.start_time) // self.interval
            block = self.values[min(max(first, 0), n) : min(max(last, 0), n)]
            present = [v for v in block if not math.isnan(v)]
            return sum(present) / len(present) if present else None
        if n == 0 or not self.start_time <= t <= self.end_time:
            return None
        value = self.values[first]
        return None if math.isnan(value) else value

    def _timeseries(
        self, stamps: list[int], t: int, interval: int, *, average: bool
    ) -> float | None:
        low, high = bisect_left(stamps, t), bisect_left(stamps, t + interval)
        inside = [v for _, v in self.points[low:high]]
        if average:
            present = [v for v in inside if not math.isnan(v)]
            return sum(present) / len(present) if present else None
        return None if not inside or math.isnan(inside[0]) else inside[0]


def php_round(value: float) -> int:
    """Round half away from zero, as PHP's round()."""
    return math.floor(abs(value) + 0.5) * (1 if value >= 0 else -1)


def php_int(text: str) -> int:
    """Return ``(int) $text``: its leading integer, 0 when there is none."""
    found = re.match(r"\s*([+-]?\d+)", text)
    return int(found.group(1)) if found else 0


def php_json(value: Any) -> bytes:
    r"""Return ``value`` as PHP's json_encode writes it (``\/`` and ``\uXXXX`` escapes)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("/", "\\/").encode()


def fourteen_digits(value: float) -> float:
    """Return a double as Redis gives it back: PHP's string of it, 14 significant digits."""
    return float(f"{value:.14g}")


class FakeError(Exception):
    """A request the fake does not reproduce (answered 400 so the test sees it)."""


class FakeEmoncms:
    """The server, on the loopback, while used as a context manager (or ``start`` to ``stop``)."""

    def __init__(
        self,
        feeds: list[FakeFeed],
        apikey: str = APIKEY,
        *,
        strings: bool = False,
        old_meta: bool = False,
        limit: int = NEWEST_LIMIT,
        shuffle: bool = True,
        base_path: str = "/",
    ) -> None:
        """Serve ``feeds`` (those of ``userid`` 1 are the key's) once started.

        ``strings``: list.json's time and value as strings; ``old_meta``: getmeta without
        npoints and end_time; ``limit``: the datapoint limit (3000: the older wording);
        ``shuffle``: list.json not in id order; ``base_path``: where emoncms is ("emoncms").
        ``delay`` (seconds before each answer) can be set at any time, for timeouts.
        """
        self.feeds = {feed.id: feed for feed in feeds}
        self.apikey = apikey
        self.strings = strings
        self.old_meta = old_meta
        self.limit = limit
        self.shuffle = shuffle
        self.base_path = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
        self.delay = 0.0
        self.requests: list[str] = []
        self.url = ""
        self._faults: list[tuple[str | None, int | str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> Self:
        """Start answering."""
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop answering."""
        self.stop()

    def fail_next(self, fault: int | str, times: int = 1, *, route: str | None = None) -> None:
        """Answer the next ``times`` requests (to ``route`` alone, if given) with ``fault``.

        A status (500, 502, 503, …) with an HTML error page; ``"close"``: the connection is
        closed unanswered; ``"html"``: emoncms' login page with 200 (a proxy or a session
        redirect); ``"garbage"``: a cut JSON with 200. ``route``: ``"feed/data.json"`` ….
        """
        with self._lock:
            self._faults.extend([(route, fault)] * times)

    def start(self) -> None:
        """Start answering on a free port; ``url`` is the base URL, ending with ``/``."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._answer(self)

            def do_POST(self) -> None:
                fake._answer(self)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{self.base_path}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop answering: connections are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # The answers

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        query = re.sub(r"(^|&)apikey=[^&]*", r"\1apikey=***", split.query)
        self.requests.append(split.path + (f"?{query}" if query else ""))
        if self.delay:
            time.sleep(self.delay)
        route = split.path.removeprefix(self.base_path)
        fault = None
        with self._lock:
            for n, (only, kind) in enumerate(self._faults):
                if only is None or only == route:
                    fault = kind
                    del self._faults[n]
                    break
        if fault is not None:
            self._fault(handler, fault)
            return
        params = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        key = params.get("apikey")
        if key is None and "Authorization" in handler.headers:
            key = handler.headers["Authorization"].replace("Bearer ", "")
        if key and key != self.apikey:
            self._send(
                handler,
                401,
                b"Invalid API key",
                "text/html; charset=UTF-8",
                {
                    "WWW-Authenticate": 'Bearer realm="API KEY", error="invalid_apikey", '
                    'error_description="Invalid API key"'
                },
            )
            return
        try:
            status, body = self._route(route, params, read=bool(key))
        except FakeError as error:
            self._send(handler, 400, str(error).encode(), "text/plain")
            return
        self._send(handler, status, php_json(body), "application/json")

    def _route(self, route: str, params: dict[str, str], *, read: bool) -> tuple[int, Any]:
        not_found = {"success": False, "message": "406 Not Acceptable. Route not found"}
        if route == "feed/list.json":
            return 200, self._list() if read else False
        if route in {"feed/data.json", "feed/average.json"}:
            return 200, self._data(params, read=read, average=route == "feed/average.json")
        if route == "feed/getmeta.json":
            feed = self.feeds.get(php_int(params.get("id", "")))
            if feed is None:
                return 200, {"success": False, "message": "Feed does not exist"}
            if not self._visible(feed, read=read):
                return 406, not_found
            return 200, feed.meta(old=self.old_meta)
        return 406, not_found

    def _visible(self, feed: FakeFeed, *, read: bool) -> bool:
        return feed.public not in {"", "0"} or (read and feed.userid == 1)

    def _list(self) -> list[dict[str, Any]]:
        feeds = [feed for feed in self.feeds.values() if feed.userid == 1]
        if self.shuffle and len(feeds) > 1:
            order = sorted(feeds, key=lambda f: f.id)
            random.Random(27).shuffle(feeds)  # noqa: S311 - a fixed order, not a secret
            if feeds == order:
                feeds.reverse()
        return [self._listed(feed) for feed in feeds]

    def _listed(self, feed: FakeFeed) -> dict[str, Any]:
        t, value = feed.last()
        row: dict[str, Any] = {
            "id": str(feed.id),
            "userid": str(feed.userid),
            "name": feed.name,
            "tag": feed.tag,
            "public": feed.public,
            "size": str(feed.size()),
            "engine": str(feed.engine),
        }
        if feed.unit is not None:
            row["unit"] = feed.unit
        shown = None if value is None else fourteen_digits(value)
        if self.strings:
            row["processList"] = ""
            row["time"] = None if t is None else str(t)
            row["value"] = None if shown is None else f"{shown:.14g}"
        else:
            row["value"], row["time"] = shown, t
        return row

    def _data(self, params: dict[str, str], *, read: bool, average: bool) -> Any:
        if "id" in params:
            ids, singular = params["id"].split(","), True
        elif "ids" in params:
            ids, singular = params["ids"].split(","), False
        else:
            return {"success": False, "message": "no ids given"}
        missing = [php_int(i) for i in ids if php_int(i) not in self.feeds]
        if len(missing) == 1:
            return {
                "success": False,
                "message": f"feed {missing[0]} does not exist",
                "feeds": missing,
            }
        if missing:
            return {
                "success": False,
                "message": f"{len(missing)} feeds do not exist",
                "feeds": missing,
            }
        averages = params["average"].split(",") if "average" in params else []
        results: dict[int, dict[str, Any]] = {}
        for index, given in enumerate(ids):
            feed = self.feeds[php_int(given)]
            if not self._visible(feed, read=read):
                continue
            # The controller keeps the last truthy average for the feeds after it.
            if index < len(averages) and averages[index] not in {"", "0"}:
                average = True
            results[index] = {"feedid": given, "data": self._one(feed, params, average=average)}
        if singular and len(results) == 1:
            return next(iter(results.values()))["data"]
        if list(results) == list(range(len(results))):
            return list(results.values())
        return {str(index): result for index, result in results.items()}

    def _one(self, feed: FakeFeed, params: dict[str, str], *, average: bool) -> Any:
        newest = self.limit == NEWEST_LIMIT
        start, end = self._time(params.get("start", "0")), self._time(params.get("end", "0"))
        if end <= start:
            message = "Request end time before start time"
            return {"success": False, "message": message if newest else message.lower()}
        given = params.get("mode", params.get("interval", "0"))
        if not re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*", given):
            raise FakeError(f"fake emoncms: interval {given!r} is not reproduced")
        interval = float(given)
        if interval < 1:
            interval = php_round((end - start) / 800)
        wanted = php_round((end - start) / interval) if interval else 0
        if wanted > self.limit:
            advice = "reduce time range" if newest else "time range"
            return {
                "success": False,
                "message": f"request datapoint limit reached ({self.limit}), increase request "
                f"interval or {advice}, requested datapoints = {wanted}",
            }
        timeformat = params.get("timeformat", "unixms")
        if timeformat not in {"unix", "unixms", "excel", "iso8601", "notime"}:
            return {"success": False, "message": "Invalid time format"}
        step = max(int(interval), 1)
        if php_int(params.get("limitinterval", "0")) and feed.engine == PHPFINA:
            step = round(max(step, feed.interval) / feed.interval) * feed.interval
        data = feed.series(int(start), int(end), step, average=average)
        if not isinstance(data, list):
            return data
        if php_int(params.get("skipmissing", "0")):
            data = [point for point in data if point[1] is not None]
        return self._format(data, timeformat, params.get("timezone", "UTC"))

    def _time(self, given: str) -> float:
        try:
            value = float(given)
        except ValueError:
            raise FakeError(f"fake emoncms: time {given!r} is not reproduced") from None
        return value * 0.001 if value / 1e9 > 100 else value

    def _format(self, data: list[Any], timeformat: str, timezone: str) -> list[Any]:
        if timeformat == "unixms":
            return [[t * 1000, v] for t, v in data]
        if timeformat == "notime":
            return [v for _, v in data]
        if timeformat == "iso8601":
            zone = ZoneInfo(timezone)
            return [[datetime.fromtimestamp(t, zone).isoformat(), v] for t, v in data]
        if timeformat == "excel":
            raise FakeError("fake emoncms: timeformat excel is not reproduced")
        return data

    def _fault(self, handler: BaseHTTPRequestHandler, fault: int | str) -> None:
        if fault == "close":
            handler.close_connection = True
            return
        if fault == "html":
            self._send(handler, 200, LOGIN_PAGE.encode(), "text/html; charset=UTF-8")
        elif fault == "garbage":
            self._send(handler, 200, b"[[1700000000000,41", "application/json")
        elif isinstance(fault, int):
            page = f"<html><body><h1>{fault}</h1></body></html>".encode()
            self._send(handler, fault, page, "text/html")
        else:
            raise ValueError(f"unknown fault {fault!r}")

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        try:
            handler.end_headers()
            handler.wfile.write(body)
        except ConnectionError:
            pass  # the client gave up waiting (a timeout test): nothing to tell


# Households


def _day_power(hour: float, step: int) -> tuple[float, float]:
    """Return a household's use and solar power (W) at ``hour`` of a UTC day."""
    morning = 900 * math.exp(-(((hour - 7.5) / 0.8) ** 2))
    evening = 1400 * math.exp(-(((hour - 20.0) / 1.5) ** 2))
    ripple = 60 * math.sin(step * 0.7) + 35 * math.sin(step * 0.13)
    use = 180 + morning + evening + ripple
    solar = 3200 * math.sin(math.pi * (hour - 7) / 12) if 7 < hour < 19 else 0.0
    return max(use, 60.0), max(solar + 0.02 * ripple * (solar > 0), 0.0)


def household(start_time: int, days: int, interval: int = 10) -> list[FakeFeed]:
    """Return an emonPi household's PHPFina feeds, as the emonpi-SPV1 device template makes.

    ``use``, ``solar`` and ``import`` (W, ids 1, 3, 4) and ``use_kwh``, ``solar_kwh`` (kWh,
    ids 5, 8: cumulative, float32, from 1234.5 and 87.25 kWh), ``days`` long from
    ``start_time`` (rounded down to the interval, as emoncms does) at ``interval`` seconds.
    Power has a morning and an evening peak and solar a noon bell (UTC hours). All five have
    the same NaN gap of 5 minutes (one slot at least) a third of the way through, the emonPi
    off; the counters go on across it as a meter's would. Same arguments, same feeds.
    """
    start_time -= start_time % interval
    slots = days * 86400 // interval
    gap = range(slots // 3, slots // 3 + max(1, 300 // interval))
    use_w, solar_w, import_w, use_kwh, solar_kwh = [], [], [], [], []
    use_total, solar_total = 1234.5, 87.25
    for step in range(slots):
        hour = ((start_time + step * interval) % 86400) / 3600
        use, solar = _day_power(hour, step)
        use_total += use * interval / 3.6e6
        solar_total += solar * interval / 3.6e6
        nan = step in gap
        use_w.append(math.nan if nan else use)
        solar_w.append(math.nan if nan else solar)
        import_w.append(math.nan if nan else max(use - solar, 0.0))
        use_kwh.append(math.nan if nan else use_total)
        solar_kwh.append(math.nan if nan else solar_total)

    def feed(feed_id: int, name: str, unit: str, values: list[float]) -> FakeFeed:
        return FakeFeed(
            feed_id,
            name,
            tag="emonpi",
            unit=unit,
            interval=interval,
            start_time=start_time,
            values=values,
        )

    return [
        feed(1, "use", "W", use_w),
        feed(3, "solar", "W", solar_w),
        feed(4, "import", "W", import_w),
        feed(5, "use_kwh", "kWh", use_kwh),
        feed(8, "solar_kwh", "kWh", solar_kwh),
    ]
