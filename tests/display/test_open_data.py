"""The public display's open data against a real aggregator: off, on, cached, limited, guarded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import time
from typing import Any
import urllib.error
import urllib.request

import pytest

from ioe_aggregator.config import ConfigError, load_config
from ioe_aggregator.public.figures import MAX_MEMBER_SHARE, SETTLE, today_hours
from tests.community import call
from tests.display.conftest import DisplayCentre
from tests.display.data import (
    REFRESH_S,
    ZONE,
    Day,
    quarters,
    readings,
    send_day,
    send_today,
    switch_on,
)
from tests.web.conftest import ControlCentre

pytestmark = pytest.mark.usefixtures("allow_local_sockets")
JSON = "/api/public/v1/community"
TEN = {f"m-{n:04d}": round(0.05 + 0.01 * n, 2) for n in range(1, 11)}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def _figures(period: dict[str, Any]) -> dict[str, float]:
    return {name: found["value"] for name, found in period["figures"].items() if "value" in found}


def _private_words(centre: ControlCentre) -> list[str]:
    """Return what names a member: ids, names and supply points, as the API lists them."""
    members = call(centre.base.rstrip("/"), "GET", "/api/v1/members", centre.token).json()
    return [word for m in members for word in (m["id"], m["name"], m["cups"])]


def test_off_until_the_manager_switches_it_on(display_centre: DisplayCentre) -> None:
    base, admin = display_centre.base.rstrip("/"), display_centre.token
    for path in ("/display", JSON, "/display/logo"):
        assert call(base, "GET", path).status == 404, path
    page = call(base, "GET", "/display")
    assert b"display.js" in page.body  # the page says so itself
    switch_on(base, admin)
    shown = call(base, "GET", "/display")
    assert shown.status == 200
    # Any site may frame the display (an embed); the control centre only its own origin.
    assert "frame-ancestors *" in shown.headers["Content-Security-Policy"]
    centre = call(base, "GET", "/").headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in centre
    assert call(base, "GET", JSON).status == 200
    audit = call(base, "GET", "/api/v1/audit", admin).json()["entries"]
    assert [e["detail"] for e in audit if e["action"] == "display_changed"] == [{"enabled": True}]
    # Only admins switch it, and nobody without a login.
    viewer = display_centre.community.token("viewer")
    assert call(base, "PUT", "/api/v1/display", viewer, {"enabled": False}).status == 403
    assert call(base, "PUT", "/api/v1/display", None, {"enabled": False}).status == 401
    answer = call(base, "PUT", "/api/v1/display", admin, {"enabled": "yes"})
    assert answer.status == 400
    assert "enabled" in answer.json()["message"]
    assert call(base, "PUT", "/api/v1/display", admin, {"enabled": False}).status == 200
    assert call(base, "GET", JSON).status == 404
    log = display_centre.service.log_tail(100)
    assert "Public display switched on by token:" in log
    assert "Public display switched off by token:" in log


def test_four_members_are_too_few(display_centre: DisplayCentre) -> None:
    base, admin = display_centre.base.rstrip("/"), display_centre.token
    send_day(base, display_centre.community, admin, dict(list(TEN.items())[:4]))
    switch_on(base, admin)
    data = call(base, "GET", JSON).json()
    assert data["shown"] is False
    assert data["reason"] == "too_few_members"
    assert data["privacy"]["min_members"] == 5
    assert data["members"] is data["day"] is data["year"] is data["production_now"] is None


def test_ten_members_figures_match_the_readings(display_centre: DisplayCentre) -> None:
    base, admin = display_centre.base.rstrip("/"), display_centre.token
    sent = send_day(base, display_centre.community, admin, TEN)
    switch_on(base, admin)
    answer = call(base, "GET", JSON)
    assert answer.status == 200
    data = answer.json()
    assert data["shown"] is True, data
    assert data["community"] == {"name": "Comunidad Los Molinos", "logo": None}
    assert data["members"] == {"value": 10, "unit": "members"}
    expected = sent.figures(list(TEN), 10)
    assert data["day"]["from"] == data["day"]["to"] == sent.day.isoformat()
    assert _figures(data["day"]) == expected
    assert _figures(data["year"]) == expected
    assert data["year"]["days_counted"] == 1
    assert data["emission_factor"]["source"].startswith("Red Eléctrica")
    assert data["emission_factor"]["year"] == 2024
    text = answer.body.decode()
    assert not [word for word in _private_words(display_centre) if word in text]
    # How many members a period counts is never given (its changes would single one out).
    assert "members_counted" not in text


def test_cached_with_an_etag_and_limited_per_address(display_centre: DisplayCentre) -> None:
    base, admin = display_centre.base.rstrip("/"), display_centre.token
    switch_on(base, admin)
    first = call(base, "GET", JSON)
    assert first.headers["Cache-Control"] == f"public, max-age={REFRESH_S}"
    tag = first.headers["ETag"]
    again = _get(base, JSON, {"If-None-Match": tag})
    assert again.status == 304
    assert again.headers["ETag"] == tag
    # Computed once per interval: the same figures (and time) until it passes.
    assert call(base, "GET", JSON).json()["generated_at"] == first.json()["generated_at"]
    # Then computed again in the background: the next answers have the new figures.
    time.sleep(REFRESH_S + 0.5)
    generated = set()
    for _ in range(10):
        generated.add(call(base, "GET", JSON).json()["generated_at"])
        if len(generated) > 1 or generated != {first.json()["generated_at"]}:
            break
        time.sleep(0.5)
    assert generated - {first.json()["generated_at"]}
    # A display polling every interval never meets the limit; a flood does.
    statuses = [call(base, "GET", JSON) for _ in range(70)]
    refused = [answer for answer in statuses if answer.status == 429]
    assert refused, [answer.status for answer in statuses]
    assert 1 <= int(refused[0].headers["Retry-After"]) <= 60
    assert refused[0].json()["error"] == "too_many_requests"
    # Said once in the log, not once per refused request.
    assert display_centre.service.log_tail(200).count("Asked the public display too often") == 1


def _get(base: str, path: str, headers: dict[str, str]) -> Any:
    """GET with headers; return the answer (an error's too), its status and headers."""
    request = urllib.request.Request(base + path, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return response
    except urllib.error.HTTPError as err:
        return err


def test_the_logo_is_an_image_and_only_one(display_centre: DisplayCentre) -> None:
    base, admin = display_centre.base.rstrip("/"), display_centre.token
    switch_on(base, admin)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for body, status, code in (
        (svg, 400, "logo_type"),
        (b"GIF89a" + bytes(20), 400, "logo_type"),
        (b"\x89PNG\r\n\x1a\n" + bytes(300 * 1024), 413, "logo_too_large"),
    ):
        answer = call(base, "PUT", "/api/v1/display/logo", admin, body)
        assert answer.status == status, answer.body
        assert answer.json()["error"] == code
    assert display_centre.service.log_tail(50).count("Refused a display logo from token:") == 3
    kept = call(base, "PUT", "/api/v1/display/logo", admin, PNG).json()
    assert kept["logo"]["type"] == "image/png"
    logo = call(base, "GET", JSON).json()["community"]["logo"]
    served = call(base, "GET", f"/{logo}")
    assert served.status == 200
    assert served.body == PNG
    assert served.headers["Content-Type"] == "image/png"
    assert "immutable" in served.headers["Cache-Control"]
    assert call(base, "DELETE", "/api/v1/display/logo", admin).json()["logo"] is None
    assert call(base, "GET", f"/{logo}").status == 404


def test_a_dominant_member_withholds_the_day(display_centre: DisplayCentre) -> None:
    base, admin = display_centre.base.rstrip("/"), display_centre.token
    # One home uses more than MAX_MEMBER_SHARE of the day's consumption.
    heavy = dict.fromkeys(TEN, 0.1) | {"m-0010": 1.1}
    assert MAX_MEMBER_SHARE < 1.1 / (0.9 + 1.1)
    send_day(base, display_centre.community, admin, heavy)
    switch_on(base, admin)
    data = call(base, "GET", JSON).json()
    assert data["shown"] is False
    assert data["reason"] == "dominant_member"


def test_a_member_who_joined_during_the_day_is_left_out_of_it(
    display_centre: DisplayCentre,
) -> None:
    base, admin = display_centre.base.rstrip("/"), display_centre.token
    sent = send_day(base, display_centre.community, admin, TEN, partial={"m-0011": 0.3})
    switch_on(base, admin)
    data = call(base, "GET", JSON).json()
    # The plant is shared among the eleven; the day's figures count the ten whole-day members.
    assert _figures(data["day"]) == sent.figures(list(TEN), 11)
    assert data["members"]["value"] == 11


def test_late_data_of_a_member_changes_no_day_given(display_centre: DisplayCentre) -> None:
    base, admin = display_centre.base.rstrip("/"), display_centre.token
    sent = send_day(base, display_centre.community, admin, TEN, partial={"m-0011": 0.3})
    switch_on(base, admin)
    given = call(base, "GET", JSON).json()
    assert _figures(given["day"]) == sent.figures(list(TEN), 11)
    # m-0011's morning arrives late (Datadis, a back-filled gap): its day is complete now.
    morning = {q: 0.3 for q in quarters(sent.day) if q.astimezone(ZONE).hour < 12}
    batch = readings("m-0011", "late", "grid", "import_kwh", morning)
    answer = call(base, "POST", "/api/v1/readings", sent.tokens["m-0011"], batch)
    assert answer.status == 200, answer.body
    # Computed again (yesterday is among the fresh days), over the set first given: counted,
    # the newcomer would change the day and the year by exactly its own figures.
    later = _after_refresh(base, given["generated_at"])
    assert _figures(later["day"]) == _figures(given["day"])
    assert _figures(later["year"]) == _figures(given["year"])
    whole = dict.fromkeys(quarters(sent.day), 0.3)
    counted = Day(sent.day, sent.consumption | {"m-0011": whole}, sent.plant)
    assert _figures(later["day"]) != counted.figures([*TEN, "m-0011"], 11)


def _after_refresh(base: str, generated_at: str) -> dict[str, Any]:
    """Return the open data once computed again after ``generated_at``."""
    deadline = time.monotonic() + 10 * REFRESH_S
    while time.monotonic() < deadline:
        time.sleep(REFRESH_S / 2)
        data = call(base, "GET", JSON).json()
        if data["generated_at"] != generated_at:
            return data
    raise AssertionError("the figures were not computed again")


def _today_end() -> datetime:
    """Return (UTC) the end of today's last hour that counts now: whole, settled, local."""
    now = datetime.now(UTC)
    settled = (now - SETTLE).replace(minute=0, second=0, microsecond=0)
    return max(settled, quarters(now.astimezone(ZONE).date())[0])


def _today(base: str, *, hours: int = 1) -> dict[str, Any]:
    """Return the open data once today has ``hours`` complete hours (else skip the test)."""
    before = _today_end()
    data = call(base, "GET", JSON).json()
    after = _today_end()
    end = datetime.fromisoformat(data["today"]["to"])
    assert end in (before, after), (data["today"], before, after)
    midnight = quarters(end.astimezone(ZONE).date())[0]
    if end < midnight + timedelta(hours=hours):
        pytest.skip(f"today has fewer than {hours} complete hours yet")
    assert datetime.fromisoformat(data["today"]["from"]) == midnight
    return data


@pytest.mark.parametrize(
    ("local", "hours"),
    [
        # The first hour of the day, under way or not settled yet: no hour counts.
        ("2026-12-06T00:00:00", 0),
        ("2026-12-06T00:20:00", 0),
        ("2026-12-06T01:14:59", 0),
        ("2026-12-06T01:15:00", 1),
        ("2026-12-06T14:20:00", 14),
        ("2026-12-06T23:59:59", 23),
        # The October day of 25 hours: 00, 01, 02 (summer), 02 (winter) by 03:15 winter time.
        ("2026-10-25T03:15:00+01:00", 4),
        # The March day of 23 hours: 00, 01, 03 by 04:15.
        ("2026-03-29T04:15:00+02:00", 3),
    ],
)
def test_today_is_its_settled_whole_hours(local: str, hours: int) -> None:
    moment = datetime.fromisoformat(local)
    now = moment if moment.tzinfo else moment.replace(tzinfo=ZONE)
    found = today_hours(now, ZONE)
    assert len(found) == hours, list(found)
    midnight = quarters(now.astimezone(ZONE).date())[0]
    assert list(found) == [midnight + timedelta(hours=n) for n in range(hours)]
    assert all(start + timedelta(hours=1) + SETTLE <= now for start in found)


def test_today_counts_its_complete_hours_only(display_centre: DisplayCentre) -> None:
    base, admin = display_centre.base.rstrip("/"), display_centre.token
    sent = send_day(base, display_centre.community, admin, TEN)
    today = send_today(base, display_centre.community, sent, TEN)
    switch_on(base, admin)
    data = _today(base)
    end = datetime.fromisoformat(data["today"]["to"])
    counted = today.before(end)
    assert data["today"]["shown"] is True, data["today"]
    assert data["today"]["reason"] is None
    assert "members_counted" not in data["today"]
    assert data["today"]["hours_counted"] == len(counted.plant) // 4
    assert _figures(data["today"]) == counted.figures(list(TEN), 10)
    # The quarters begun since (the hour under way among them) are in no figure.
    assert len(today.plant) > len(counted.plant)
    assert _figures(data["today"])["production"] < today.figures(list(TEN), 10)["production"]
    # The year is the whole days up to yesterday: today is not in it.
    assert data["year"]["to"] == sent.day.isoformat()
    assert _figures(data["year"]) == sent.figures(list(TEN), 10)
    assert data["privacy"]["resolution"].startswith("whole local day; today: whole hours")


def test_an_hour_with_a_dominant_member_withholds_today(display_centre: DisplayCentre) -> None:
    base, admin = display_centre.base.rstrip("/"), display_centre.token
    sent = send_day(base, display_centre.community, admin, TEN)
    today = send_today(base, display_centre.community, sent, TEN)
    # m-0010 uses more than MAX_MEMBER_SHARE of the first hour (its quarters begun): of it alone.
    first_hour = dict.fromkeys([q for q in quarters(today.day)[:4] if q in today.plant], 1.1)
    assert 1.1 / (sum(TEN.values()) - TEN["m-0010"] + 1.1) > MAX_MEMBER_SHARE
    batch = readings("m-0010", "heavy", "grid", "import_kwh", first_hour)
    answer = call(base, "POST", "/api/v1/readings", today.tokens["m-0010"], batch)
    assert answer.status == 200, answer.body
    switch_on(base, admin)
    data = _today(base)
    assert data["today"]["shown"] is False
    # Only "withheld": which rule an hour broke would say what one home did in it.
    assert data["today"]["reason"] == "withheld"
    assert data["today"]["figures"] is None
    assert data["today"]["hours_counted"] == 0
    # The days are not concerned: yesterday and the year stand.
    assert data["shown"] is True
    assert _figures(data["year"]) == sent.figures(list(TEN), 10)


def test_an_hour_with_too_few_members_withholds_today(display_centre: DisplayCentre) -> None:
    base, admin = display_centre.base.rstrip("/"), display_centre.token
    sent = send_day(base, display_centre.community, admin, TEN)
    # Four members all day; a fifth only from 01:00: the first hour has four.
    four = dict(list(TEN.items())[:4])
    send_today(base, display_centre.community, sent, four, joined={"m-0011": 0.1})
    switch_on(base, admin)
    data = _today(base, hours=2)
    assert data["today"]["shown"] is False
    assert data["today"]["reason"] == "withheld"
    assert data["today"]["figures"] is None


def test_a_member_who_joined_today_is_left_out_of_today(display_centre: DisplayCentre) -> None:
    base, admin = display_centre.base.rstrip("/"), display_centre.token
    sent = send_day(base, display_centre.community, admin, TEN)
    # The newcomer uses more than the ten together: counted, it would withhold today.
    today = send_today(base, display_centre.community, sent, TEN, joined={"m-0011": 1.1})
    switch_on(base, admin)
    data = _today(base, hours=2)
    end = datetime.fromisoformat(data["today"]["to"])
    assert data["today"]["shown"] is True, data["today"]
    # The agreement (made yesterday) shares the plant among the ten.
    assert _figures(data["today"]) == today.before(end).figures(list(TEN), 10)
    assert data["members"]["value"] == 11


def test_the_display_options_are_checked() -> None:
    config = load_config(None, {})
    assert config.display.refresh_s == 60
    assert config.display.emission_factor_kg_kwh is None
    stated = load_config(None, {"IOE_AGGREGATOR_DISPLAY_EMISSION_FACTOR": "0.2"})
    assert stated.display.emission_factor_kg_kwh == 0.2
    for name, value, reason in (
        ("DISPLAY_REFRESH_S", "1", "at least 2"),
        ("DISPLAY_REFRESH_S", "often", ""),
        ("DISPLAY_EMISSION_FACTOR", "-0.1", ""),
    ):
        with pytest.raises(ConfigError, match=f"IOE_AGGREGATOR_{name}: .*{reason}"):
            load_config(None, {f"IOE_AGGREGATOR_{name}": value})
