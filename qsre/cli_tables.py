"""Tables that fit the terminal: columns are chosen by width, never squeezed.

Rich fits a too-wide table by folding cells, which breaks headers and ids mid-word
(``queue_ov…``, ``submitt/ed``). Here each column has a priority instead: the
columns that fit in the terminal's width are shown whole, in their natural order,
and the caption names the hidden ones (``--wide`` shows every column, ``--json``
every field).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table

# Rich's default box: one border column plus, per column, one space of padding on
# each side and one separator.
_BORDER = 1
_PER_COLUMN = 3
# In free-text columns, longer words are folded rather than widening the column.
_LONGEST_UNBROKEN_WORD = 16


@dataclass(frozen=True)
class Column:
    """One table column; lower ``priority`` is kept first when the terminal is narrow."""

    header: str
    priority: int
    justify: Literal["left", "right", "center"] = "left"
    # Free text (comments, errors) may wrap between words: it needs only its longest
    # word, not its whole length, to fit.
    wraps: bool = False


def _natural_width(column: Column, index: int, rows: Sequence[Sequence[str]]) -> int:
    cell_lines = [line for row in rows for line in row[index].splitlines() or [""]]
    if column.wraps:
        # A URL or JSON blob in an error may be folded; it must not hide the column.
        words = (min(len(w), _LONGEST_UNBROKEN_WORD) for ln in cell_lines for w in ln.split())
        return max([len(column.header), *words])
    return max([len(column.header), *(len(line) for line in cell_lines)])


def fitting_columns(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int, *, wide: bool
) -> list[int]:
    """Indexes of the columns to show, in table order: all with ``wide``, else those that
    fit ``width`` by priority (the highest-priority column is always shown)."""
    if wide:
        return list(range(len(columns)))
    widths = [_natural_width(c, i, rows) for i, c in enumerate(columns)]
    chosen: list[int] = []
    used = _BORDER
    for i in sorted(range(len(columns)), key=lambda i: columns[i].priority):
        need = widths[i] + _PER_COLUMN
        if chosen and used + need > width:
            continue
        chosen.append(i)
        used += need
    return sorted(chosen)


def fit_table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    width: int,
    wide: bool = False,
    caption: str | None = None,
) -> Table:
    """A rich Table of ``rows`` (plain strings) showing the columns that fit ``width``."""
    keep = fitting_columns(columns, rows, width, wide=wide)
    hidden = [c.header for i, c in enumerate(columns) if i not in keep]
    notes = [caption] if caption else []
    if hidden:
        notes.append(f"hidden at this width: {', '.join(hidden)} (--wide shows them)")
    table = Table(title=title, caption="; ".join(notes) or None, caption_justify="left")
    for i in keep:
        column = columns[i]
        # min_width = the header: a header is never broken mid-word.
        table.add_column(
            column.header,
            justify=column.justify,
            min_width=len(column.header),
            overflow="fold",
            no_wrap=not column.wraps,
        )
    for row in rows:
        table.add_row(*(escape(row[i]) for i in keep))
    return table


def short_job_ids(ids: Sequence[str]) -> list[str]:
    """Each qsre id as ``collector.ids.short_job_id`` (process.counter), with the
    process part lengthened only if two listed ids would look alike; `qsre jobs show`
    takes the result."""
    from collector.ids import short_job_id

    for chars in (8, 13, 18, 24):
        short = [short_job_id(i, chars) for i in ids]
        if len(set(short)) == len(set(ids)):
            return short
    return list(ids)


def print_table(console: Console, table: RenderableType, *, wide: bool) -> None:
    """Print ``table``; with ``wide`` at its natural width even past the terminal's edge
    (the user asked for every column whole, so nothing is folded to fit)."""
    if wide:
        # Console.print caps width= at the console's own width: a wider console is
        # the only way to let the table take its natural width.
        unbounded = Console(width=10_000, file=console.file, no_color=console.no_color)
        unbounded.print(table)
    else:
        console.print(table)
