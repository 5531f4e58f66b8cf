"""The schema: numbered migrations, the version they reach, and TimescaleDB's hypertable.

The same statements for both backends (``?`` placeholders; PostgreSQL's backend turns them
into ``%s``). Times are whole seconds since the epoch (UTC), so that no dialect's date type is
needed.
"""

from __future__ import annotations

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
    (
        # The people of the control centre: a Home Assistant user (through ingress) or one
        # of the aggregator's own with a password; role NULL until an admin gives one.
        """CREATE TABLE users (
            id TEXT PRIMARY KEY,
            ha_user_id TEXT UNIQUE,
            username TEXT UNIQUE,
            name TEXT NOT NULL,
            role TEXT,
            password_hash TEXT,
            created_s BIGINT NOT NULL,
            disabled_s BIGINT
        )""",
        # Signed-in browsers: the cookie's secret is kept only as its SHA-256.
        """CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users (id),
            created_s BIGINT NOT NULL,
            seen_s BIGINT NOT NULL,
            expires_s BIGINT NOT NULL
        )""",
        "CREATE INDEX sessions_by_user ON sessions (user_id)",
    ),
    (
        # Sharing comparisons run as jobs, one at a time: what was asked (JSON), how far it
        # got, and when done its summary (JSON, with the β of each static scheme), report.json
        # and report.html; a failed one says why. A job a restart interrupted is failed.
        """CREATE TABLE comparisons (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            progress DOUBLE PRECISION NOT NULL,
            actor TEXT NOT NULL,
            request TEXT NOT NULL,
            created_s BIGINT NOT NULL,
            started_s BIGINT,
            finished_s BIGINT,
            error TEXT,
            summary TEXT,
            report_json TEXT,
            report_html TEXT
        )""",
        "CREATE INDEX comparisons_by_time ON comparisons (created_s)",
        # The agreements' history: who recorded each (earlier ones: from the audit log) and the
        # comparison it was adopted from (NULL: given by hand).
        "ALTER TABLE agreements ADD COLUMN created_by TEXT",
        "ALTER TABLE agreements ADD COLUMN comparison TEXT",
        """UPDATE agreements SET created_by = (
            SELECT MIN(actor) FROM audit
            WHERE audit.subject = agreements.id AND audit.action = 'agreement_added'
        )""",
    ),
    (
        # How much of each UTC hour a member's grid import covers, per source: the
        # completeness of its data (``store.coverage``), kept as readings arrive so that a
        # year of 200 members is a few hundred thousand rows to sum, not tens of millions. Only
        # new readings add to it (a corrected value covers the same interval). Seconds, not
        # quarters: the distributor's hourly values count as their four quarter hours.
        """CREATE TABLE import_coverage (
            source TEXT NOT NULL,
            hour_s BIGINT NOT NULL,
            member TEXT NOT NULL,
            covered_s BIGINT NOT NULL,
            PRIMARY KEY (source, hour_s, member)
        )""",
        """INSERT INTO import_coverage (source, hour_s, member, covered_s)
            SELECT source, start_s / 3600 * 3600, member, SUM(end_s - start_s) FROM readings
            WHERE meter = 'grid' AND quantity = 'import_kwh'
            GROUP BY source, start_s / 3600 * 3600, member""",
    ),
    (
        # Every measure's energy and covered seconds per member and UTC hour, and per local day
        # (``rollups.py``): what the control centre's and the results' totals read instead of
        # the readings. The days are summed from the hours when the store opens (they need the
        # community's zone); the hours take over from ``import_coverage``.
        """CREATE TABLE hourly_energy (
            source TEXT NOT NULL,
            member TEXT NOT NULL,
            meter TEXT NOT NULL,
            quantity TEXT NOT NULL,
            hour_s BIGINT NOT NULL,
            kwh DOUBLE PRECISION NOT NULL,
            covered_s BIGINT NOT NULL,
            PRIMARY KEY (source, hour_s, member, meter, quantity)
        )""",
        # One measure's hours of one member (a member's page), or of everyone (a plant's
        # generation, the results): each its own index, or a year's is a walk of every row.
        """CREATE INDEX hourly_energy_by_member
            ON hourly_energy (source, member, meter, quantity, hour_s)""",
        """CREATE INDEX hourly_energy_by_measure
            ON hourly_energy (source, meter, quantity, hour_s)""",
        """INSERT INTO hourly_energy (source, member, meter, quantity, hour_s, kwh, covered_s)
            SELECT source, member, meter, quantity, start_s / 3600 * 3600, SUM(value),
                SUM(end_s - start_s)
            FROM readings GROUP BY source, member, meter, quantity, start_s / 3600 * 3600""",
        """CREATE TABLE daily_energy (
            source TEXT NOT NULL,
            member TEXT NOT NULL,
            meter TEXT NOT NULL,
            quantity TEXT NOT NULL,
            day BIGINT NOT NULL,
            kwh DOUBLE PRECISION NOT NULL,
            covered_s BIGINT NOT NULL,
            PRIMARY KEY (source, day, member, meter, quantity)
        )""",
        "CREATE INDEX daily_energy_by_member ON daily_energy (source, member, day)",
        "DROP TABLE import_coverage",
        # A period's readings of one source (what is left at a period's ends): by source and
        # time, or SQLite walks every reading of the source through the primary key.
        "DROP INDEX readings_by_time",
        "CREATE INDEX readings_by_time ON readings (source, start_s)",
    ),
    (
        # The community signal's history: a row each time its kind changed (and when the
        # service started), with the balance (generation - consumption, W) then. A kind holds
        # until the next row.
        """CREATE TABLE signal_changes (
            start_s BIGINT PRIMARY KEY,
            kind TEXT NOT NULL,
            balance_w DOUBLE PRECISION NOT NULL
        )""",
    ),
    (
        # Members' access links to their portal (``auth.portal``): the link's secret and the
        # typed code's are kept only as hashes; a link ends when it is replaced or revoked.
        """CREATE TABLE portal_links (
            id TEXT PRIMARY KEY,
            member TEXT NOT NULL REFERENCES members (id),
            secret_hash TEXT NOT NULL UNIQUE,
            code_salt TEXT NOT NULL,
            code_hash TEXT NOT NULL,
            created_us BIGINT NOT NULL,
            created_by TEXT NOT NULL,
            expires_s BIGINT NOT NULL,
            ended_s BIGINT,
            ended_how TEXT,
            used_s BIGINT
        )""",
        "CREATE INDEX portal_links_by_member ON portal_links (member, created_us)",
        # Browsers signed in to the portal with a link: the cookie's secret only as its hash.
        """CREATE TABLE portal_sessions (
            id_hash TEXT PRIMARY KEY,
            link TEXT NOT NULL REFERENCES portal_links (id),
            created_s BIGINT NOT NULL,
            seen_s BIGINT NOT NULL,
            expires_s BIGINT NOT NULL
        )""",
        "CREATE INDEX portal_sessions_by_link ON portal_sessions (link)",
    ),
    (
        # How many members sent each measure's reading starting at each moment (a quarter hour
        # or an hour): whether a public total rests on at least five households in every
        # interval, read for a month or a year from here instead of the readings
        # (``rollups.py``). Only a member's first reading at a moment adds to it.
        """CREATE TABLE interval_members (
            source TEXT NOT NULL,
            start_s BIGINT NOT NULL,
            meter TEXT NOT NULL,
            quantity TEXT NOT NULL,
            members INTEGER NOT NULL,
            PRIMARY KEY (source, start_s, meter, quantity)
        )""",
        """INSERT INTO interval_members (source, start_s, meter, quantity, members)
            SELECT source, start_s, meter, quantity, COUNT(DISTINCT member) FROM readings
            GROUP BY source, start_s, meter, quantity""",
    ),
    (
        # Prices posted by a billing platform from a local day (YYYY-MM-DD) on: ``figures`` is
        # JSON, each kind's EUR/kWh by 2.0TD period (``prices.py``).
        """CREATE TABLE prices (
            valid_from TEXT PRIMARY KEY,
            figures TEXT NOT NULL,
            reference TEXT,
            created_s BIGINT NOT NULL,
            created_by TEXT NOT NULL
        )""",
    ),
    (
        # Webhooks (``webhooks/``): the URLs a manager registers, the events (JSON ``data``)
        # recorded with the changes they tell of, and each event's delivery to each webhook
        # (``at_us``: its event's, for the order of delivery).
        """CREATE TABLE webhooks (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            events TEXT NOT NULL,
            secret TEXT NOT NULL,
            description TEXT NOT NULL,
            created_s BIGINT NOT NULL,
            created_by TEXT NOT NULL
        )""",
        """CREATE TABLE webhook_events (
            id TEXT PRIMARY KEY,
            at_us BIGINT NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL
        )""",
        """CREATE TABLE webhook_deliveries (
            webhook TEXT NOT NULL,
            event TEXT NOT NULL REFERENCES webhook_events (id),
            at_us BIGINT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_s BIGINT,
            last_s BIGINT,
            last_status INTEGER,
            last_error TEXT,
            delivered_s BIGINT,
            PRIMARY KEY (webhook, event)
        )""",
        "CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (state, webhook, at_us)",
    ),
    (
        # Imports from emoncms (``emoncms/imports.py``): the source (never its key), and each
        # feed's part with its progress (JSON), written as the import goes.
        """CREATE TABLE emoncms_imports (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            source TEXT NOT NULL,
            actor TEXT NOT NULL,
            feeds TEXT NOT NULL,
            progress DOUBLE PRECISION NOT NULL,
            started_s BIGINT NOT NULL,
            finished_s BIGINT,
            error TEXT
        )""",
    ),
    (
        # The replica running each emoncms import (``replicas.py``) and when the import last
        # said it was alive: it is failed as interrupted once its replica is gone, not when
        # another one starts.
        "ALTER TABLE emoncms_imports ADD COLUMN replica TEXT",
        "ALTER TABLE emoncms_imports ADD COLUMN seen_s BIGINT",
    ),
    (
        # A period's days summed per member and measure, read from the index alone: without
        # it, a month of 200 members is 21,000 lookups in the table (~80 ms on SQLite).
        """CREATE INDEX daily_energy_sums
            ON daily_energy (source, day, member, meter, quantity, kwh)""",
    ),
)

CREATE_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_s BIGINT NOT NULL
)"""
SELECT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
RECORD_VERSION = "INSERT INTO schema_migrations (version, applied_s) VALUES (?, ?)"

# TimescaleDB (PostgreSQL only, when the server offers it): readings become a hypertable in
# chunks of a week of start times. The primary key holds start_s, as a hypertable requires.
TIMESCALEDB_AVAILABLE = "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
ENABLE_TIMESCALEDB = "CREATE EXTENSION IF NOT EXISTS timescaledb"
READINGS_HYPERTABLE = """SELECT create_hypertable('readings', by_range('start_s', 604800),
    migrate_data => true, if_not_exists => true)"""
