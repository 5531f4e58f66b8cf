"""Backups and restores, as docs/operations.md tells a manager to make them, on real services.

SQLite: ``backup`` while the service stores a home's batches (the copy holds whole batches, its
sums match its readings), ``restore`` refused while the service runs and then done with it
stopped, the service starting on the restored file; bad backups refused, nothing changed.
PostgreSQL: ``pg_dump`` of the live database, ``pg_restore`` into a new one, the service on it.
"""

from __future__ import annotations

from contextlib import closing
import json
from pathlib import Path
import sqlite3
import threading

import psycopg
import yaml

from ioe_dev.postgres import PostgresServer
from tests.community import (
    PREFIX,
    Community,
    StartAggregator,
    acks,
    batch,
    home,
    payload,
    start_service,
    stored_rows,
)


def _sums(connection: sqlite3.Connection | psycopg.Connection) -> tuple[float, float]:
    """Return the readings' total and the hourly sums' total (equal in a consistent copy)."""
    readings = connection.execute("SELECT COALESCE(SUM(value), 0) FROM readings").fetchone()
    hours = connection.execute("SELECT COALESCE(SUM(kwh), 0) FROM hourly_energy").fetchone()
    assert readings is not None
    assert hours is not None
    return round(float(readings[0]), 6), round(float(hours[0]), 6)


def test_a_backup_taken_while_a_home_sends_restores_into_a_working_service(
    community: Community, start_aggregator: StartAggregator, tmp_path: Path
) -> None:
    sender = home(community, "m-0001")
    service, _port = start_service(community, start_aggregator)
    database = Path(community.options["database_url"].removeprefix("sqlite:///"))
    backup_file = tmp_path / "backups" / "ioe.db"
    sending = threading.Event()
    sent: list[int] = []

    def send() -> None:
        # Paced by the acks: the home goes on sending while the backup is taken.
        number = 0
        while sending.is_set() and number < 400:
            message = batch("m-0001", f"b-{number}", first=number * 4, count=4)
            sender.publish(f"{PREFIX}/m/m-0001/readings", payload(message))
            sent.append(number)
            number += 1
            sender.wait_for(lambda number=number: len(acks(sender, "m-0001")) >= number - 4)

    sending.set()
    worker = threading.Thread(target=send)
    worker.start()
    sender.wait_for(lambda: len(acks(sender, "m-0001")) >= 10)
    made = json.loads(community.cli("backup", "--to", str(backup_file), "--json").stdout)
    sender.wait_for(lambda: len(acks(sender, "m-0001")) >= made["readings"] // 4 + 10, 30)
    sending.clear()
    worker.join()
    sender.wait_for(lambda: len(acks(sender, "m-0001")) == len(sent), 30)

    # The copy: whole batches only (taken while more came), its sums matching its readings,
    # one file, readable by its owner only.
    assert made["schema"] > 0
    assert made["readings"] % 4 == 0
    assert 40 <= made["readings"] < 4 * len(sent)
    assert not backup_file.with_name("ioe.db-wal").exists()
    assert backup_file.stat().st_mode & 0o777 == 0o600
    with closing(sqlite3.connect(backup_file)) as copy:
        total, hourly = _sums(copy)
    assert total == hourly == made["readings"] * 0.25

    # Not while the service runs: nothing is touched.
    refused = community.cli("restore", "--from", str(backup_file), check=False)
    assert refused.returncode == 1
    assert "already serves the SQLite database" in refused.stderr
    assert "stop it before restoring" in refused.stderr
    assert len(stored_rows(community)) == 4 * len(sent)

    # The service dies (its write-ahead log left unchecked-in), then the backup is restored.
    assert service.process is not None
    service.process.kill()
    service.process.wait()
    assert database.with_name(database.name + "-wal").exists()
    restored = json.loads(community.cli("restore", "--from", str(backup_file), "--json").stdout)
    kept = Path(restored["kept"])
    assert restored["readings"] == made["readings"]
    with closing(sqlite3.connect(kept)) as before:
        # The replaced database, whole: its log kept with it.
        assert _sums(before) == (4 * len(sent) * 0.25, 4 * len(sent) * 0.25)
    assert kept.parent == database.parent

    start_service(community, start_aggregator)
    assert len(stored_rows(community)) == made["readings"]
    # The service goes on: the home's next batch is stored and acknowledged.
    before = len(acks(sender, "m-0001"))
    sender.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "after", first=400)))
    sender.wait_for(lambda: len(acks(sender, "m-0001")) == before + 1, 20)
    assert len(stored_rows(community)) == made["readings"] + 4


