"""The display's settings are kept in memory: a public request reads nothing for them."""

from __future__ import annotations

from pathlib import Path

from ioe_aggregator.public import settings
from ioe_aggregator.store import open_store

PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)


async def test_read_once_then_replaced_by_their_writers_only(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'aggregator.db'}")
    try:
        kept = settings.KeptSettings(store)
        assert await kept.get() == settings.DisplaySettings(enabled=False, logo=None)
        # Changed in the store behind its back: what is kept stands (nothing is read again).
        await settings.switch(store, "token:test", enabled=True)
        await settings.put_logo(store, "token:test", PNG)
        assert (await kept.get()).enabled is False
        # The routes that change them read them again once.
        reloaded = await kept.reload()
        assert reloaded.enabled is True
        assert reloaded.logo == settings.Logo("image/png", PNG)
        assert await kept.get() is reloaded
    finally:
        await store.close()
