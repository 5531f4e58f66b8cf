"""The distributors' CSV exports: find the header, read every line, place it in UTC.

All are ``;``-separated with comma decimals; their columns are recognised by what they mean
(``layouts``), after any lines that come before the header (a title, a date range).

Times are local labels of the end of each interval, or of its start on days labelled from
"00:00" (``rows``, ``timeline``); a day's labels are placed together, so the October day's hour
25 or repeated hour each keep their own interval. Files come in UTF-8 or in the
Windows code page the distributors' sites write, with CRLF or LF. Every bad line is reported with
its number and reason, and the good lines are still read.

A file may hold a year of quarter hours for dozens of supply points (up to the API's 64 MiB),
so it is read from disk and never held whole: `open_csv` reads it once, `CsvFile.months` reads
it again one supply point's month at a time, for the caller to store before asking for the next.

1. Whether every byte is UTF-8 decides the encoding of the whole file, as decoding it whole did.
2. The header; then each line's fields, CUPS, date and label. A line where one of them is bad is
   named at once; the others are indexed by (supply point, day) as runs of byte offsets with the
   run's first line number: one run per supply point and day in a sorted file, some 40 bytes a
   line (35 MB for 63 MiB) in a shuffled one. Whether any line read whole ends a quarter hour —
   the file's interval length, as `rows.place` decides it — is settled on the way.
3. For each supply point's month, its days' runs are read again (a day's lines in the file's
   order) and placed together, as reading the file whole placed them; the rest of each line's
   checks name the lines still bad. At most a month of one supply point is in memory (a day's
   values beyond the intervals it can have are named, not kept), however the file is sorted,
   and what each month yields is what reading the file whole gave for it.

Why so: the rows of a day must be placed together, and a file need not be sorted, so no line
can be read once and forgotten. Holding the text and every row in memory took 2.6 GB for a
63 MiB file (docs/benchmarks.md); sorting the file into another on disk costs a second copy and
a sort; an index of byte offsets costs 24 bytes a run of lines and a second parse of each line,
which is cheaper than either. Days are indexed by supply point (the CUPS without its boundary
suffix), so that a month of one member comes whole, whatever spelling of its CUPS each line
uses; the months come in order of supply point and month, not of the file. Lines end with CRLF,
LF or CR. Only the first MAX_ERRORS errors (by line number) are kept, with the count of all of
them, so that a file of bad lines makes a bounded report.
"""

from __future__ import annotations

from array import array
import codecs
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, timedelta
import functools
import itertools
import math
from operator import attrgetter
import re
from typing import BinaryIO
from zoneinfo import ZoneInfo

from ioe_aggregator.distributor.layouts import (
    CsvFormat,
    HeaderError,
    Layout,
    column_key,
    read_header,
    split,
)
from ioe_aggregator.distributor.model import ESTIMATED, MEASURED
from ioe_aggregator.distributor.reasons import LineProblem, shown_lines
from ioe_aggregator.distributor.rows import (
    DistributorRow,
    LabelledRow,
    LineError,
    label_of,
    not_placed,
    place,
    supply_point,
)
from ioe_aggregator.distributor.timeline import HOUR, QUARTER_HOUR
from ioe_aggregator.refusals import Kind, Refused

# Lines not read that a report lists (the first by line number); all of them are counted.
MAX_ERRORS = 1000
# No distributor writes a line this long: it is refused without being kept.
MAX_LINE_BYTES = 4096
_CHUNK_BYTES = 1 << 20
# Lines before the header that are looked through for it (a title, a date range, blank lines).
MAX_PREAMBLE_LINES = 20
# The longest day (25 hours), which bounds the values one supply point can have on one day.
_LONGEST_DAY = timedelta(hours=25)


class LineErrors:
    """The lines not read: how many, and the first ``keep`` of them by line number."""

    def __init__(self, keep: int = MAX_ERRORS) -> None:
        """Start with none."""
        self.total = 0
        self._keep = keep
        self._errors: list[LineError] = []

    def add(self, error: LineError) -> None:
        """Count a line not read (and keep it while it is among the first)."""
        self.total += 1
        self._errors.append(error)
        if len(self._errors) >= 2 * self._keep:
            self._trim()

    def extend(self, errors: Iterable[LineError]) -> None:
        """Count several lines not read."""
        for error in errors:
            self.add(error)

    def first(self) -> list[LineError]:
        """Return the first lines not read, by line number."""
        self._trim()
        return list(self._errors)

    def _trim(self) -> None:
        self._errors.sort(key=attrgetter("line"))
        del self._errors[self._keep :]


