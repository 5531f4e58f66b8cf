"""``scripts/bench upload``: a distributor's export of ~63 MiB uploaded while homes send batches.

The community of ``scripts/bench ingest`` (``bench_ingest.BenchCommunity``: the TLS Mosquitto on
the aggregator's generated files, the aggregator as its own process on SQLite, 10 members), two
of its homes sending a live batch each (raw paho clients, QoS 1) and waiting for its
acknowledgement, over and over; meanwhile an admin uploads a Datadis export of the 10 members'
quarter hours (``distributor_csv``), just under the API's 64 MiB. Measured: the aggregator
process's peak memory (``VmHWM``, its high-water mark, from ``/proc``), each acknowledgement's
latency (publish → ack) while the upload is under way, and how long the upload took to answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
import json
from pathlib import Path
import statistics
import tempfile
import threading
import time
from typing import Any
import urllib.request
from zoneinfo import ZoneInfo

from paho.mqtt import client as mqtt

from ioe_aggregator.distributor.timeline import day_length
from ioe_dev.bench_ingest import (
    MEMBERS,
    PREFIX,
    BenchCommunity,
    batch_payload,
    connect_client,
    subscribe_and_wait,
)
from ioe_dev.processes import Service
from ioe_dev.synthetic import cups

ZONE = ZoneInfo("Europe/Madrid")  # the aggregator's default time zone
HEADER = (
    "CUPS;Fecha;Hora;consumo_kWh;metodoObtencion;energiaVertida_kWh;energiaGenerada_kWh;"
    "energiaAutoconsumida_kWh"
)
# The API's limit is 64 MiB: the file comes as close as whole days allow.
TARGET_BYTES = 63 * 1024 * 1024
FIRST_DAY = date(2023, 1, 1)
# The homes that keep sending while the upload is imported (the others are only in the file).
SENDERS = 2
# How long a home waits for an acknowledgement before the run is failed.
ACK_TIMEOUT_S = 60.0


def distributor_csv(
    points: Sequence[str], first: date, days: int, *, step_minutes: int = 15
) -> Iterator[str]:
    """Yield a Datadis export's lines (header first), by supply point and day, with line ends.

    Each day's intervals are labelled by the local time elapsed at their end ("00:15" …
    "24:00", and up to "25:00" on the October day, 23:00 on the March one), as every reading
    of the clock-change days takes them; the values are made up, every 97th one estimated.
    """
    yield HEADER + "\n"
    for number, point in enumerate(points):
        for offset in range(days):
            day = first + timedelta(days=offset)
            minutes = int(day_length(day, ZONE).total_seconds()) // 60
            for label in range(step_minutes, minutes + 1, step_minutes):
                n = number * 7919 + offset * 97 + label // step_minutes
                values = ";".join(f"0,{(n * k) % 997:03d}" for k in (3, 5, 7))
                quality = "Estimada" if n % 97 == 0 else "Real"
                yield (
                    f"{point};{day:%Y/%m/%d};{label // 60:02d}:{label % 60:02d};"
                    f"0,{n % 991:03d};{quality};{values}\n"
                )


def write_upload(path: Path, points: Sequence[str]) -> int:
    """Write the largest export of whole days under TARGET_BYTES; return its number of days."""
    # The bytes of a point's day, from a first day written (the lines all have one length).
    day_bytes = sum(len(line) for line in distributor_csv(points[:1], FIRST_DAY, 1)) - len(HEADER)
    days = TARGET_BYTES // (day_bytes * len(points))
    with path.open("w", encoding="utf-8", newline="") as out:
        out.writelines(distributor_csv(points, FIRST_DAY, days))
    return days


class MemoryWatch:
    """Samples a process's peak resident memory (VmHWM) until stopped."""

    def __init__(self, pid: int) -> None:
        """Watch the process ``pid``."""
        self._status = Path(f"/proc/{pid}/status")
        self.peak_kb = 0
        self.rss_before_kb = self._field("VmRSS")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _field(self, name: str) -> int:
        for line in self._status.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {name} in {self._status}")

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_kb = max(self.peak_kb, self._field("VmHWM"))

    def __enter__(self) -> MemoryWatch:
        """Start sampling."""
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop sampling, with a last sample."""
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, self._field("VmHWM"))


class Sender:
    """A home that sends a batch, waits for its acknowledgement, and sends the next."""

    def __init__(self, client: mqtt.Client, member: str) -> None:
        """Send as ``member`` through a connected client."""
        self._client = client
        self._member = member
        self._acked = threading.Event()
        self.latencies_s: list[tuple[float, float]] = []  # (sent at, latency)
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        client.on_message = lambda *_args: self._acked.set()
        subscribe_and_wait(client, f"{PREFIX}/m/{member}/ack")

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            self._acked.clear()
            body = batch_payload(self._member, number, 6)
            sent = time.perf_counter()
            self._client.publish(f"{PREFIX}/m/{self._member}/readings", body, qos=1)
            if not self._acked.wait(ACK_TIMEOUT_S):
                self.error = f"{self._member}: no acknowledgement in {ACK_TIMEOUT_S:.0f} s"
                return
            self.latencies_s.append((sent, time.perf_counter() - sent))
            number += 1
            time.sleep(0.05)

    def start(self) -> None:
        """Start sending."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the batch under way; raise when an acknowledgement never came."""
        self._stop.set()
        self._thread.join()
        self._client.disconnect()
        self._client.loop_stop()
        if self.error is not None:
            raise RuntimeError(self.error)