def test_bad_backups_are_refused_and_change_nothing(community: Community, tmp_path: Path) -> None:
    community.add_member("m-0001")
    database = Path(community.options["database_url"].removeprefix("sqlite:///"))
    before = database.read_bytes()
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("these are my notes, not a database\n")
    foreign = tmp_path / "foreign.db"
    with closing(sqlite3.connect(foreign)) as other:
        other.execute("CREATE TABLE things (x)")
        other.commit()
    newer = tmp_path / "newer.db"
    community.cli("backup", "--to", str(newer))
    with closing(sqlite3.connect(newer)) as future:
        future.execute("INSERT INTO schema_migrations (version, applied_s) VALUES (999, 0)")
        future.commit()

    for bad, reason in (
        (not_a_database, "not an aggregator's database"),
        (foreign, "not an aggregator's database"),
        (newer, "newer than this aggregator's"),
        (tmp_path / "missing.db", "no file at"),
    ):
        refused = community.cli("restore", "--from", str(bad), check=False)
        assert refused.returncode == 1, bad
        assert reason in refused.stderr, refused.stderr
    assert database.read_bytes() == before
    assert not list(database.parent.glob("*.before-restore-*"))

    for target, reason in (
        (database, "is the database or one of its files"),
        (database.with_name(database.name + "-wal"), "is the database or one of its files"),
        (database.with_name(database.name + ".serving"), "is the database or one of its files"),
        (tmp_path, "is not a file"),
    ):
        refused = community.cli("backup", "--to", str(target), check=False)
        assert refused.returncode == 1, target
        assert reason in refused.stderr, refused.stderr
    assert database.read_bytes() == before


def test_postgresql_is_backed_up_with_pg_dump_and_restored_with_pg_restore(
    community: Community,
    start_aggregator: StartAggregator,
    postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    url = postgres.create_database("backed_up")
    community.options["database_url"] = url
    community.config_file.write_text(yaml.safe_dump(community.options))
    sender = home(community, "m-0001")
    service, _port = start_service(community, start_aggregator)
    for number in range(6):
        message = batch("m-0001", f"b-{number}", first=number * 4, count=4)
        sender.publish(f"{PREFIX}/m/m-0001/readings", payload(message))
    sender.wait_for(lambda: len(acks(sender, "m-0001")) == 6)

    refused = community.cli("backup", "--to", str(tmp_path / "x.db"), check=False)
    assert refused.returncode == 1
    assert "back it up with pg_dump" in refused.stderr

    dump = tmp_path / "ioe.dump"
    postgres.client("pg_dump", "--format=custom", "--file", str(dump), "--dbname", url)
    service.stop()
    restored_url = postgres.create_database("restored")
    postgres.client("pg_restore", "--no-owner", "--dbname", restored_url, str(dump))
    community.options["database_url"] = restored_url
    community.config_file.write_text(yaml.safe_dump(community.options))

    start_service(community, start_aggregator)
    before = len(acks(sender, "m-0001"))
    sender.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "after", first=400)))
    sender.wait_for(lambda: len(acks(sender, "m-0001")) == before + 1, 20)
    with psycopg.connect(restored_url) as connection:
        assert _sums(connection) == (7 * 4 * 0.25, 7 * 4 * 0.25)
        with psycopg.connect(url) as original:
            schema = "SELECT MAX(version) FROM schema_migrations"
            assert connection.execute(schema).fetchone() == original.execute(schema).fetchone()
