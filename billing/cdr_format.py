"""CDR lines as Asterisk writes them → :class:`CdrRecord`.

Two layouts, both CSV with every field double-quoted and embedded quotes
doubled (cdr_csv's own quoting, and the dialplan function ``CSV_QUOTE``):

``master`` — cdr_csv's ``Master.csv`` with ``loguniqueid=yes``,
``loguserfield=yes`` and ``newcdrcolumns=yes`` (21 fields; the 18-field form
written without ``newcdrcolumns`` is accepted too)::

    accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp,
    lastdata, start, answer, end, duration, billsec, disposition, amaflags,
    uniqueid, userfield[, peeraccount, linkedid, sequence]

``clickphone`` — the project's cdr_custom mapping ``clickphone.csv`` (20)::

    systemname, uniqueid, linkedid, accountcode, src, dst, dcontext, clid,
    channel, dstchannel, lastapp, start, answer, end, duration, billsec,
    disposition, userfield, cp_dialled, cp_class

``fmt="auto"`` picks the layout from the field count (18/21 → master,
20 → clickphone). Times are ``YYYY-MM-DD HH:MM:SS`` (optionally with
fractional seconds) in the server's local time: read as UTC unless a
``tz`` is given, and always returned as aware UTC datetimes. An empty
``answer`` means the call was not answered.

Lines are parsed one at a time, so a broken line (bad quoting, wrong field
count, bad number) is reported with its line number and reason and the next
line is read normally. A quoted field containing a newline (Asterisk does not
escape them) therefore shows up as two bad lines — reported, not lost.

Bounds (what a line from outside may be; anything else is a parse error, so
the line is quarantined, never charged):

* a line is at most :data:`MAX_LINE_BYTES` (8 KiB) — Asterisk's own CDR
  fields are fixed buffers, a real line is well under 1 KiB. A longer line
  is never held whole: :func:`read_cdr_line` keeps its first
  :data:`RAW_PREFIX_CHARS` and the SHA-256 of all of it (:class:`OverlongLine`);
* it is UTF-8 (a Latin-1 caller name is refused, not guessed at) and has no
  control characters (NUL, ESC, …; a tab is allowed);
* each field is at most its :data:`FIELD_MAX_CHARS` — Asterisk's buffer
  sizes: uniqueid and linkedid 150 (``AST_MAX_UNIQUEID``), accountcode and
  peeraccount 80 (``AST_MAX_ACCOUNT_CODE``), userfield 256
  (``AST_MAX_USER_FIELD``), the others 80 (``AST_MAX_EXTENSION``); the
  system name 64; times 32 (then checked against the format above);
* ``duration`` and ``billsec`` are ASCII digits, at most
  :data:`MAX_CALL_SECONDS` (31 days); ``sequence`` at most 2³¹−1.

What the quarantine keeps of a bad line is :func:`quarantined_text`: at most
:data:`RAW_PREFIX_CHARS` characters, with the SHA-256 and length of the
whole line so it can still be found in the file.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import BinaryIO, NamedTuple

MASTER = "master"
CLICKPHONE = "clickphone"
AUTO = "auto"

MASTER_COLUMNS: tuple[str, ...] = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
    "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
    "disposition", "amaflags", "uniqueid", "userfield", "peeraccount",
    "linkedid", "sequence",
)  # fmt: skip
"""Master.csv columns with loguniqueid, loguserfield and newcdrcolumns."""

CLICKPHONE_COLUMNS: tuple[str, ...] = (
    "systemname", "uniqueid", "linkedid", "accountcode", "src", "dst",
    "dcontext", "clid", "channel", "dstchannel", "lastapp", "start", "answer",
    "end", "duration", "billsec", "disposition", "userfield", "cp_dialled",
    "cp_class",
)  # fmt: skip
"""The project's cdr_custom ``clickphone.csv`` columns."""

# Field count -> (format, columns): the table "auto" uses.
LAYOUTS: dict[int, tuple[str, tuple[str, ...]]] = {
    21: (MASTER, MASTER_COLUMNS),
    18: (MASTER, MASTER_COLUMNS[:18]),
    20: (CLICKPHONE, CLICKPHONE_COLUMNS),
}

MAX_LINE_BYTES = 8 * 1024
"""A longer CDR line is quarantined (and never read whole into memory)."""