def _upload(port: int, token: str, path: Path) -> tuple[dict[str, Any], float]:
    """POST the file as an admin; return the report and how long the answer took."""
    start = time.perf_counter()
    with path.open("rb") as body:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/distributor/csv?name={path.name}",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "text/csv",
                "Content-Length": str(path.stat().st_size),
            },
        )
        with urllib.request.urlopen(request, timeout=1800) as answer:  # noqa: S310
            report = json.load(answer)
    return report, time.perf_counter() - start


def bench_upload() -> dict[str, Any]:
    """Run the upload with homes sending; return memory, ack latencies and the import's time."""
    with tempfile.TemporaryDirectory(prefix="ioe-bench-upload-") as tmp:
        directory = Path(tmp)
        community = BenchCommunity(directory)
        url = f"sqlite:///{directory / 'bench.db'}"
        community.cli(url, "members", "broker-files")
        broker = community.start_broker()
        try:
            community.register(url)
            token = json.loads(
                community.cli(url, "tokens", "add", "--scope", "admin", "--label", "b", "--json")
            )["token"]
            upload = directory / "datadis-export.csv"
            days = write_upload(upload, [cups(n) for n in range(1, MEMBERS + 1)])
            results = {
                "file_mib": round(upload.stat().st_size / 2**20, 1),
                "supply_points": MEMBERS,
                "days": days,
                "senders": SENDERS,
            }
            service, port = community.start_aggregator(url)
            try:
                homes = [f"m-{n:04d}" for n in range(1, SENDERS + 1)]
                senders = [
                    Sender(connect_client(broker, m, community.passwords[m]), m) for m in homes
                ]
                results |= _measure(service, port, token, upload, senders)
            finally:
                service.stop()
        finally:
            broker.service.stop()
    return results


def _measure(
    service: Service, port: int, token: str, upload: Path, senders: list[Sender]
) -> dict[str, Any]:
    """Upload while the homes send; return what docs/benchmarks.md records."""
    if service.process is None:
        raise RuntimeError("the aggregator is not running")
    for sender in senders:
        sender.start()
    time.sleep(2)  # the homes' batches flow before the upload starts
    with MemoryWatch(service.process.pid) as memory:
        began = time.perf_counter()
        report, upload_s = _upload(port, token, upload)
        ended = time.perf_counter()
    for sender in senders:
        sender.stop()
    latencies = [pair for sender in senders for pair in sender.latencies_s]
    # Every batch that was waiting for its acknowledgement at some time of the upload.
    during = [latency for sent, latency in latencies if sent <= ended and sent + latency >= began]
    before = [latency for sent, latency in latencies if sent + latency < began]
    return {
        "rows": report["rows"],
        "readings_new": sum(month["new"] for month in report["months"]),
        "errors_total": report["errors_total"],
        "import_s": upload_s,
        "service_rss_before_mb": memory.rss_before_kb / 1024,
        "service_peak_rss_mb": memory.peak_kb / 1024,
        "ack_latency_before_median_s": statistics.median(before),
        "acks_during_upload": len(during),
        "ack_latency_median_s": statistics.median(during),
        "ack_latency_p95_s": statistics.quantiles(during, n=20)[-1],
        "ack_latency_max_s": max(during),
    }


def print_table(results: dict[str, Any]) -> None:
    """Print the results as docs/benchmarks.md's table."""
    print(
        "| file | rows | readings stored | import | service peak memory "
        "| acks during it | ack latency p95 | max |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {results['file_mib']} MiB | {results['rows']:,} | {results['readings_new']:,} "
        f"| {results['import_s']:.1f} s | {results['service_peak_rss_mb']:.0f} MB "
        f"| {results['acks_during_upload']:,} | {results['ack_latency_p95_s'] * 1000:.0f} ms "
        f"| {results['ack_latency_max_s'] * 1000:.0f} ms |"
    )
