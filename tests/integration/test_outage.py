"""A home through hours of outage: its automations act on its own meter and the last forecast.

Everything real but the devices: Home Assistant's core (in the test's event loop, its HTTP
server listening on a loopback port), a home joined through the config flow to a community on
a real Mosquitto and a real aggregator, a simulated SDM630 on Modbus TCP, a shipped blueprint
installed as an import installs it, and a real Node-RED running nodered/car.json against this
Home Assistant. The broker and the aggregator stop for more than three hours of the home's
clock: the appliance's blueprint and the car's flow go on acting on the home's meter and the
last forecast, and once the link is back every quarter hour of the outage reaches the
community's store once, and the community's signals come back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from functools import partial
import json
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory, real_datetime
from homeassistant.auth.models import TOKEN_TYPE_LONG_LIVED_ACCESS_TOKEN
from homeassistant.components.websocket_api import http as websocket_http
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pandas as pd
import pytest
from pytest_homeassistant_custom_component.common import MockUser

from custom_components.ioe_community.const import DOMAIN
from ioe_aggregator.forecast import Site
from ioe_aggregator.forecast.clearsky import clear_sky_ghi_w_m2
from ioe_aggregator.protocol.codec import encode
from ioe_aggregator.protocol.messages import Forecast, as_json
from ioe_aggregator.results import forecasts
from ioe_dev.nodered import HomeAssistantServer, NodeRed

# The blueprints' tests' Home Assistant: in Madrid, its core integration set up, and the
# automation under test turned off at the end (its template trigger keeps a timer otherwise).
from tests.blueprints.conftest import home, use_blueprint  # noqa: F401 - fixtures
from tests.community import (
    PREFIX,
    Community,
    StartAggregator,
    start_service,
    state_message,
    stored_rows,
    wait_for_broker_status,
    wait_until,
)
from tests.conftest import AGGREGATOR_PASSWORD, AGGREGATOR_USER, StartModbusServer
from tests.http_server import listen_on_loopback
from tests.nodered.conftest import deploy_flow, node_red  # noqa: F401 - a fixture

from .conftest import CUPS
from .joined_home import (
    IMPORT_KW,
    Home,
    entity_id,
    joined_home,
    sensor,
    share,
    wait_after_broker_restart,
    wait_for_link,
)

MADRID = ZoneInfo("Europe/Madrid")
MEMBER = "m-0001"
# Yesterday at 11:10 in Madrid: the outage (from 11:30 to past 14:45) is daytime whatever the
# hour the test runs at (a start a few hours before now would be night at some hours), and
# the share's forecast is above zero. In the past, as the
# community needs: its certificates are made on the test's clock and checked by the broker on
# the real one, and the aggregator (on real time) refuses readings from its future. It keeps
# readings of any recent past (they may reach two years before the member joined).
START = datetime.combine(datetime.now(MADRID).date() - timedelta(days=1), time(11, 10), MADRID)
FIRST_QUARTER = START + timedelta(minutes=5)
OUTAGE_START = FIRST_QUARTER + timedelta(minutes=15)
OUTAGE_END = OUTAGE_START + timedelta(hours=3, minutes=15)
QUARTER = timedelta(minutes=15)
LONG_STEP = timedelta(seconds=30)  # three scan intervals: the quiet hours go faster
# The plant the synthetic history comes from, and the member's β of it.
SITE = Site(latitude=40.4, longitude=-3.7, altitude=650.0)
PLANT_KW = 10.0
BETA = 0.5
# What the home draws: little while the share is unused, and then more than the share.
LOW_IMPORT_KW = 0.2
APPLIANCE_W = 300.0
APPLIANCE_RUN_MINUTES = 30
# Node-RED's delays, in the flow's minutes: 1.2 s of Node-RED's (real) time.
NODE_RED_DELAY_MINUTES = 0.02
APPLIANCE = "input_boolean.lavavajillas"
LAST_RUN = "input_datetime.lavavajillas_ultimo_arranque"
CHARGER = "input_boolean.cargador_coche"

pytestmark = pytest.mark.usefixtures("allow_local_sockets")


@pytest.fixture
def disable_http_server() -> None:
    """Let Home Assistant's HTTP server listen: Node-RED connects to it."""