RAW_PREFIX_CHARS = 1024
"""What the quarantine keeps of a bad line's text (with the whole line's SHA-256)."""

MAX_CALL_SECONDS = 31 * 86_400
"""The longest ``duration`` / ``billsec`` accepted: a month."""

MAX_SEQUENCE = 2**31 - 1

_EXTENSION = 80  # Asterisk's AST_MAX_EXTENSION: src, dst, clid, channel, lastapp…
FIELD_MAX_CHARS: dict[str, int] = {
    **{name: _EXTENSION for name in MASTER_COLUMNS + CLICKPHONE_COLUMNS},
    "uniqueid": 150, "linkedid": 150,  # AST_MAX_UNIQUEID
    "userfield": 256,  # AST_MAX_USER_FIELD
    "systemname": 64,
    "start": 32, "answer": 32, "end": 32,
    "duration": 10, "billsec": 10, "sequence": 10,
    "disposition": 16, "amaflags": 16, "cp_class": 16,
}  # fmt: skip
"""The longest value of each field, in characters."""

# C0 controls but tab, and DEL: never in a CDR Asterisk writes (a NUL cuts C strings)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

ANSWERED = "ANSWERED"
DISPOSITIONS = frozenset({ANSWERED, "NO ANSWER", "BUSY", "FAILED", "CONGESTION"})
"""Dispositions Asterisk writes; anything else is a parse error (quarantined)."""


class CdrParseError(ValueError):
    """A CDR line could not be parsed; ``reason`` says why.

    :func:`parse_cdr_stream` also sets ``line_number`` and ``raw`` (the
    line's :func:`quarantined_text`: its bounded text, SHA-256 and length)
    so the line can be quarantined and found again.
    """

    def __init__(self, reason: str, line_number: int | None = None, raw: LineText | None = None):
        self.reason = reason
        self.line_number = line_number
        self.raw = raw
        super().__init__(reason)


class OverlongLine(NamedTuple):
    """A line longer than :data:`MAX_LINE_BYTES`, as :func:`read_cdr_line` keeps it."""

    prefix: bytes  # its first bytes, enough for RAW_PREFIX_CHARS characters
    length: int  # bytes, its newline included
    sha256: str  # of all its bytes, its newline included
    complete: bool  # False: the file ended before its newline


class LineText(NamedTuple):
    """What the quarantine keeps of a line: at most :data:`RAW_PREFIX_CHARS`
    characters of it, and the SHA-256 and byte length of the whole line."""

    text: str
    sha256: str
    length: int


CdrLine = str | bytes | OverlongLine
"""A line as read: text, bytes, or what is kept of an overlong one."""


def read_cdr_line(fh: BinaryIO, limit: int = MAX_LINE_BYTES) -> bytes | OverlongLine:
    """Read the next line of ``fh``: its bytes (``b""`` at the end, no newline
    if the file ends first), or an :class:`OverlongLine` when it is longer than
    ``limit`` — the rest of such a line is read in chunks and hashed, never
    held in memory whole."""
    line = fh.readline(limit + 1)
    if len(line) <= limit or line.endswith(b"\n"):
        return line
    hasher = hashlib.sha256(line)
    length = len(line)
    chunk = line
    while chunk and not chunk.endswith(b"\n"):
        chunk = fh.readline(64 * 1024)
        hasher.update(chunk)
        length += len(chunk)
    return OverlongLine(line[: RAW_PREFIX_CHARS * 4], length, hasher.hexdigest(), chunk.endswith(b"\n"))


def read_cdr_lines(fh: BinaryIO) -> Iterator[bytes | OverlongLine]:
    """Yield every line of ``fh`` with :func:`read_cdr_line` (bounded memory)."""
    while line := read_cdr_line(fh):
        yield line


def line_length(line: bytes | OverlongLine) -> int:
    """Return how many bytes of the file ``line`` (from :func:`read_cdr_line`) took."""
    return line.length if isinstance(line, OverlongLine) else len(line)


def line_complete(line: bytes | OverlongLine) -> bool:
    """True when ``line`` (from :func:`read_cdr_line`) ended with its newline."""
    return line.complete if isinstance(line, OverlongLine) else line.endswith(b"\n")


