"""An emoncms installation read over its feed API, with a read key.

Facts this client is written for (emoncms' ``feed`` module, its issues and other clients'
fixtures): the key goes as the ``apikey`` query parameter, which every version reads; a wrong
one is answered 401 with the text ``Invalid API key``, a missing one (or a session the server
wants instead) with ``false`` or its login page. ``feed/list.json`` gives numbers as strings
in the usual (Redis) mode; ``feed/getmeta.json`` a feed's ``interval`` and ``start_time``
(``npoints`` and ``end_time`` on newer servers; ``interval`` 1 for a variable-interval feed,
``false`` without data). ``feed/data.json`` answers ``[[t_ms, value|null], …]`` on a grid of
``interval`` seconds from ``start``: with ``average=1`` each point is the mean of the feed's
samples in its interval, else the feed's value at its time; at most 8,928 points (3,000 on
older servers) per call, and its refusals are JSON ``{"success": false, "message": …}`` with
status 200. Times go in milliseconds, which every version reads.

The key is never logged, stored or shown: log lines name the server's scheme and host only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
import json
import logging
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from ioe_aggregator.emoncms.feeds import ENGINES, Feed, moment, number
from ioe_aggregator.refusals import Kind, Refused

_LOGGER = logging.getLogger(__name__)
# Points per data.json call: 30 days of quarters, within the oldest servers' 3,000 points.
POINTS_PER_CALL: Final = 2880
TIMEOUT: Final = aiohttp.ClientTimeout(total=120, sock_connect=15)
# The largest answer read: a month of quarter hours is about 60 kB, a feed list of thousands
# a few MB.
MAX_ANSWER_BYTES: Final = 64 * 1024 * 1024
# How much of a refusal emoncms wrote is repeated (it may echo the request).
_SHOWN: Final = 200


class EmoncmsRefused(Refused):
    """emoncms refused or could not be asked: ``code`` says which (``emoncms_…``)."""

    def __init__(self, code: str, message: str) -> None:
        """Keep the code (``emoncms_…``) of what the server did."""
        super().__init__(Kind.UPSTREAM, message, code=code)


def checked_url(text: Any) -> str:
    """Return an emoncms address as given (ending in ``/``), else raise Refused (bad_source)."""
    if not isinstance(text, str) or not text.strip():
        raise Refused(Kind.INVALID, "url: the emoncms server's address", code="bad_source")
    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 - a port that is no number raises here
    except ValueError:
        raise Refused(Kind.INVALID, "url: an http(s) address", code="bad_source") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(Kind.INVALID, "url: an http(s) address", code="bad_source")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise Refused(
            Kind.INVALID,
            "url: the server's address alone, without a user, password or query",
            code="bad_source",
        )
    return parts.geturl().rstrip("/") + "/"


class EmoncmsServer:
    """One emoncms installation's feed API (see the module)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, apikey: str) -> None:
        """Read ``url`` (checked by ``checked_url``) with ``apikey``."""
        self._session = session
        self.url = url
        self._key = apikey
        parts = urlsplit(url)
        self._where = f"{parts.scheme}://{parts.netloc}"

    def described(self) -> dict[str, Any]:
        """Return the source as the API and the audit log name it (never the key)."""
        return {"kind": "api", "url": self.url}

    async def _get(
        self, route: str, params: Mapping[str, str | int], *, false_refuses: bool = True
    ) -> Any:
        """Return a route's JSON answer; raise EmoncmsRefused with the reason.

        ``false`` is emoncms' answer to a key it does not know, except from ``getmeta`` (a
        feed without data): ``false_refuses`` says which.
        """
        try:
            async with self._session.get(
                self.url + route, params={**params, "apikey": self._key}, timeout=TIMEOUT
            ) as answer:
                body = await answer.content.read(MAX_ANSWER_BYTES + 1)
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as err:
            _LOGGER.warning("emoncms at %s: %s: %s", self._where, route, type(err).__name__)
            raise EmoncmsRefused(
                "emoncms_unreachable",
                f"the emoncms server at {self._where} does not answer ({type(err).__name__})",
            ) from None
        if status in (401, 403):
            _LOGGER.warning("emoncms at %s: %s: the key was refused", self._where, route)
            raise EmoncmsRefused("emoncms_key_refused", "emoncms refused the API key")
        if len(body) > MAX_ANSWER_BYTES:
            raise EmoncmsRefused("emoncms_answer", f"emoncms answered {route} with too much")
        if status != 200:
            _LOGGER.warning("emoncms at %s: %s: answered %d", self._where, route, status)
            raise EmoncmsRefused("emoncms_answer", f"emoncms answered {route} with status {status}")
        if body.lstrip()[:1] == b"<":
            # Its login page: the server wants a session, not a key it knows.
            _LOGGER.warning("emoncms at %s: %s: a page instead of data", self._where, route)
            raise EmoncmsRefused("emoncms_key_refused", "emoncms asked for a login instead")
        try:
            found = json.loads(body)
        except ValueError:
            _LOGGER.warning("emoncms at %s: %s: not JSON", self._where, route)
            raise EmoncmsRefused(
                "emoncms_answer", f"emoncms answered {route} without its data"
            ) from None
        if found is False and false_refuses:
            raise EmoncmsRefused("emoncms_key_refused", "emoncms refused the API key")
        if isinstance(found, dict) and found.get("success") is False:
            said = str(found.get("message", ""))[:_SHOWN].replace(self._key, "***")
            _LOGGER.warning("emoncms at %s: %s: %s", self._where, route, said)
            raise EmoncmsRefused("emoncms_answer", f"emoncms answered {route}: {said}")
        return found

    async def feeds(self) -> list[Feed]:
        """Return the key's feeds, with each one's span where its engine tells it."""
        listed = await self._get("feed/list.json", {})
        if not isinstance(listed, list):
            raise EmoncmsRefused("emoncms_answer", "emoncms' feed list is not a list")
        feeds = []
        for entry in listed:
            if not isinstance(entry, dict) or "id" not in entry:
                continue
            feed_id = str(entry["id"]).strip()
            engine_number = number(entry.get("engine"))
            engine = (
                ENGINES.get(int(engine_number), "other") if engine_number is not None else "other"
            )
            meta = (
                {}
                if engine == "virtual"
                else await self._get("feed/getmeta.json", {"id": feed_id}, false_refuses=False)
            )
            feeds.append(_feed(feed_id, entry, engine, meta if isinstance(meta, dict) else {}))
        return sorted(feeds, key=lambda feed: (int(feed.id) if feed.id.isdigit() else 0, feed.id))

    async def figures(
        self, feed: Feed, start: datetime, end: datetime, *, step: timedelta, average: bool
    ) -> list[float | None]:
        """Return the feed's figure for each ``step`` from ``start`` (UTC) to ``end``.

        ``average``: each step's mean (a power), else the feed's value as it begins (a
        counter's reading). emoncms includes ``end`` in its grid: the point past the last
        step is left out.
        """
        values: list[float | None] = []
        begins = start
        while begins < end:
            stop = min(end, begins + POINTS_PER_CALL * step)
            wanted = int((stop - begins) / step)
            answer = await self._get(
                "feed/data.json",
                {
                    "id": feed.id,
                    "start": int(begins.timestamp() * 1000),
                    "end": int(stop.timestamp() * 1000),
                    "interval": int(step.total_seconds()),
                    "average": int(average),
                    "skipmissing": 0,
                    "limitinterval": 0,
                    "timeformat": "unixms",
                },
            )
            values.extend(_on_grid(answer, begins, step, wanted))
            begins = stop
        return values


