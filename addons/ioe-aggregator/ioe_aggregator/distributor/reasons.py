"""Why a distributor's line (or a row of an answer) is not read: a stable code and its parameters.

A reason is raised as a `LineProblem` (a ValueError) and reported as a `rows.LineError`; its
``code`` and ``params`` let a client say it in the reader's language (the control centre's Data
page does, in English and Spanish), and ``str()`` is the English sentence the command line, the
logs and the API's ``message`` give. Parameters are strings and integers: the text as the line
wrote it (``text``), a day as ``YYYY-MM-DD`` (``day``), a label as ``HH:MM`` (``label``).

A reason about a supply point's whole day (a label twice, more values than intervals) is told
on the day's first line with the grouping parameters ``cups``, ``day`` and ``lines`` (the day's
first line numbers, ", …" after the fifth) added to its own: ``{cups} on {day}: {reason} (lines
{lines})``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

type Params = Mapping[str, str | int]

# Each code's English sentence: `str.format` of its parameters.
ENGLISH: Mapping[str, str] = {
    "not_a_date": "{text!r} is not a date (expected dd/mm/yyyy or yyyy/mm/dd)",
    "not_a_calendar_day": "{text!r} is not a day of the calendar",
    "not_a_number": "{text!r} is not a number",
    "not_an_energy": "{text!r} is not an energy (a number of at least 0)",
    "not_a_quality": "{text!r} is not a way of obtaining a value (expected R/E or Real/Estimada)",
    "not_a_season": "{text!r} is not a season flag (expected 1 summer or 0 winter)",
    "not_a_cups": "{text!r} is not a CUPS",
    "wrong_field_count": "expected {expected} fields separated by ';', got {got}",
    "no_energy": "no energy value on the line",
    "line_too_long": "longer than {max_bytes} bytes",
    "not_an_hour": "{text!r} is not an hour (expected HH:MM or an hour number)",
    "not_a_time_of_day": "{text!r} is not a time of a day",
    "past_end_of_day": "{text!r} is past the end of {day}",
    "past_day_length": "{label} is past the end of {day} ({hours} hours)",
    "not_an_interval_end": "{label} on {day} does not end a {minutes}-minute interval",
    "not_on_the_clock": "{label} does not exist on the clock on {day}",
    "appears_twice": "{label} appears twice on {day}",
    "too_many_values": "{count} values for at most {intervals} intervals",
    "day_not_placed": "not read: its day {day} could not be placed",
    # Anything else a line raised while it was read: said as it was (not expected; not lost).
    "unreadable": "{detail}",
}
# The parameters that make a reason about a supply point's day (see the module's docstring).
GROUPING = ("cups", "day", "lines")


def english(code: str, params: Params) -> str:
    """Return a reason's English sentence (a whole day's wrapped as the module says)."""
    text = ENGLISH[code].format(**params)
    if "lines" in params:
        return f"{params['cups']} on {params['day']}: {text} (lines {params['lines']})"
    return text


def shown_lines(lines: Sequence[int], *, more: bool | None = None) -> str:
    """Return the first five of a day's line numbers, with ", …" when there are more."""
    more = len(lines) > 5 if more is None else more
    return ", ".join(str(line) for line in lines[:5]) + (", …" if more else "")


class LineProblem(ValueError):
    """A line cannot be read: ``code`` (one of `ENGLISH`) and ``params`` say why."""

    def __init__(self, code: str, **params: str | int) -> None:
        """Name the reason and its parameters; ``str()`` is its English sentence."""
        self.code = code
        self.params: dict[str, str | int] = params
        super().__init__(english(code, params))

    def of_day(self, cups: str, day: str, lines: str) -> LineProblem:
        """Return this reason told about a supply point's day (the grouping parameters added)."""
        return LineProblem(self.code, **{**self.params, "cups": cups, "day": day, "lines": lines})