@pytest.fixture
def no_websocket_heartbeat() -> Iterator[None]:
    """Keep Home Assistant's websocket API from pinging its clients (Node-RED).

    Its heartbeat runs on the event loop's clock, which this test moves on with Home
    Assistant's, half a minute at a time in a few milliseconds: the pong it then awaits for
    27.5 s of that clock is given up on at the next step, before Node-RED (on real time) can
    answer, and the connection is cut. In a home, where the clock does not jump, it is not.
    """
    original = web.WebSocketResponse

    def without_heartbeat(*args: Any, heartbeat: float | None = None, **kwargs: Any) -> Any:
        return original(*args, **kwargs)

    with patch.object(websocket_http.web, "WebSocketResponse", without_heartbeat):
        yield


def last_forecast(now: datetime) -> Forecast:
    """Return the member's forecast as the aggregator makes it at ``now``.

    By the aggregator's own code (``forecasts.build``), from 14 clear days of a 10 kW plant
    at the site (a synthetic history) and a β of ``BETA`` over the coming hours.
    """
    past = forecasts.history_hours(now)
    history = pd.Series(clear_sky_ghi_w_m2(SITE, past) / 1000.0 * PLANT_KW * 0.8, index=past)
    beta = pd.DataFrame(BETA, index=forecasts.coming_hours(now), columns=[MEMBER])
    return forecasts.build(history, now, SITE, beta, [MEMBER]).members[MEMBER]


async def run_until(house: Home, until: datetime, step: timedelta) -> None:
    """Let the home run in ``step``s until Home Assistant's clock has reached ``until``.

    The last step is cut short to land on ``until``: what the home draws changes on the
    quarter hours.
    """
    while (left := until - dt_util.now()) > timedelta(0):
        await house.run(min(step, left), min(step, left))


async def run_until_state(
    house: Home, check: Callable[[], bool], limit: timedelta, what: str
) -> None:
    """Let the home run, a scan interval at a time, until ``check()`` holds (within ``limit``)."""
    deadline = dt_util.now() + limit
    while not check():
        assert dt_util.now() < deadline, f"{what}: not within {limit}"
        await house.run(timedelta(seconds=10))


async def node_red_listens(hass: HomeAssistant, before: int) -> None:
    """Wait (in real time) until Node-RED has subscribed to Home Assistant's state changes.

    Its server node logs that it is connected before it subscribes; a change it is not yet
    subscribed to reaches it only as a state when it loads them, and a node that waits for a
    state to last ("for") does not start timing such a state.
    """
    for _ in range(600):
        if hass.bus.async_listeners().get(EVENT_STATE_CHANGED, 0) > before:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("Node-RED did not subscribe to the state changes in a minute")


def is_on(hass: HomeAssistant, entity: str) -> bool:
    """Return whether an entity is on (read from any thread)."""
    state = hass.states.get(entity)
    return state is not None and state.state == "on"


async def long_lived_token(hass: HomeAssistant, user: MockUser) -> str:
    """Return a long-lived access token of an admin, as a user makes one for Node-RED.

    Its lifespan is Home Assistant's default for these (ten years): the token's expiry is
    checked on Home Assistant's clock, which this test keeps in the past.
    """
    refresh = await hass.auth.async_create_refresh_token(
        user,
        client_name="Node-RED",
        token_type=TOKEN_TYPE_LONG_LIVED_ACCESS_TOKEN,
        access_token_expiration=timedelta(days=3650),
    )
    return hass.auth.async_create_access_token(refresh)