_QUALITY = {
    # The method left empty: Datadis answers "" for most real readings.
    "": MEASURED,
    "r": MEASURED,
    "real": MEASURED,
    "e": ESTIMATED,
    "estimada": ESTIMATED,
    "estimado": ESTIMATED,
}
_DAY_FIRST = re.compile(r"(\d{1,2})[/-](\d{1,2})[/-](\d{4})")
_YEAR_FIRST = re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})")
_CUPS = re.compile(r"ES[0-9A-Z]{18}([0-9A-Z]{2})?")


# Asked for every line, of which a day has up to a hundred.
@functools.lru_cache(maxsize=1024)
def parse_date(text: str) -> date:
    """Return a date written dd/mm/yyyy or yyyy/mm/dd (``-`` also accepted)."""
    text = text.strip()
    if match := _DAY_FIRST.fullmatch(text):
        day, month, year = (int(part) for part in match.groups())
    elif match := _YEAR_FIRST.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    else:
        raise LineProblem("not_a_date", text=text)
    try:
        return date(year, month, day)
    except ValueError:
        raise LineProblem("not_a_calendar_day", text=text) from None


def parse_number(text: str) -> float | None:
    """Return a decimal written with a comma (or a point); None for an empty field.

    A point before a comma is a thousands separator ("1.234,5"). Negative and non-finite
    values are refused: distributors publish energies, which are never negative.
    """
    text = text.strip()
    if not text:
        return None
    plain = text.replace(".", "").replace(",", ".") if "," in text else text
    try:
        value = float(plain)
    except ValueError:
        raise LineProblem("not_a_number", text=text) from None
    if not math.isfinite(value) or value < 0:
        raise LineProblem("not_an_energy", text=text)
    return value


def parse_quality(text: str) -> str:
    """Return ``measured`` or ``estimated`` for the distributors' R/E, Real/Estimada spellings.

    An empty field is ``measured``, as Datadis reads an empty method.
    """
    try:
        return _QUALITY[text.strip().lower()]
    except KeyError:
        raise LineProblem("not_a_quality", text=text) from None


class CsvFile:
    """A distributor's export on disk after its first reading (`open_csv`).

    ``rows`` (intervals read) and ``errors`` are complete once `months` has been read through.
    """

    def __init__(
        self,
        file: BinaryIO,
        *,
        layout: Layout,
        encoding: str,
        zone: ZoneInfo,
        step: timedelta,
        runs: dict[tuple[str, date], array[int]],
        errors: LineErrors,
    ) -> None:
        """Keep what the first reading found; `open_csv` makes one."""
        self.format: CsvFormat = layout.family
        self.rows = 0
        self.errors = errors
        self._file = file
        self._encoding = encoding
        self._layout = layout
        self._zone = zone
        self._step = step
        self._runs = runs
        # More values than intervals in a day: the day cannot be placed, and is not kept.
        self._day_intervals = _LONGEST_DAY // step
        # Supply points' days with a line that could not be read (see `rows.place`).
        self._unread: set[tuple[str, date]] = set()

    def months(self) -> Iterator[list[DistributorRow]]:
        """Yield the intervals (in UTC) of each supply point's month in turn, its days placed."""
        for _, keys in itertools.groupby(
            sorted(self._runs), key=lambda key: (key[0], key[1].year, key[1].month)
        ):
            labelled = [row for key in keys for row in self._day(*key)]
            rows, unplaced = place(labelled, self._zone, step=self._step, incomplete=self._unread)
            self.errors.extend(unplaced)
            self.rows += len(rows)
            yield rows

    def _day(self, point: str, day: date) -> list[LabelledRow]:
        """Read a supply point's day again from its runs of lines; name its bad lines."""
        kept: list[LabelledRow] = []
        counts: Counter[str] = Counter()
        runs = self._runs[point, day]
        for index in range(0, len(runs), 3):
            start, end, first = runs[index : index + 3]
            lines = _lines(self._file, start, end)
            for number, (_, _, content) in enumerate(lines, start=first):
                # A run holds lines the first reading indexed, and blank lines (never long ones).
                text = _decoded(content or b"", self._encoding)
                if not text.strip():
                    continue
                try:
                    row = _read_line(text, number, self._layout, self._zone)
                except ValueError as err:  # a LineProblem, or anything else: reported
                    self.errors.add(LineError.of(number, err))
                    self._unread.add((point, day))
                    continue
                counts[row.cups] += 1
                if counts[row.cups] <= self._day_intervals:
                    kept.append(row)
                else:
                    self.errors.add(not_placed(number, day))
        for cups, count in counts.items():
            if count > self._day_intervals:
                kept = self._refuse(kept, cups, day, count)
        return kept

    def _refuse(
        self, kept: list[LabelledRow], cups: str, day: date, count: int
    ) -> list[LabelledRow]:
        """Name a day with more values than it has intervals (as `place` names a day it refuses)."""
        own = [row for row in kept if row.cups == cups]
        problem = LineProblem("too_many_values", count=count, intervals=self._day_intervals)
        lines = shown_lines([row.line for row in own], more=True)
        self.errors.add(LineError.of(own[0].line, problem.of_day(cups, str(day), lines)))
        self.errors.extend(not_placed(row.line, day) for row in own[1:])
        return [row for row in kept if row.cups != cups]


