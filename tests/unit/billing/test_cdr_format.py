"""CDR lines from Asterisk: Master.csv (cdr_csv) and clickphone.csv (cdr_custom)."""

import hashlib
import io
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from billing.cdr_format import (
    CLICKPHONE_COLUMNS,
    MASTER_COLUMNS,
    MAX_LINE_BYTES,
    RAW_PREFIX_CHARS,
    CdrParseError,
    CdrRecord,
    OverlongLine,
    parse_cdr_line,
    parse_cdr_stream,
    read_cdr_line,
    read_cdr_lines,
)
from tests.unit.billing.cdr_samples import CLICKPHONE, MASTER_18, MASTER_21, master_values, quoted


def test_master_csv_with_new_cdr_columns_parses_every_field():
    """Master.csv with loguniqueid, loguserfield and newcdrcolumns: 21 fields."""
    r = parse_cdr_line(MASTER_21)
    assert (r.source_format, r.accountcode, r.dst, r.uniqueid) == ("master", "acct-7", "0212345678", "1754042400.1")
    assert (r.duration, r.billsec, r.disposition, r.answered) == (66, 61, "ANSWERED", True)
    assert (r.userfield, r.linkedid, r.sequence, r.amaflags) == ("vip", "1754042400.1", 3, "DOCUMENTATION")
    assert r.start == datetime(2025, 8, 1, 10, 0, tzinfo=timezone.utc)


def test_embedded_quotes_and_commas_survive_parsing():
    """Asterisk doubles embedded quotes; commas inside quotes are not separators."""
    r = parse_cdr_line(MASTER_21)
    assert r.clid == '"Ion Popescu" <1001>'
    assert r.lastdata == "PJSIP/0212345678@trunk,60,L(3600000)"


def test_master_csv_without_new_cdr_columns_parses():
    """The 18-field form (no peeraccount, linkedid, sequence) is accepted."""
    r = parse_cdr_line(MASTER_18)
    assert (r.source_format, r.uniqueid, r.linkedid, r.sequence) == ("master", "1754046000.5", "", None)


def test_an_unanswered_call_has_no_answer_time():
    """cdr_csv writes an empty answer field when the call was not answered."""
    r = parse_cdr_line(MASTER_18)
    assert (r.answer, r.answered) == (None, False)


def test_clickphone_custom_csv_parses_every_field():
    """cdr_custom clickphone.csv: 20 fields, with the dialled number and class recorded."""
    r = parse_cdr_line(CLICKPHONE)
    assert (r.source_format, r.systemname, r.uniqueid) == ("clickphone", "pbx1", "pbx1-1754042400.9")
    assert (r.cp_dialled, r.cp_class, r.dialled, r.dst) == ("0212345678", "ro_fixed", "0212345678", "+40212345678")
    assert r.clid == '"Ion, the boss" <1001>'
    assert r.billsec == 120


def test_dialled_falls_back_to_dst():
    """Master.csv has no cp_dialled: the dialled number is dst."""
    assert parse_cdr_line(MASTER_21).dialled == "0212345678"


def test_times_are_utc_unless_a_timezone_is_given():
    """CDR times are the server's local time; read as UTC unless a tz is given."""
    r = parse_cdr_line(MASTER_21, tz=ZoneInfo("Europe/Bucharest"))
    assert r.start == datetime(2025, 8, 1, 7, 0, tzinfo=timezone.utc)


def test_fractional_seconds_are_accepted():
    """CDR(start) can carry microseconds; they are kept."""
    r = parse_cdr_line(quoted(master_values(start="2025-08-01 10:00:00.250000")))
    assert r.start == datetime(2025, 8, 1, 10, 0, 0, 250000, tzinfo=timezone.utc)


def test_the_format_can_be_forced():
    """fmt='clickphone' refuses a Master.csv line."""
    with pytest.raises(CdrParseError, match="expected 20 fields for clickphone, got 21"):
        parse_cdr_line(MASTER_21, fmt="clickphone")


@pytest.mark.parametrize(
    "line, reason",
    [
        ('"a","b"\n', "expected 18, 20 or 21 fields, got 2"),
        ('"acct","1001","0212","x","a"b","c"\n', "malformed CSV"),
        ('"acct","1001,"0212\n', "malformed CSV"),
        (quoted(master_values(uniqueid="")), "uniqueid is empty"),
        (quoted(master_values(billsec="-1")), "billsec must be a whole number"),
        (quoted(master_values(duration="1.5")), "duration must be a whole number"),
        (quoted(master_values(billsec="70")), "billsec 70 exceeds duration 66"),
        (quoted(master_values(disposition="MAYBE")), "unknown disposition"),
        (quoted(master_values(start="01/08/2025 10:00")), "start is not a YYYY-MM-DD HH:MM:SS"),
        (quoted(master_values(start="2025-08-01T10:00:00")), "start is not"),
        (quoted(master_values(start="2025-08-01 10:00:00.5+02:00")), "start is not"),
        (quoted(master_values(end="2025-08-01 09:00:00")), "end is before start"),
        (quoted(master_values(answer="")), "no answer time"),
        (quoted(master_values(sequence="x")), "sequence must be"),
    ],
)
def test_malformed_lines_raise_with_a_reason(line, reason):
    """A bad line raises CdrParseError naming what is wrong."""
    with pytest.raises(CdrParseError) as err:
        parse_cdr_line(line)
    assert reason in err.value.reason


