"""The members' broker logins as Mosquitto reads them: a password file and an access list.

They are rewritten after every change of the registry (and the broker asked to reload them),
so that a rotated or revoked credential stops working at once.
"""

from __future__ import annotations

import asyncio
import logging

from ioe_aggregator.auth import secrets
from ioe_aggregator.config import BrokerAccountsConfig
from ioe_aggregator.members import broker_files
from ioe_aggregator.store import Store, StoreError

_LOGGER = logging.getLogger(__name__)
_ACTIVE = "revoked_s IS NULL AND mqtt_hash IS NOT NULL"
SELECT_LOGINS = f"SELECT id, mqtt_hash FROM members WHERE {_ACTIVE} ORDER BY id"  # noqa: S608
# One member's, for the broker hook (api.broker_hook): whether it is active as above, its hash.
SELECT_LOGIN = f"SELECT {_ACTIVE}, mqtt_hash FROM members WHERE id = ?"  # noqa: S608


class BrokerAccounts:
    """The broker's logins: the active members' and the service's own."""

    def __init__(self, store: Store, config: BrokerAccountsConfig) -> None:
        """Work on the members in a store, with where their logins go."""
        self._store = store
        self._config = config

    def reserved(self, member: str) -> bool:
        """Whether a member's login would be one of the broker's own, which no member may take."""
        full_access = self._config.full_access
        return member in full_access or self._config.logins.login_of(member) in full_access

    async def publish(self) -> None:
        """Rewrite the broker's password file and access list, and have the broker reload them.

        Does nothing when the configuration names no directory for them.
        """
        directory = self._config.files_dir
        if directory is None:
            return
        async with self._store.transaction() as tx:
            members = [(str(row[0]), str(row[1])) for row in await tx.execute(SELECT_LOGINS)]
        names = self._config.logins
        logins = [(names.login_of(member), password_hash) for member, password_hash in members]
        if (service := self._config.service_login) is not None:
            username, password = service
            logins.insert(0, (username, secrets.mosquitto_hash(password)))
        try:
            await asyncio.to_thread(
                broker_files.write,
                directory,
                passwords=broker_files.password_file(logins),
                acl=broker_files.acl_file(
                    self._config.topic_prefix,
                    self._config.full_access,
                    names,
                    (member for member, _hash in members),
                ),
            )
        except OSError as err:
            raise StoreError(f"cannot write the broker's files in {directory}: {err}") from err
        _LOGGER.info(
            "Broker logins and access list written to %s (%s members)", directory, len(logins)
        )
        if self._config.mosquitto_pid_file is not None:
            broker_files.reload_broker(self._config.mosquitto_pid_file)