def open_csv(file: BinaryIO, zone: ZoneInfo) -> CsvFile:
    """Read a distributor's export a first time: its format, and where each supply point's days are.

    ``file`` is opened for reading bytes and seekable; it is read again by `CsvFile.months`.
    Refuses (invalid) a file with no header of a known format.
    """
    encoding, start = _encoding(file)
    numbered = enumerate(_lines(file, start), start=1)
    layout = _header(numbered, encoding)
    errors = LineErrors()
    # (supply point, day) → runs of lines as (start, end, first line number), in file order.
    runs: dict[tuple[str, date], array[int]] = {}
    points: dict[str, str] = {}  # one string per supply point, however many lines name it
    # The run the last line read went to, while the next line may go on with it.
    last: array[int] | None = None
    quarter_hours = False
    for number, (begin, end, content) in numbered:
        if content is None:
            errors.add(LineError.of(number, LineProblem("line_too_long", max_bytes=MAX_LINE_BYTES)))
            last = None
            continue
        text = _decoded(content, encoding)
        if not text.strip():
            if last is not None:
                last[-2] = end
            continue
        try:
            cups, day, label = _when(_fields(text, layout), layout, zone)
        except ValueError as err:
            errors.add(LineError.of(number, err))
            last = None
            continue
        # Quarter hours when a line read whole ends one (`rows.step_of`, as lines come).
        if label % 60 and not quarter_hours:
            quarter_hours = _reads(text, number, layout, zone)
        point = supply_point(cups)
        key = (points.setdefault(point, point), day)
        day_runs = runs.setdefault(key, array("q"))
        if day_runs is last and day_runs[-2] == begin:
            day_runs[-2] = end
        else:
            day_runs.extend((begin, end, number))
            last = day_runs
    return CsvFile(
        file,
        layout=layout,
        encoding=encoding,
        zone=zone,
        step=QUARTER_HOUR if quarter_hours else HOUR,
        runs=runs,
        errors=errors,
    )


def _header(numbered: Iterator[tuple[int, tuple[int, int, bytes | None]]], encoding: str) -> Layout:
    """Return the layout of the first header line; refuse (invalid) a file with none.

    The lines before it (a title, a date range) are passed over; a line that names a CUPS
    column but does not fit is the header, and its error says which columns do not fit.
    """
    first: str | None = None
    looked = 0
    for number, (_, _, content) in numbered:
        if content is None:
            raise Refused(
                Kind.INVALID,
                f"line {number} is longer than {MAX_LINE_BYTES} bytes: "
                "not one of the distributors' exports",
            )
        text = _decoded(content, encoding)
        if not text.strip():
            continue
        try:
            return read_header(text)
        except HeaderError as err:
            if any(column_key(field)[0] == "cups" for field in split(text)):
                raise Refused(Kind.INVALID, f"line {number}: {err}") from None
        first = text.strip() if first is None else first
        looked += 1
        if looked == MAX_PREAMBLE_LINES:
            break
    if first is None:
        raise Refused(Kind.INVALID, "the file is empty")
    raise Refused(
        Kind.INVALID,
        f"no header among the first {looked} lines (the first is {first[:80]!r}): a "
        "distributor's export names its columns separated by ';' (CUPS;Fecha;Hora;…)",
    )


