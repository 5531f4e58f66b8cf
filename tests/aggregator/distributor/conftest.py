"""What the distributor tests share: reading a whole export from bytes."""

from __future__ import annotations

from dataclasses import dataclass
import io
from operator import attrgetter
from zoneinfo import ZoneInfo

from ioe_aggregator.distributor.csv_files import open_csv
from ioe_aggregator.distributor.layouts import CsvFormat
from ioe_aggregator.distributor.rows import DistributorRow

MADRID = ZoneInfo("Europe/Madrid")


@dataclass
class ReadFile:
    """Everything a file held, read through to the end."""

    format: CsvFormat
    rows: list[DistributorRow]
    errors: list[str]
    errors_total: int


def read_all(data: bytes, zone: ZoneInfo = MADRID) -> ReadFile:
    """Read an export month by month, as the import does; its rows in the file's order."""
    parsed = open_csv(io.BytesIO(data), zone)
    rows = [row for month in parsed.months() for row in month]
    assert parsed.rows == len(rows)
    return ReadFile(
        format=parsed.format,
        rows=sorted(rows, key=attrgetter("line")),
        errors=[str(error) for error in parsed.errors.first()],
        errors_total=parsed.errors.total,
    )
