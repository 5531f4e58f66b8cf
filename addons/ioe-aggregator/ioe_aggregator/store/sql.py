"""The schema and the statements of the readings, the same for both backends.

Statements use ``?`` placeholders (SQLite's); the PostgreSQL backend turns them into ``%s``.
Times are whole seconds since the epoch (UTC), so that no dialect's date type is needed.
"""

from __future__ import annotations

from datetime import UTC, datetime

# Each migration is a list of statements applied in one transaction, in order; the schema's
# version is the number of migrations applied. Never edit one that has shipped: add another.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE readings (
            source TEXT NOT NULL,
            member TEXT NOT NULL,
            meter TEXT NOT NULL,
            quantity TEXT NOT NULL,
            start_s BIGINT NOT NULL,
            end_s BIGINT NOT NULL,
            value DOUBLE PRECISION NOT NULL,
            quality TEXT NOT NULL,
            received_s BIGINT NOT NULL,
            changes INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (source, member, meter, quantity, start_s, end_s)
        )""",
        "CREATE INDEX readings_by_time ON readings (start_s)",
        """CREATE TABLE batches (
            member TEXT NOT NULL,
            batch TEXT NOT NULL,
            first_s BIGINT NOT NULL,
            last_s BIGINT NOT NULL,
            received INTEGER NOT NULL,
            readings INTEGER NOT NULL,
            PRIMARY KEY (member, batch)
        )""",
    ),
    (
        # Booleans are integers 0/1 and times epoch seconds: the same in both dialects.
        """CREATE TABLE members (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            cups TEXT NOT NULL UNIQUE,
            contracted_kw DOUBLE PRECISION NOT NULL,
            investment_share DOUBLE PRECISION NOT NULL,
            vulnerable INTEGER NOT NULL,
            mqtt_hash TEXT,
            created_s BIGINT NOT NULL,
            revoked_s BIGINT
        )""",
        """CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            scope TEXT NOT NULL,
            member TEXT REFERENCES members (id),
            label TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            created_s BIGINT NOT NULL,
            revoked_s BIGINT
        )""",
        """CREATE TABLE audit (
            id TEXT PRIMARY KEY,
            at_us BIGINT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX audit_by_time ON audit (at_us)",
    ),
    (
        # Dates are local calendar days as text (YYYY-MM-DD): they sort and compare as dates.
        # valid_to is the last day in force, NULL while open-ended. hour 0 holds a static share;
        # hours 1-8784 are the distributor's elapsed local hours of ``year``.
        """CREATE TABLE agreements (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            scheme TEXT NOT NULL,
            hourly INTEGER NOT NULL,
            year INTEGER,
            valid_from TEXT NOT NULL,
            valid_to TEXT,
            created_s BIGINT NOT NULL
        )""",
        """CREATE TABLE agreement_shares (
            agreement TEXT NOT NULL REFERENCES agreements (id),
            member TEXT NOT NULL REFERENCES members (id),
            hour INTEGER NOT NULL,
            units INTEGER NOT NULL,
            PRIMARY KEY (agreement, hour, member)
        )""",
    ),
    (
        # Datadis. Each member whose supply the manager reads: the NIF that authorised the
        # manager (NULL: the manager's own supply), what Datadis said of the supply, and how the
        # last attempt went. Months are YYYY-MM (local), as Datadis asks for them.
        """CREATE TABLE datadis_members (
            member TEXT PRIMARY KEY REFERENCES members (id),
            nif TEXT,
            cups TEXT,
            distributor_code TEXT,
            point_type INTEGER,
            supply_from TEXT,
            contract TEXT,
            checked_s BIGINT,
            status TEXT NOT NULL,
            detail TEXT NOT NULL,
            updated_s BIGINT NOT NULL
        )""",
        # The ledger: when each distinct query (endpoint and parameters) was last sent. Datadis
        # answers an identical query once per 24 hours, so none is sent again sooner.
        """CREATE TABLE datadis_queries (
            query TEXT PRIMARY KEY,
            asked_s BIGINT NOT NULL,
            outcome TEXT NOT NULL
        )""",
        """CREATE TABLE datadis_months (
            member TEXT NOT NULL REFERENCES members (id),
            month TEXT NOT NULL,
            asked_s BIGINT NOT NULL,
            outcome TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            intervals INTEGER NOT NULL,
            complete INTEGER NOT NULL,
            success_s BIGINT,
            detail TEXT NOT NULL,
            PRIMARY KEY (member, month)
        )""",
    ),
    (
        # What the service keeps for itself between starts and shares between replicas: the
        # secret name of its shared subscription, the suffix of its broker client id.
        """CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        # A community plant measured at the member's site: its peak power (0: none). Only
        # registered plants count towards the community's generation.
        "ALTER TABLE members ADD COLUMN plant_kw DOUBLE PRECISION NOT NULL DEFAULT 0",
        # Tokens may expire (NULL: they do not).
        "ALTER TABLE tokens ADD COLUMN expires_s BIGINT",
        # An entry may stand for several occurrences (failed logins of one address in one
        # minute): how many.
        "ALTER TABLE audit ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1",
        # A member's readings by time: what storing a batch looks up first. The primary key
        # reaches a member's rows, but walks every meter and quantity of its whole history.
        "CREATE INDEX readings_by_member ON readings (source, member, start_s)",
        # Batches without readings (a live report every 10 s) are no longer recorded: they
        # were most of the table, and nothing is learnt from them.
        "DELETE FROM batches WHERE readings = 0",
        # The rows each member's own data takes (readings and batch records), for its quota.
        """CREATE TABLE member_usage (
            member TEXT PRIMARY KEY,
            stored_rows BIGINT NOT NULL
        )""",
        """INSERT INTO member_usage (member, stored_rows)
            SELECT member, COUNT(*) FROM readings WHERE source = 'member' GROUP BY member""",
        # The distributor's batches (csv:…, datadis:…) are not the member's own data (no LIKE:
        # the PostgreSQL driver reads % as a placeholder). WHERE also lets SQLite tell an
        # upsert's ON CONFLICT from a join's ON.
        """INSERT INTO member_usage (member, stored_rows)
            SELECT member, COUNT(*) FROM batches
            WHERE substr(batch, 1, 4) <> 'csv:' AND substr(batch, 1, 8) <> 'datadis:'
            GROUP BY member
            ON CONFLICT (member) DO UPDATE
                SET stored_rows = member_usage.stored_rows + excluded.stored_rows""",
    ),
)

CREATE_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_s BIGINT NOT NULL
)"""
SELECT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
RECORD_VERSION = "INSERT INTO schema_migrations (version, applied_s) VALUES (?, ?)"

SELECT_SETTING = "SELECT value FROM settings WHERE key = ?"
# Replicas starting together may both make one: the first stored wins, the other reads it.
INSERT_SETTING = "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"

SELECT_EXISTING = """SELECT meter, quantity, start_s, end_s, value, quality FROM readings
    WHERE source = ? AND member = ? AND start_s >= ? AND start_s <= ?"""
UPSERT_READING = """INSERT INTO readings
    (source, member, meter, quantity, start_s, end_s, value, quality, received_s)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (source, member, meter, quantity, start_s, end_s) DO UPDATE SET
        value = excluded.value,
        quality = excluded.quality,
        received_s = excluded.received_s,
        changes = readings.changes + 1"""
RECORD_BATCH = """INSERT INTO batches (member, batch, first_s, last_s, received, readings)
    VALUES (?, ?, ?, ?, 1, ?)
    ON CONFLICT (member, batch) DO UPDATE SET
        last_s = excluded.last_s,
        received = batches.received + 1"""
SELECT_USAGE = "SELECT stored_rows FROM member_usage WHERE member = ?"
ADD_USAGE = """INSERT INTO member_usage (member, stored_rows) VALUES (?, ?)
    ON CONFLICT (member) DO UPDATE
        SET stored_rows = member_usage.stored_rows + excluded.stored_rows"""


def select_recorded_batches(count: int) -> str:
    """Return the query of which of ``count`` batch ids a member's batches already hold."""
    marks = ", ".join("?" * count)
    return f"SELECT batch FROM batches WHERE member = ? AND batch IN ({marks})"  # noqa: S608


SELECT_READINGS = """SELECT member, meter, quantity, start_s, end_s, value, quality, source, changes
    FROM readings WHERE source = ? AND member = ? AND start_s >= ? AND start_s < ?
    ORDER BY start_s, meter, quantity"""


def seconds(moment: datetime) -> int:
    """Return a UTC time as whole seconds since the epoch."""
    return int(moment.timestamp())


def moment(value: int) -> datetime:
    """Return seconds since the epoch as a UTC time."""
    return datetime.fromtimestamp(value, UTC)


# Per measure (meter, quantity): how many members sent it, and its sum. The meter given last
# (the community plant's) counts only from members with a registered plant.
SELECT_TOTALS = """SELECT meter, quantity, COUNT(DISTINCT member), SUM(value) FROM readings
    WHERE source = ? AND start_s >= ? AND start_s < ?
        AND (meter <> ? OR member IN (SELECT id FROM members WHERE plant_kw > 0))
    GROUP BY meter, quantity ORDER BY meter, quantity"""
SELECT_CONTRIBUTORS = """SELECT COUNT(DISTINCT member) FROM readings
    WHERE source = ? AND start_s >= ? AND start_s < ?"""
# Per measure, how many intervals fewer than ? members sent (a total of them is theirs).
SELECT_SPARSE = """SELECT meter, quantity, COUNT(*) FROM (
        SELECT meter, quantity, start_s FROM readings
        WHERE source = ? AND start_s >= ? AND start_s < ?
            AND (meter <> ? OR member IN (SELECT id FROM members WHERE plant_kw > 0))
        GROUP BY meter, quantity, start_s HAVING COUNT(DISTINCT member) < ?
    ) AS sparse GROUP BY meter, quantity"""

# Interval energies summed per member and UTC hour, for the results (integer division in both
# dialects; no % operator, which the PostgreSQL driver reads as a placeholder).
SELECT_HOURLY = """SELECT member, start_s / 3600 * 3600 AS hour_s, SUM(value) FROM readings
    WHERE source = ? AND meter = ? AND quantity = ? AND start_s >= ? AND start_s < ?
    GROUP BY member, start_s / 3600 * 3600"""

# The same with the seconds the readings cover: an hour is complete when they cover 3600.
SELECT_HOURLY_COVERAGE = """SELECT member, start_s / 3600 * 3600 AS hour_s, SUM(value),
    SUM(end_s - start_s) FROM readings
    WHERE source = ? AND meter = ? AND quantity = ? AND start_s >= ? AND start_s < ?
    GROUP BY member, start_s / 3600 * 3600"""

# TimescaleDB (PostgreSQL only, when the server offers it): readings become a hypertable in
# chunks of a week of start times. The primary key holds start_s, as a hypertable requires.
TIMESCALEDB_AVAILABLE = "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
ENABLE_TIMESCALEDB = "CREATE EXTENSION IF NOT EXISTS timescaledb"
READINGS_HYPERTABLE = """SELECT create_hypertable('readings', by_range('start_s', 604800),
    migrate_data => true, if_not_exists => true)"""