def quarantined_text(line: CdrLine) -> LineText:
    """Return what the quarantine keeps of ``line``: its text without the
    newline, cut to :data:`RAW_PREFIX_CHARS`, bytes that are not UTF-8 and
    control characters shown as ``\\xNN`` (a database refuses a NUL); and
    the SHA-256 and length in bytes of the whole line as it was in the file,
    its newline included (``sed -n NUMp FILE | sha256sum``)."""
    if isinstance(line, OverlongLine):
        return LineText(_shown(line.prefix)[:RAW_PREFIX_CHARS], line.sha256, line.length)
    data = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    return LineText(
        _shown(data.rstrip(b"\r\n"))[:RAW_PREFIX_CHARS], hashlib.sha256(data).hexdigest(), len(data)
    )


def _shown(data: bytes) -> str:
    text = data.decode("utf-8", errors="backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _text_of(line: CdrLine) -> str:
    """The line as text; raise :class:`CdrParseError` when it is too long or not UTF-8."""
    if isinstance(line, OverlongLine):
        raise CdrParseError(f"line is {line.length} bytes, more than the {MAX_LINE_BYTES} allowed")
    size = len(line) if isinstance(line, bytes) else len(line.encode("utf-8", "surrogatepass"))
    if size > MAX_LINE_BYTES + 1:  # + its newline
        raise CdrParseError(f"line is {size} bytes, more than the {MAX_LINE_BYTES} allowed")
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CdrParseError(f"not UTF-8: byte 0x{line[exc.start]:02x} at column {exc.start + 1}") from None


@dataclass(frozen=True, slots=True)
class CdrRecord:
    """One CDR, as plain data. Fields absent from a layout are '' (or None)."""

    source_format: str
    uniqueid: str
    accountcode: str
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    start: datetime
    answer: datetime | None
    end: datetime
    duration: int
    billsec: int
    disposition: str
    userfield: str = ""
    lastdata: str = ""
    amaflags: str = ""
    peeraccount: str = ""
    linkedid: str = ""
    sequence: int | None = None
    systemname: str = ""
    cp_dialled: str = ""
    cp_class: str = ""

    @property
    def answered(self) -> bool:
        """True when the disposition is ANSWERED."""
        return self.disposition == ANSWERED

    @property
    def dialled(self) -> str:
        """The number the subscriber dialled: ``cp_dialled`` when recorded, else ``dst``."""
        return self.cp_dialled or self.dst


def parse_cdr_time(text: str, tz: tzinfo | None = None) -> datetime:
    """Parse ``YYYY-MM-DD HH:MM:SS[.ffffff]`` as local time in ``tz`` (default UTC); return aware UTC."""
    if not (
        len(text) >= 19
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == " "
        and text[13] == ":"
        and text[16] == ":"
        and (len(text) == 19 or (text[19] == "." and 21 <= len(text) <= 26 and text[20:].isdigit()))
    ):
        raise ValueError(f"not YYYY-MM-DD HH:MM:SS: {text!r}")
    if tz is None:
        # Parsing with the offset yields the timezone.utc singleton, several
        # times faster than .replace(tzinfo=...) on the parsed value.
        return datetime.fromisoformat(text + "+00:00")
    return datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(timezone.utc)


def _count(fields: dict[str, str], name: str, maximum: int = MAX_CALL_SECONDS) -> int:
    text = fields[name]
    if not (text.isdigit() and text.isascii()):
        raise CdrParseError(f"{name} must be a whole number of seconds, got {text!r}")
    value = int(text)  # at most FIELD_MAX_CHARS digits: checked first
    if value > maximum:
        raise CdrParseError(f"{name} {value} is more than the {maximum} allowed")
    return value


def _check_lengths(values: list[str], columns: tuple[str, ...]) -> None:
    for name, value in zip(columns, values):
        if len(value) > FIELD_MAX_CHARS[name]:
            raise CdrParseError(
                f"{name} is {len(value)} characters, more than the {FIELD_MAX_CHARS[name]} allowed"
            )


def _time(fields: dict[str, str], name: str, tz: tzinfo | None) -> datetime:
    try:
        return parse_cdr_time(fields[name], tz)
    except ValueError:
        raise CdrParseError(f"{name} is not a YYYY-MM-DD HH:MM:SS time: {fields[name]!r}") from None


def cdr_from_fields(values: list[str], fmt: str = AUTO, tz: tzinfo | None = None) -> CdrRecord:
    """Return the :class:`CdrRecord` for one line's already-split ``values``."""
    layout = LAYOUTS.get(len(values))
    if layout is None or (fmt != AUTO and layout[0] != fmt):
        wanted = [str(n) for n in sorted(n for n, (f, _) in LAYOUTS.items() if fmt in (AUTO, f))]
        counts = wanted[0] if len(wanted) == 1 else ", ".join(wanted[:-1]) + " or " + wanted[-1]
        raise CdrParseError(
            f"expected {counts} fields"
            f"{'' if fmt == AUTO else ' for ' + fmt}, got {len(values)}"
        )
    source_format, columns = layout
    _check_lengths(values, columns)  # first: the reasons below quote bounded values
    f = dict(zip(columns, values))
    uniqueid = f["uniqueid"].strip()
    if not uniqueid:
        raise CdrParseError("uniqueid is empty")
    disposition = f["disposition"]
    if disposition not in DISPOSITIONS:
        raise CdrParseError(f"unknown disposition {disposition!r}")
    duration, billsec = _count(f, "duration"), _count(f, "billsec")
    if billsec > duration:
        raise CdrParseError(f"billsec {billsec} exceeds duration {duration}")
    start, end = _time(f, "start", tz), _time(f, "end", tz)
    answer = _time(f, "answer", tz) if f["answer"] else None
    if end < start:
        raise CdrParseError("end is before start")
    if disposition == ANSWERED and billsec > 0 and answer is None:
        raise CdrParseError("answered with billsec > 0 but no answer time")
    sequence = None
    if f.get("sequence"):
        sequence = _count(f, "sequence", MAX_SEQUENCE)
    return CdrRecord(
        source_format=source_format,
        uniqueid=uniqueid,
        accountcode=f["accountcode"],
        src=f["src"],
        dst=f["dst"],
        dcontext=f["dcontext"],
        clid=f["clid"],
        channel=f["channel"],
        dstchannel=f["dstchannel"],
        lastapp=f["lastapp"],
        start=start,
        answer=answer,
        end=end,
        duration=duration,
        billsec=billsec,
        disposition=disposition,
        userfield=f["userfield"],
        lastdata=f.get("lastdata", ""),
        amaflags=f.get("amaflags", ""),
        peeraccount=f.get("peeraccount", ""),
        linkedid=f.get("linkedid", ""),
        sequence=sequence,
        systemname=f.get("systemname", ""),
        cp_dialled=f.get("cp_dialled", ""),
        cp_class=f.get("cp_class", ""),
    )


def split_cdr_line(line: str) -> list[str]:
    """Return the fields of one CSV line; raise :class:`CdrParseError` on broken
    quoting or a control character (NUL, ESC, …; a tab is allowed)."""
    line = line.rstrip("\r\n")
    control = _CONTROL.search(line)
    if control is not None:
        raise CdrParseError(f"control character {control.group()!r} at column {control.start() + 1}")
    try:
        return next(csv.reader((line,), strict=True))
    except csv.Error as exc:
        raise CdrParseError(f"malformed CSV: {exc}") from None
    except StopIteration:
        raise CdrParseError("empty line") from None


def parse_cdr_line(line: str, fmt: str = AUTO, tz: tzinfo | None = None) -> CdrRecord:
    """Return the :class:`CdrRecord` of one CDR line; raise :class:`CdrParseError` with the reason."""
    return cdr_from_fields(split_cdr_line(line), fmt, tz)


def parse_cdr_stream(
    lines: Iterable[CdrLine], fmt: str = AUTO, tz: tzinfo | None = None
) -> Iterator[tuple[int, CdrRecord | CdrParseError]]:
    """Yield ``(line_number, record or error)`` for each non-blank line, lazily.

    A bad line yields a :class:`CdrParseError` (with ``line_number`` and
    ``raw``, the line's :func:`quarantined_text`) and parsing goes on. Bytes
    must be UTF-8 and a line at most :data:`MAX_LINE_BYTES`; read files with
    :func:`read_cdr_lines`, which never holds an overlong line whole.
    """
    for number, line in enumerate(lines, 1):
        try:
            text = _text_of(line)
            if not text.strip():
                continue
            yield number, parse_cdr_line(text, fmt, tz)
        except CdrParseError as exc:
            exc.line_number = number
            exc.raw = quarantined_text(line)
            yield number, exc