@pytest.mark.freeze_time(START, tick=True)
async def test_automations_act_through_hours_of_outage_and_no_reading_is_lost(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    hass_admin_user: MockUser,
    freezer: FrozenDateTimeFactory,
    modbus_server: StartModbusServer,
    community: Community,
    start_aggregator: StartAggregator,
    node_red: NodeRed,  # noqa: F811 - the imported fixture
    no_websocket_heartbeat: None,
) -> None:
    base = listen_on_loopback(hass_storage)
    for domain, config in (
        # The HTTP server starts with the frontend (Home Assistant has started already).
        ("frontend", {}),
        ("input_boolean", {"input_boolean": {"lavavajillas": {}, "cargador_coche": {}}}),
        (
            "input_datetime",
            {
                "input_datetime": {
                    "lavavajillas_ultimo_arranque": {"has_date": True, "has_time": True}
                }
            },
        ),
    ):
        assert await async_setup_component(hass, domain, config)
    await hass.async_block_till_done()

    # The community and the home, joined with its join code, the aggregator on.
    code = community.add_member(MEMBER, cups=CUPS)
    aggregator, port = start_service(community, start_aggregator)
    house, entry = await joined_home(hass, freezer, modbus_server, code)
    link = entry.runtime_data.community
    events: list[Event] = []
    hass.bus.async_listen(f"{DOMAIN}_forecast", events.append)
    unused_share = share(hass, entry, "sensor", "unused_share").entity_id
    surplus = share(hass, entry, "binary_sensor", "surplus_for_me").entity_id

    # The household's automations: the dishwasher's blueprint, the car's flow in Node-RED.
    await use_blueprint(
        hass,
        "appliance_on_share",
        {
            "unused_share": unused_share,
            "appliance_power": APPLIANCE_W,
            "min_time": {"seconds": 0},
            "appliance": APPLIANCE,
            "run_time": APPLIANCE_RUN_MINUTES,
            "deadline": "23:00:00",
            "last_run": LAST_RUN,
            "tariff_period": entity_id(hass, "sensor", f"{entry.entry_id}_tariff_period"),
            "allowed_periods": ["P1", "P2", "P3"],
        },
        "es",
    )
    server = HomeAssistantServer(url=base, token=await long_lived_token(hass, hass_admin_user))
    # Its deadline (on Node-RED's clock: real time) far ahead, so only the surplus charges.
    deadline = (real_datetime.now().astimezone() + timedelta(hours=12)).strftime("%H:%M")
    listening = hass.bus.async_listeners().get(EVENT_STATE_CHANGED, 0)
    mark = await hass.async_add_executor_job(
        partial(
            deploy_flow,
            node_red,
            server,
            "car",
            SURPLUS=surplus,
            CHARGER=CHARGER,
            ON_DELAY_MINUTES=NODE_RED_DELAY_MINUTES,
            OFF_DELAY_MINUTES=NODE_RED_DELAY_MINUTES,
            DEADLINE=deadline,
            MUST_CHARGE_HOURS=1,
        )
    )
    await node_red_listens(hass, listening)

    # A quarter hour with the community up.
    await run_until(house, OUTAGE_START, timedelta(seconds=10))
    assert not is_on(hass, APPLIANCE)
    assert not is_on(hass, CHARGER)

    # The aggregator stops; its last forecast and state stay on the broker (retained). The
    # aggregator forecasts the real hours, hours after this home's clock: its last messages
    # are published here under its login, as it publishes them, made at the home's time, the
    # forecast by its own code.
    aggregator.stop()
    now = dt_util.utcnow()
    forecast = last_forecast(now)
    kwh = [hour.kwh for hour in forecast.hours]
    # The hour under way is sunny enough for the test to mean something.
    assert kwh[0] * 1000 >= LOW_IMPORT_KW * 1000 + APPLIANCE_W + 100, kwh[:6]
    last = community.connect(AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    # The state first: the community's last word on now holds until it grows old.
    state = json.dumps(state_message(now, 0.0)).encode()
    last.publish(f"{PREFIX}/community/state", state, retain=True)
    last.publish(
        f"{PREFIX}/m/{MEMBER}/forecast", encode(as_json(forecast), forecast.KIND), retain=True
    )
    await hass.async_add_executor_job(
        wait_until,
        lambda: (
            link.coordinator.data.forecast is not None
            and link.coordinator.data.forecast.computed_at == forecast.computed_at
            and link.coordinator.data.community_state is not None
            and link.coordinator.data.community_state.ts == now.replace(microsecond=0)
        ),
    )
    last.close()
    community.broker.service.stop()
    await wait_for_link(hass, entry, "disconnected")
    quarters: dict[datetime, float] = {}  # what the home drew in each quarter hour (kW)

    # The household uses little: the forecast's share covers the dishwasher and the car.
    house.import_kw = LOW_IMPORT_KW
    quarter = OUTAGE_START
    await run_until_state(house, lambda: is_on(hass, APPLIANCE), QUARTER, "dishwasher on")
    started = dt_util.now()
    unused = share(hass, entry, "sensor", "unused_share")
    assert unused.attributes["source"] == "forecast"
    assert float(unused.state) == pytest.approx(kwh[0] * 1000 - LOW_IMPORT_KW * 1000, abs=5)
    # "Surplus for me" too, at the same moment: the share's figures all turn to the forecast
    # when the community's state grows old.
    assert share(hass, entry, "binary_sensor", "surplus_for_me").state == "on"
    # Node-RED (on real time) turns the charger on after its delay; Home Assistant's clock
    # only ticks on meanwhile.
    await hass.async_add_executor_job(wait_until, lambda: is_on(hass, CHARGER))
    await run_until(house, quarter + QUARTER, timedelta(seconds=10))
    quarters[quarter] = house.import_kw

    # The household draws more than its share: no surplus for it, the car stops.
    house.import_kw = kwh[0] + 0.5
    quarter += QUARTER
    await run_until_state(
        house,
        lambda: share(hass, entry, "binary_sensor", "surplus_for_me").state == "off",
        QUARTER,
        "no surplus for me",
    )
    assert float(share(hass, entry, "sensor", "unused_share").state) == 0
    await hass.async_add_executor_job(wait_until, lambda: not is_on(hass, CHARGER))
    await run_until(house, quarter + QUARTER, timedelta(seconds=10))
    quarters[quarter] = house.import_kw

    # Quiet hours to the end of the outage: the dishwasher ends its cycle and runs no more.
    house.import_kw = IMPORT_KW
    while (quarter := quarter + QUARTER) < OUTAGE_END:
        await run_until(house, quarter + QUARTER, LONG_STEP)
        quarters[quarter] = house.import_kw
    dishwasher = hass.states.get(APPLIANCE)
    assert dishwasher is not None
    assert dishwasher.state == "off"
    ran = dishwasher.last_changed - started
    assert abs(ran - timedelta(minutes=APPLIANCE_RUN_MINUTES)) <= LONG_STEP, ran
    last_run = hass.states.get(LAST_RUN)
    assert last_run is not None
    noted = dt_util.parse_datetime(last_run.state)
    assert noted is not None
    assert started - timedelta(seconds=10) <= noted.replace(tzinfo=MADRID) <= started
    assert dt_util.now() - OUTAGE_START >= timedelta(hours=3)
    await house.run(timedelta(seconds=20))  # a reading past the last quarter's end
    assert node_red.errors_since(mark) == []

    # The link returns: the broker, then the aggregator.
    forecasts_before = len(events)
    community.broker.service.start(port=community.broker.port)
    aggregator.start(port=port)
    assert wait_for_broker_status(port, "connected")["broker"]["status"] == "connected"
    quarters = {FIRST_QUARTER: IMPORT_KW} | quarters  # the one before the outage

    def all_stored() -> bool:
        return len([r for r in stored_rows(community) if r[2] == "import_kwh"]) >= len(quarters)

    await wait_after_broker_restart(hass, all_stored)
    await hass.async_add_executor_job(wait_until, lambda: sensor(hass, entry, "backlog") == "0")
    imports = [r for r in stored_rows(community) if r[2] == "import_kwh"]
    # Every quarter hour once, in order, none replaced; each what the meter counted, give or
    # take a step's energy at the quarter's edges (the meter is read once a step: up to 30 s
    # of 0.6 kW, 0.005 kWh) and the seconds Home Assistant's clock ticked on while Node-RED
    # acted (not counted by the simulated meter).
    assert [r[3] for r in imports] == [int(q.timestamp()) for q in quarters]
    assert all(r[5] == 0 for r in imports)
    for row, kw in zip(imports, quarters.values(), strict=True):
        assert row[4] == pytest.approx(kw / 4, abs=0.01), (row, kw)

    # The community's signals come back: its own forecast (of the real hours) and its state.
    await wait_for_link(hass, entry, "connected")
    await hass.async_add_executor_job(wait_until, lambda: len(events) > forecasts_before)
    assert events[-1].data["member"] == MEMBER
    assert datetime.fromisoformat(events[-1].data["computed_at"]) > forecast.computed_at
    # The aggregator's state is stamped with the real time, hours after the home's clock: the
    # home judges it by when it came as well (``share.allocation_now``), and it is fresh.
    await hass.async_add_executor_job(
        wait_until,
        lambda: (
            link.coordinator.data.community_state is not None
            and link.coordinator.data.community_state.ts > dt_util.utcnow()
        ),
    )
    await house.run(timedelta(seconds=10))
    assert share(hass, entry, "sensor", "allocated_power").attributes["source"] == "community"

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_add_executor_job(node_red.deploy, [], server)