def _on_grid(answer: Any, start: datetime, step: timedelta, wanted: int) -> list[float | None]:
    """Return data.json's points placed on the steps from ``start`` (missing ones None)."""
    if not isinstance(answer, list):
        raise EmoncmsRefused("emoncms_answer", "emoncms' data is not a list of points")
    found: list[float | None] = [None] * wanted
    first_ms = int(start.timestamp() * 1000)
    step_ms = int(step.total_seconds() * 1000)
    for point in answer:
        if not isinstance(point, list) or len(point) != 2:
            raise EmoncmsRefused("emoncms_answer", "emoncms' data has a point that is no pair")
        at = number(point[0])
        if at is None:
            continue
        position, off = divmod(int(at) - first_ms, step_ms)
        if off == 0 and 0 <= position < wanted:
            found[position] = number(point[1])
    return found


def _feed(feed_id: str, entry: Mapping[str, Any], engine: str, meta: Mapping[str, Any]) -> Feed:
    interval = number(meta.get("interval"))
    first = moment(meta.get("start_time"))
    points = number(meta.get("npoints"))
    last = moment(meta.get("end_time"))
    if last is None and first is not None and interval and points and interval > 1:
        last = first + timedelta(seconds=interval * (points - 1))
    if last is None:
        last = moment(entry.get("time"))
    unit = entry.get("unit")
    return Feed(
        id=feed_id,
        name=str(entry.get("name", "")).strip() or f"feed {feed_id}",
        tag=str(entry.get("tag", "") or "").strip(),
        unit=unit.strip() if isinstance(unit, str) else "",
        engine=engine,
        # 1: a variable interval (PHPTimeSeries).
        interval_s=int(interval) if interval is not None and interval > 1 else None,
        first=first,
        last=last if first is None or last is None or last >= first else first,
        points=int(points) if points is not None else None,
        last_value=number(entry.get("value")),
    )
