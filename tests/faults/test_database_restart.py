"""PostgreSQL restarted under two replicas while homes send: they ride it out, nothing lost.

The server goes away for a moment, as an upgrade or a failover of a managed database does.
Batches that could not be stored are not acknowledged (the homes send them again); the
replicas reconnect, one of them leads again, and every task goes on: no process exits.
"""

from __future__ import annotations

from pathlib import Path
import shutil
import tempfile

from ioe_dev.postgres import start_postgres
from tests.community import Community, StartAggregator

from .platform import assert_every_reading_once, health, platform, wait


def test_postgresql_restarted_while_homes_send(
    addon_community: Community, start_aggregator: StartAggregator, tmp_path: Path
) -> None:
    directory = Path(tempfile.mkdtemp(prefix="ioe-restarted-"))
    server = start_postgres(directory)
    try:
        made = platform(
            addon_community, start_aggregator, server.create_database("restarted"), ("a", "b")
        )
        [(_leader, term)] = wait(made.leading, 10, "a leader")
        with made.homes(tmp_path, 96) as outboxes:
            wait(lambda: any(o.state().batches < 90 for o in outboxes.values()), 30, "acks")
            server.restart()
            wait(
                lambda: all(o.state().batches == 0 for o in outboxes.values()),
                120,
                "every batch acknowledged after the restart",
            )

        assert made.alive() == ["a", "b"], "a replica exited"
        # The restart was felt: batches were refused while the database was away.
        refused = [health(port)["ingest"]["refused"] for port in made.ports.values()]
        assert sum(found.get("store_failed", 0) for found in refused) > 0
        [(_new_leader, new_term)] = wait(made.leading, 15, "a leader again")
        assert new_term >= term
        for port in made.ports.values():
            wait(lambda port=port: health(port)["status"] == "ok", 30, f"{port} healthy")
        assert_every_reading_once(made, 96)
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