def _encoding(file: BinaryIO) -> tuple[str, int]:
    """Return a file's encoding and the offset of its text.

    UTF-8 (after its byte-order mark, if any) when every byte of the file is, else Windows-1252.
    """
    file.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := file.read(_CHUNK_BYTES):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252", 0
    file.seek(0)
    return "utf-8", len(codecs.BOM_UTF8) if file.read(3) == codecs.BOM_UTF8 else 0


def _lines(
    file: BinaryIO, start: int, end: int | None = None
) -> Iterator[tuple[int, int, bytes | None]]:
    """Yield each line of ``file[start:end]``: its offsets (ending included) and its content.

    Lines end with CRLF, LF or CR. The content of a line longer than MAX_LINE_BYTES is None:
    it is skipped, never held whole.
    """
    file.seek(start)
    position = start  # where ``pending`` starts
    pending = b""  # the start of a line whose end is not read yet
    long_line: int | None = None  # where a line too long to keep started
    while True:
        size = _CHUNK_BYTES if end is None else min(_CHUNK_BYTES, end - position - len(pending))
        chunk = file.read(size) if size > 0 else b""
        if not chunk:
            if long_line is not None:
                yield long_line, position + len(pending), None
            elif pending:
                yield position, position + len(pending), _content(pending)
            return
        pieces = (pending + chunk).splitlines(keepends=True)
        # The last piece may go on in the next chunk (no line end yet, or a CR before its LF).
        pending = b"" if pieces[-1].endswith(b"\n") else pieces.pop()
        for piece in pieces:
            if long_line is not None:
                yield long_line, position + len(piece), None
                long_line = None
            else:
                yield position, position + len(piece), _content(piece)
            position += len(piece)
        if len(pending) > MAX_LINE_BYTES:
            long_line = position if long_line is None else long_line
            # Only a CR is kept: it may be the first half of the line's CRLF.
            kept = pending[-1:] if pending.endswith(b"\r") else b""
            position += len(pending) - len(kept)
            pending = kept


def _content(piece: bytes) -> bytes | None:
    content = piece.rstrip(b"\r\n")
    return content if len(content) <= MAX_LINE_BYTES else None


def _decoded(content: bytes, encoding: str) -> str:
    return content.decode(encoding, errors="replace")


def _fields(line: str, layout: Layout) -> list[str]:
    """Return a line's fields; raise LineProblem when it has too few or too many."""
    fields = split(line)
    while len(fields) > layout.width and not fields[-1]:
        fields.pop()  # a trailing ";"
    if len(fields) != layout.width:
        raise LineProblem("wrong_field_count", expected=layout.width, got=len(fields))
    return fields


def _when(fields: list[str], layout: Layout, zone: ZoneInfo) -> tuple[str, date, int]:
    """Return a line's CUPS, day and label (minutes); raise LineProblem for a bad one."""
    cups = fields[layout.cups].replace(" ", "").upper()
    if not _CUPS.fullmatch(cups):
        raise LineProblem("not_a_cups", text=fields[layout.cups])
    if layout.hour is None:
        day_text, _, label_text = fields[layout.date].partition(" ")
    else:
        day_text, label_text = fields[layout.date], fields[layout.hour]
    day = parse_date(day_text)
    return cups, day, label_of(label_text, day, zone)


def _read_line(line: str, number: int, layout: Layout, zone: ZoneInfo) -> LabelledRow:
    fields = _fields(line, layout)
    cups, day, label = _when(fields, layout, zone)
    summer = _summer_flag(fields[layout.season]) if layout.season is not None else None
    kwh: dict[str, float] = {}
    for energy in layout.energies:
        value = parse_number(fields[energy.index])
        if value is not None:
            kwh[energy.quantity] = value / energy.scale
    if not kwh:
        raise LineProblem("no_energy")
    quality = parse_quality(fields[layout.quality]) if layout.quality is not None else MEASURED
    return LabelledRow(number, cups, day, label, summer, kwh, quality)


def _reads(line: str, number: int, layout: Layout, zone: ZoneInfo) -> bool:
    """Whether a whole line is read (it then counts for the file's interval length)."""
    try:
        _read_line(line, number, layout, zone)
    except ValueError:
        return False
    return True


def _summer_flag(text: str) -> bool:
    flags: Mapping[str, bool] = {"1": True, "ver": True, "0": False, "inv": False}
    try:
        return flags[text.strip().lower()]
    except KeyError:
        raise LineProblem("not_a_season", text=text) from None
