"""``scripts/bench``: measure what docs/benchmarks.md records, on this machine, in one run.

Timings on a shared 2-core machine are noisy: each figure is the median of several runs, and
comparisons are made as ratios within one run. Memory is each measurement's own peak (a fresh
process per community size).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ioe_aggregator.sharing.model import Member

SIZES = (10, 50, 200)
REPEATS = 3
# Benchmarks in a module of their own, ``bench_NAME``: ``bench_NAME()`` and ``print_table``.
OWN_MODULES = (
    "control", "forecast", "ingest", "link", "replicas", "soak", "store", "upload", "web"
)  # fmt: skip


def _median_seconds(call: Any, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _rules_for(members: list[Any]) -> Any:
    """Return the rules an assembly might vote, and members with their own bounds.

    Every fifth member is guaranteed half an equal share, every seventh capped at two; the
    vulnerable members hold 5 % together; nobody below 0.3 times its investment's share.
    """
    from dataclasses import replace  # noqa: PLC0415

    from ioe_aggregator.sharing.rules import Rules  # noqa: PLC0415

    own = [
        replace(
            m,
            min_share=0.5 / len(members) if i % 5 == 0 else 0.0,
            max_share=2.0 / len(members) if i % 7 == 3 else 1.0,
        )
        for i, m in enumerate(members)
    ]
    return own, Rules(vulnerable_reserve=0.05, min_investment_factor=0.3)


def _constrained_gaps(instances: int = 30) -> float:
    """Return the largest gap between the exact optimum under random rules and HiGHS's.

    Random communities of 20 members and 500 hours (the LP's size kept small), the rules drawn
    as the tests draw them; instances whose rules cannot hold are skipped.
    """
    import numpy as np  # noqa: PLC0415

    from ioe_aggregator.sharing.optimize import (  # noqa: PLC0415
        Limits,
        optimal_static,
        optimal_static_lp,
        self_consumption_kwh,
    )

    rng = np.random.default_rng(26)
    worst = 0.0
    for _ in range(instances):
        members, hours = 20, 500
        consumption = rng.gamma(1.5, 1.0, (hours, members)) * (rng.random((hours, members)) > 0.2)
        generation = rng.gamma(2.0, 8.0, hours) * (rng.random(hours) > 0.4)
        group = rng.random(members) < 0.3
        limits = Limits(
            low=np.where(rng.random(members) < 0.3, rng.uniform(0, 0.04, members), 0.0),
            high=np.where(rng.random(members) < 0.3, rng.uniform(0.02, 0.2, members), 1.0),
            group=group,
            group_floor=float(rng.uniform(0, 0.3)) if group.any() else 0.0,
        )
        if limits.problems():
            continue
        beta = optimal_static(consumption, generation, limits)
        _, optimum = optimal_static_lp(consumption, generation, limits)
        worst = max(worst, abs(optimum - self_consumption_kwh(beta, consumption, generation)))
    return worst


def measure_sharing(members: int) -> dict[str, Any]:
    """Time one community size.

    optimized-static against HiGHS, the same under rules, optimized-hourly, every scheme with
    report.json on one year, and the whole report (report.json and report.html, under rules,
    with the agreement in force and five what-if scenarios) on two.
    """
    from ioe_aggregator.sharing.calendar import DEFAULT_TZ  # noqa: PLC0415
    from ioe_aggregator.sharing.compare import compare  # noqa: PLC0415 - measured imports
    from ioe_aggregator.sharing.economics import Prices  # noqa: PLC0415
    from ioe_aggregator.sharing.fairness import Objective  # noqa: PLC0415
    from ioe_aggregator.sharing.files import align_hours  # noqa: PLC0415
    from ioe_aggregator.sharing.hourly import optimized_hourly  # noqa: PLC0415
    from ioe_aggregator.sharing.optimize import (  # noqa: PLC0415
        optimal_static,
        optimal_static_lp,
        self_consumption_kwh,
    )
    from ioe_aggregator.sharing.report_html import documents  # noqa: PLC0415
    from ioe_aggregator.sharing.scenarios import Inputs, what_if  # noqa: PLC0415
    from ioe_dev.synthetic import make_community  # noqa: PLC0415

    community = make_community(members)
    consumption = community.consumption_kwh.to_numpy()
    generation = community.generation_kwh.to_numpy()
    result: dict[str, Any] = {"members": members, "hours": len(generation)}

    result["optimized_static_s"] = _median_seconds(lambda: optimal_static(consumption, generation))
    beta = optimal_static(consumption, generation)
    value = self_consumption_kwh(beta, consumption, generation)
    own, rules = _rules_for(community.members)
    limits = rules.limits(own, community.consumption_kwh)
    result["constrained_s"] = _median_seconds(
        lambda: optimal_static(consumption, generation, limits)
    )
    result["optimized_hourly_s"] = _median_seconds(
        lambda: optimized_hourly(
            community.consumption_kwh,
            community.generation_kwh,
            community.consumption_kwh.index,
            own,
            rules=rules,
        ),
        repeats=1,
    )
    prices = Prices.flat(community.consumption_kwh.index, 0.15, 0.05)

    def all_schemes() -> None:
        report = compare(
            community.members, community.consumption_kwh, community.generation_kwh, prices=prices
        ).to_report()
        json.dumps(report)

    result["all_schemes_report_json_s"] = _median_seconds(all_schemes)
    two_years = make_community(members, years=2)

    def decision() -> None:
        hours = align_hours(two_years.consumption_kwh, two_years.generation_kwh, DEFAULT_TZ)
        prices = Prices.flat(hours.consumption.index, 0.15, 0.05)
        comparison = compare(
            own,
            hours.consumption,
            hours.generation,
            prices=prices,
            rules=rules,
            in_force="power",
            objective=Objective.SAVINGS,
        )
        inputs = Inputs(
            members=tuple(own),
            consumption_kwh=hours.consumption,
            generation_kwh=hours.generation,
            prices=prices,
        )
        outcomes = what_if(comparison, inputs, _scenarios(own[0], two_years.peak_kw), tz=DEFAULT_TZ)
        report, _html = documents(comparison, hours, [], DEFAULT_TZ, outcomes)
        json.dumps(report)

    result["two_years_report_with_scenarios_s"] = _median_seconds(decision, repeats=1)
    # Peak of data, every scheme and the reports; the verification LP below is not part of it.
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    _, optimum = optimal_static_lp(consumption, generation)
    result["lp_s"] = time.perf_counter() - start
    result["lp_relative_gap"] = (optimum - value) / optimum
    result["lp_over_water_filling"] = result["lp_s"] / result["optimized_static_s"]
    if members == SIZES[0]:
        result["constrained_worst_gap_kwh"] = _constrained_gaps()

    return result


def _scenarios(leaving: Member, plant_kwp: float) -> list[Any]:
    """Return the what-ifs of an assembly: one joins, one leaves, panels, a battery, prices."""
    from dataclasses import replace  # noqa: PLC0415

    from ioe_aggregator.forecast.model import Site  # noqa: PLC0415
    from ioe_aggregator.sharing.scenarios import (  # noqa: PLC0415 - measured imports
        Battery,
        MemberJoins,
        MemberLeaves,
        PlantGrows,
        PricesChange,
    )
    from ioe_dev.synthetic import SYNTHETIC_SITE, cups  # noqa: PLC0415

    site = Site(SYNTHETIC_SITE.latitude, SYNTHETIC_SITE.longitude, SYNTHETIC_SITE.altitude)
    newcomer = replace(leaving, member_id="newcomer", cups=cups(99_999))
    return [
        MemberJoins(member=newcomer, annual_kwh=6000.0),
        MemberLeaves(member_id=leaving.member_id),
        PlantGrows(added_kwp=plant_kwp / 2, plant_kwp=plant_kwp, site=site, azimuth=240.0),
        Battery(capacity_kwh=plant_kwp, power_kw=plant_kwp / 2),
        PricesChange(import_factor=1.3, surplus_factor=0.5),
    ]


def bench_sharing() -> dict[str, Any]:
    """Run each size in its own process (for its own peak memory) and collect the results."""
    rows = []
    for members in SIZES:
        process = subprocess.run(
            [sys.executable, "-m", "ioe_dev.bench", "sharing-one", str(members)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(process.stdout.splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return {"benchmark": "sharing", "sizes": rows}


def _solaredge_vector() -> Any:
    """Return the SunSpec profile's SolarEdge inverter-and-meter test vector (a real dump)."""
    from custom_components.ioe_community.devices.profile import available_profiles  # noqa: PLC0415

    return next(
        vector
        for vector in available_profiles()["sunspec"].test_vectors
        if dict(vector.sunspec[0][1]).get("Mn", "").startswith("SolarEdge")
    )


def _serve_devices(port_queue: Any) -> None:
    """Child process: serve a home's devices until killed.

    A meter (1), an inverter with battery (2), a charger (3) and a SolarEdge inverter with its
    export-positive meter (4).
    """
    import asyncio  # noqa: PLC0415 - runs in the child

    from custom_components.ioe_community.devices.profile import available_profiles  # noqa: PLC0415
    from custom_components.ioe_community.devices.sunspec import vector_holding  # noqa: PLC0415
    from ioe_dev.modbus_server import ModbusTestServer, Registers  # noqa: PLC0415

    profiles = available_profiles()
    meter = profiles["eastron_sdm630"].test_vectors[0]
    inverter = profiles["huawei_sun2000"].test_vectors[0]
    charger = profiles["keba_p30"].test_vectors[0]

    async def run() -> None:
        server = ModbusTestServer(
            units={
                1: Registers(input=dict(meter.input)),
                2: Registers(holding=dict(inverter.holding)),
                3: Registers(holding=dict(charger.holding)),
                4: Registers(holding=vector_holding(_solaredge_vector())),
            }
        )
        await server.start()
        port_queue.put(server.port)
        await asyncio.Event().wait()

    asyncio.run(run())


def bench_modbus(polls: int = 300) -> dict[str, Any]:
    """Measure requests and client CPU per poll of a home's devices.

    A meter, an inverter (+ battery), a charger and a SolarEdge inverter with its meter
    (SunSpec).

    Batched: the integration's read plan. Unbatched: one request per value, as a per-entity
    poller does. Both read the same registers from the same servers in one run.
    """
    import asyncio  # noqa: PLC0415
    import multiprocessing  # noqa: PLC0415

    from custom_components.ioe_community.devices.batching import plan_reads  # noqa: PLC0415
    from custom_components.ioe_community.devices.modbus import (  # noqa: PLC0415
        DeviceReader,
        Endpoint,
        ModbusBus,
        Transport,
    )
    from custom_components.ioe_community.devices.profile import available_profiles  # noqa: PLC0415
    from custom_components.ioe_community.devices.sunspec import discover, resolve_profile  # noqa: PLC0415

    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    server = context.Process(target=_serve_devices, args=(ports,), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    profiles = available_profiles()

    async def run() -> dict[str, Any]:
        bus = ModbusBus(Endpoint(transport=Transport.TCP, host="127.0.0.1", port=port))
        solaredge = resolve_profile(profiles["sunspec"], await discover(bus, 4))
        readers = [
            DeviceReader(profiles["eastron_sdm630"], bus, 1),
            DeviceReader(profiles["huawei_sun2000"], bus, 2),
            DeviceReader(profiles["keba_p30"], bus, 3),
            DeviceReader(solaredge, bus, 4),
        ]
        results: dict[str, Any] = {}
        for mode in ("batched", "one_request_per_value"):
            requests = 0
            cpu = time.process_time()
            wall = time.perf_counter()
            for _ in range(polls):
                for reader in readers:
                    if mode == "batched":
                        await reader.poll()
                        requests += len(reader.blocks)
                        continue
                    for register in reader.registers:
                        (block,) = plan_reads([register], max_registers=125, max_gap=0)
                        await bus.read(block.function, block.address, block.count, reader.unit)
                        requests += 1
            results[mode] = {
                "requests_per_poll": requests / polls,
                "cpu_ms_per_poll": 1000 * (time.process_time() - cpu) / polls,
                "wall_ms_per_poll": 1000 * (time.perf_counter() - wall) / polls,
            }
        bus.close()
        return results

    try:
        return {"benchmark": "modbus", "polls": polls, **asyncio.run(run())}
    finally:
        server.terminate()


def bench_meters(messages: int = 20000) -> dict[str, Any]:
    """Measure CPU per MQTT meter message, read as the integration reads it.

    A Tasmota net-counter meter (a Shelly 3EM on Tasmota: Total runs back while exporting,
    import and export counted from its changes) and a Shelly Pro 3EM (per-phase counters,
    balanced across phases), each message a little further on than the last.
    """
    from custom_components.ioe_community.devices.mqtt_meter import (  # noqa: PLC0415
        MeterFormat,
        MeterReader,
        MeterSource,
    )

    def tasmota(n: int) -> str:
        total = 100.0 + 0.01 * (n % 50) - 0.004 * n
        return json.dumps(
            {"Time": "2026-12-03T12:00:00", "ENERGY": {
                "TotalStartTime": "2025-06-01T10:00:00", "Total": round(total, 5),
                "Today": 1.2, "Power": [176.0, -2232.1, 15.0], "Voltage": [231, 230, 232],
                "Current": [2.2, 9.7, 0.1], "Factor": [0.92, -0.98, 0.5],
            }}
        )  # fmt: skip

    def shelly(n: int) -> str:
        return json.dumps({"id": 0, "total_act": 5415414.19 + 3 * n, "total_act_ret": 20.0 + 5 * n})

    cases = {
        "tasmota_net_counter": (MeterFormat.TASMOTA, "tele/shelly3em/SENSOR", tasmota),
        "shelly_pro_3em_balanced": (MeterFormat.SHELLY, "pro3em/status/emdata:0", shelly),
    }
    results: dict[str, Any] = {}
    for name, (meter_format, topic, payload) in cases.items():
        payloads = [payload(n) for n in range(messages)]
        reader = MeterReader(MeterSource(format=meter_format, topic=topic.split("/")[0]))
        cpu = time.process_time()
        for message in payloads:
            reader.read(topic, message)
        seconds = time.process_time() - cpu
        results[name] = {
            "us_per_message": 1e6 * seconds / messages,
            "messages_per_s": messages / seconds,
        }
    return {"benchmark": "meters", "messages": messages, **results}


def _machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform(terse=True)}"
    )