def test_a_bad_line_in_a_stream_is_reported_with_its_line_number_and_the_rest_parsed():
    """Invariant 4: a bad line is reported with its reason, never fatal for the rest."""
    results = list(parse_cdr_stream([MASTER_21, "garbage\n", "\n", CLICKPHONE, MASTER_18]))
    assert [n for n, _ in results] == [1, 2, 4, 5]
    assert [type(x) for _, x in results] == [CdrRecord, CdrParseError, CdrRecord, CdrRecord]
    error = results[1][1]
    assert (error.line_number, error.raw.text) == (2, "garbage")


def test_an_unterminated_quote_does_not_swallow_the_next_lines():
    """Lines are parsed one by one: broken quoting spoils only its own line."""
    results = list(parse_cdr_stream(['"acct","unterminated\n', MASTER_21]))
    assert isinstance(results[0][1], CdrParseError)
    assert isinstance(results[1][1], CdrRecord)


@pytest.mark.parametrize(
    "line, reason",
    [
        (MASTER_21.replace("Ion Popescu", "Ion Popéscu").encode("latin-1"), "not UTF-8: byte 0xe9"),
        (MASTER_21.replace("Ion Popescu", "Ion\x00Popescu").encode(), "control character '\\x00'"),
        (quoted(master_values(uniqueid="1" * 5014)).encode(), "uniqueid is 5014 characters, more than the 150"),
        (quoted(master_values(accountcode="a" * 81)).encode(), "accountcode is 81 characters"),
        (quoted(master_values(duration="9" * 10, billsec="9" * 10)).encode(), "duration 9999999999 is more than"),
        (quoted(master_values(sequence="9" * 10)).encode(), "sequence 9999999999 is more than"),
        # past Python's 4,300-digit int() limit: a ValueError that ended the whole run
        (quoted(master_values(billsec="9" * 5000)).encode(), "billsec is 5000 characters"),
        (quoted(master_values(clid="x" * 9000)).encode(), "line is 9"),
    ],
)
def test_a_line_past_a_bound_or_not_utf8_is_an_error_not_a_cdr(line, reason):
    """Issue 10, defect 10: a NUL byte, Latin-1 text, an overlong field or line
    is quarantined (invariant 4: never charged), with the bound it broke."""
    ((_, error),) = parse_cdr_stream([line])
    assert isinstance(error, CdrParseError)
    assert reason in error.reason
    assert error.raw.sha256 == hashlib.sha256(line).hexdigest()
    assert error.raw.length == len(line)
    assert len(error.raw.text) <= RAW_PREFIX_CHARS


def test_a_line_that_is_not_utf8_keeps_its_bytes_visible():
    """The quarantine shows the bytes that are not UTF-8 as \\xNN, not as U+FFFD."""
    line = MASTER_21.replace("Ion Popescu", "Ion Popéscu").encode("latin-1")
    ((_, error),) = parse_cdr_stream([line])
    assert "Ion Pop\\xe9scu" in error.raw.text


def test_an_overlong_line_is_read_in_chunks_and_kept_as_prefix_and_hash():
    """Issue 10, defect 10: a 2 MiB line is never held whole; what is kept of
    it is its first characters, its length and the SHA-256 of all of it."""
    huge = b'"' + b"x" * (2 * 1024 * 1024) + b'"\n'
    data = huge + MASTER_21.encode()
    fh = io.BytesIO(data)
    first, second = read_cdr_line(fh), read_cdr_line(fh)
    assert isinstance(first, OverlongLine)
    assert len(first.prefix) <= 4 * RAW_PREFIX_CHARS  # not the line
    assert (first.length, first.sha256, first.complete) == (len(huge), hashlib.sha256(huge).hexdigest(), True)
    assert second == MASTER_21.encode()  # the next line is read normally

    ((_, error), (_, record)) = parse_cdr_stream(read_cdr_lines(io.BytesIO(data)))
    assert f"line is {len(huge)} bytes" in error.reason
    assert error.raw.text == huge.decode()[:RAW_PREFIX_CHARS]
    assert isinstance(record, CdrRecord)


def test_an_overlong_line_cut_off_by_the_end_of_the_file_says_so():
    """The tailer leaves a line without its newline for the next poll: it must know."""
    line = read_cdr_line(io.BytesIO(b"y" * (MAX_LINE_BYTES + 10)))
    assert isinstance(line, OverlongLine) and not line.complete


def test_a_line_of_the_longest_allowed_fields_is_a_cdr():
    """The bounds are Asterisk's own buffer sizes: a line Asterisk can write passes."""
    values = master_values(uniqueid="u" * 150, linkedid="l" * 150, accountcode="a" * 80,
                           clid="c" * 80, userfield="f" * 256)
    assert isinstance(parse_cdr_line(quoted(values)), CdrRecord)


def test_the_stream_is_lazy():
    """Lines are read as needed, so a large file is never loaded whole."""
    def lines():
        yield MASTER_21
        raise AssertionError("read too far")

    stream = parse_cdr_stream(lines())
    assert next(stream)[0] == 1


def test_column_lists_match_the_configured_layouts():
    """Master.csv: 21 columns ending peeraccount, linkedid, sequence; clickphone.csv: 20."""
    assert len(MASTER_COLUMNS) == 21 and MASTER_COLUMNS[-3:] == ("peeraccount", "linkedid", "sequence")
    assert len(CLICKPHONE_COLUMNS) == 20 and CLICKPHONE_COLUMNS[-2:] == ("cp_dialled", "cp_class")
