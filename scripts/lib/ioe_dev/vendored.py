"""Files the integration carries a copy of, because HACS installs only its own folder.

The protocol's JSON Schemas, its typed messages and the join code's reader are written once,
in the aggregator; the integration needs them at run time and cannot import the add-on.
``python -m ioe_dev.vendored`` refreshes the copies; a static test fails while any copy
differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import shutil

ROOT = Path(__file__).resolve().parents[3]
_AGGREGATOR = ROOT / "addons/ioe-aggregator/ioe_aggregator"
_LINK = ROOT / "custom_components/ioe_community/link"


def copies() -> Iterator[tuple[Path, Path]]:
    """Yield (original, copy) for every vendored file."""
    yield _AGGREGATOR / "members/join_code.py", _LINK / "join_code.py"
    yield _AGGREGATOR / "protocol/messages.py", _LINK / "messages.py"
    for schema in sorted((_AGGREGATOR / "protocol/schemas").glob("*.json")):
        yield schema, _LINK / "schemas" / schema.name


def stale() -> list[Path]:
    """Return the copies that differ from their original (or are missing)."""
    return [
        copy
        for original, copy in copies()
        if not copy.is_file() or copy.read_bytes() != original.read_bytes()
    ]


def main() -> None:
    """Refresh every copy."""
    for original, copy in copies():
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(original, copy)
        print(copy.relative_to(ROOT))


if __name__ == "__main__":
    main()