def _today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


def main() -> int:
    """Run the named benchmark and print its results as JSON and as a Markdown table."""
    parser = argparse.ArgumentParser(prog="scripts/bench")
    parser.add_argument(
        "benchmark",
        choices=[
            "sharing",
            "sharing-one",
            "modbus",
            "meters",
            "ingest",
            "results",
            "link",
            "upload",
            "web",
            "control",
            "forecast",
            "replicas",
            "store",
            "soak",
        ],
    )
    parser.add_argument("members", nargs="?", type=int)
    args = parser.parse_args()
    if args.benchmark == "sharing-one":
        print(json.dumps(measure_sharing(args.members)))
        return 0
    if args.benchmark in OWN_MODULES:
        # Imported only when run: paho, the aggregator, the integration.
        module = importlib.import_module(f"ioe_dev.bench_{args.benchmark}")
        measured = getattr(module, f"bench_{args.benchmark}")()
        measured |= {"machine": _machine(), "date": _today()}
        print(json.dumps(measured, indent=2))
        module.print_table(measured)
        return 0
    if args.benchmark == "results":
        from ioe_dev.bench_results import bench_results  # noqa: PLC0415 - the aggregator

        timing = bench_results() | {"machine": _machine(), "date": _today()}
        print(json.dumps(timing, indent=2))
        return 0
    if args.benchmark in ("modbus", "meters"):
        measured = bench_modbus() if args.benchmark == "modbus" else bench_meters()
        measured |= {"machine": _machine(), "date": _today()}
        print(json.dumps(measured, indent=2))
        return 0
    results = bench_sharing()
    results["machine"] = _machine()
    results["date"] = _today()
    print(json.dumps(results, indent=2))
    print(
        "\n| members | optimized-static | HiGHS LP | LP / water-filling | relative gap "
        "| under rules | optimized-hourly | all schemes + report.json "
        "| two years, report with scenarios | peak memory |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in results["sizes"]:
        print(
            f"| {row['members']} | {row['optimized_static_s']:.3f} s | {row['lp_s']:.1f} s "
            f"| {row['lp_over_water_filling']:,.0f}× | {row['lp_relative_gap']:.1e} "
            f"| {row['constrained_s']:.3f} s | {row['optimized_hourly_s']:.1f} s "
            f"| {row['all_schemes_report_json_s']:.2f} s "
            f"| {row['two_years_report_with_scenarios_s']:.1f} s "
            f"| {row['peak_rss_mb']:.0f} MB |"
        )
    gap = results["sizes"][0]["constrained_worst_gap_kwh"]
    print(f"\nUnder random rules, against HiGHS (30 instances): worst gap {gap:.1e} kWh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
