"""Numbering plan: canonical form and destination classes of dialled strings."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing._datafile import DataFileError
from billing.numbering import (
    INVALID,
    NUMBER_CLASSES,
    Classification,
    InvalidNumber,
    PrefixTable,
    classify,
    default_numbering_plan,
    normalise,
    read_country_codes,
    read_plan_entries,
)

OUR_DIDS = frozenset({"40312345678"})


@pytest.mark.parametrize(
    "dialled",
    [
        "+40212345678",
        "+40 21 234 5678",
        "0040212345678",
        "0040 21 234 56 78",
        "0212345678",
        "021-234-5678",
        "021.234.5678",
        "(021) 234 5678",
        "+40 (0)21 234 5678",
        " 0212345678 ",
        "40212345678",
    ],
)
def test_every_way_of_writing_a_bucharest_number_normalises_to_e164_digits(dialled):
    """+40…, 0040…, national 0…, separators: one canonical form, E.164 without '+'."""
    assert normalise(dialled) == "40212345678"


@pytest.mark.parametrize("dialled", ["112", "116111", "1234", "118932"])
def test_short_codes_are_kept_as_dialled(dialled):
    """Short codes have no E.164 form: the canonical form is the code itself."""
    assert normalise(dialled) == dialled


@pytest.mark.parametrize(
    "dialled, number_class",
    [
        ("0212345678", "ro_fixed"),
        ("0264123456", "ro_fixed"),
        ("0312345678", "ro_fixed"),
        ("0372123456", "ro_fixed"),
        ("0721234567", "ro_mobile"),
        ("+40 755 123 456", "ro_mobile"),
        ("0800123456", "toll_free"),
        ("0801123456", "shared_cost"),
        ("0900123456", "premium"),
        ("0906123456", "premium"),
        ("112", "emergency"),
        ("116111", "social"),
        ("116000", "social"),
        ("1234", "short_code"),
        ("118932", "short_code"),
        ("+4930123456", "international"),
        ("00441234567890", "international"),
    ],
)
def test_classes_follow_the_romanian_numbering_plan(dialled, number_class):
    """02x/03x fixed, 07x mobile, 0800 Tel Verde, 0801 shared cost, 090x premium,
    112 emergency, 116xxx social, other 1xxx short codes, 00+CC international."""
    assert classify(dialled).number_class == number_class


def test_a_number_among_our_own_dids_is_on_net():
    """Annex B: calls to the ClickPhone network (our own subscribers) are on-net."""
    c = classify("0312345678", on_net=OUR_DIDS)
    assert (c.number_class, c.normalised, c.country) == ("on_net", "40312345678", "RO")


def test_on_net_accepts_a_predicate_instead_of_a_set():
    """The classifier takes the operator's DIDs as a set or as a predicate."""
    c = classify("0312345678", on_net=lambda number: number.startswith("40312"))
    assert c.number_class == "on_net"


def test_a_number_not_among_our_dids_keeps_its_network_class():
    """Only the operator's own DIDs are on-net; other 03x numbers are fixed."""
    assert classify("0312345679", on_net=OUR_DIDS).number_class == "ro_fixed"


def test_international_numbers_report_the_longest_matching_country_code():
    """00 + country code, longest prefix over the country-code table: 1242 beats 1."""
    bahamas = classify("+1 242 555 1234")
    usa = classify("+1 202 555 0123")
    kazakhstan = classify("+7 701 123 4567")
    assert (bahamas.prefix, bahamas.country) == ("1242", "BS")
    assert (usa.prefix, usa.country) == ("1", "US")
    assert (kazakhstan.prefix, kazakhstan.country) == ("77", "KZ")


def test_classification_reports_the_matched_national_prefix_in_canonical_form():
    """The result names the table prefix it matched, as a prefix of the normalised number."""
    c = classify("0800123456")
    assert c.prefix == "40800" and c.normalised.startswith(c.prefix)


@pytest.mark.parametrize(
    "dialled, reason_part",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "not a digit"),
        ("*123#", "not a digit"),
        ("+", "no digits"),
        ("++40212345678", "only allowed at the start"),
        ("021234", "9 digits after the trunk 0 expected, got 5"),
        ("02123456789", "9 digits after the trunk 0 expected, got 10"),
        ("0812345678", "not in the Romanian numbering plan"),
        ("0112345678", "not in the Romanian numbering plan"),
        ("+999123456", "unknown country code"),
        ("1120", "3 digits expected, got 4"),
        ("55512", "not a 1xx short code"),
        ("+12345678901234567", "at most 15"),
        ("0040", "too short"),
        ("٣١٢٣٤٥٦٧٨", "not a digit"),
    ],
)
def test_invalid_numbers_are_classified_invalid_with_a_reason(dialled, reason_part):
    """Anything that is not a number of the plan is `invalid`, and says why."""
    c = classify(dialled)
    assert c.number_class == INVALID
    assert reason_part in c.reason


def test_normalise_raises_invalid_number_with_the_reason():
    """normalise() refuses a string that is not a number, naming the reason."""
    with pytest.raises(InvalidNumber) as err:
        normalise("12ab")
    assert "not a digit" in err.value.reason


def test_valid_classifications_have_an_empty_reason():
    """`reason` is only set for invalid numbers."""
    assert classify("0721234567").reason == ""


def test_prefix_table_picks_the_longest_prefix():
    """Longest-prefix match: the most specific row wins."""
    table = PrefixTable({"4": "a", "49": "b", "4917": "c"})
    assert table.match("4917000") == "c"
    assert table.match("4930000") == "b"
    assert table.match("4400000") == "a"
    assert table.match("3300000") is None


def test_prefix_table_matches_strings_shorter_than_its_longest_prefix():
    """A string shorter than the expanded width still gets its longest prefix."""
    table = PrefixTable({"4": "a", "4917": "c"})
    assert table.match("49") == "a"
    assert table.match("491") == "a"


def test_prefix_table_without_expansion_gives_the_same_answers():
    """Large tables are not expanded; the per-length lookup gives the same result."""
    small = PrefixTable({"1": "x", "12": "y", "1234": "z"})
    large = PrefixTable({"1": "x", "12": "y", "1234": "z"})
    large.expanded = None
    for digits in ["1", "12", "123", "1234", "12345", "19999", "2"]:
        assert small.match(digits) == large.match(digits)


def test_numbering_plan_rows_are_validated_with_line_numbers():
    """The plan is data: a bad row is reported with its line number."""
    lines = [
        "scope,prefix,class,min_digits,max_digits,description\n",
        "national,2,ro_fixed,9,9,ok\n",
        "national,7x,ro_mobile,9,9,bad prefix\n",
        "regional,3,ro_fixed,9,9,bad scope\n",
    ]
    with pytest.raises(DataFileError) as err:
        read_plan_entries(lines)
    assert [line for line, _ in err.value.errors] == [3, 4]


def test_country_code_rows_are_validated_with_line_numbers():
    """A duplicate country code is reported on the line that repeats it."""
    lines = ["prefix,iso2,name\n", "49,DE,Germany\n", "49,DE,Germany again\n"]
    with pytest.raises(DataFileError) as err:
        read_country_codes(lines)
    assert err.value.errors == [(3, "duplicate prefix 49")]


def test_shipped_plan_covers_every_class_but_on_net_international_and_invalid():
    """The shipped CSV lists every class that comes from the plan table."""
    classes = {e.number_class for e in default_numbering_plan().entries}
    assert classes == set(NUMBER_CLASSES) - {"on_net", "international", "invalid"}


# -- properties -----------------------------------------------------------------

separators = st.sampled_from(["", " ", "-", ".", "  ", "/"])
digit_runs = st.text(alphabet="0123456789", min_size=1, max_size=5)
prefixes = st.sampled_from(["", "0", "00", "+", "+40", "0040", "+40 (0)", "(0", "1"])


@st.composite
def dialled_strings(draw):
    """Number-like strings: an optional prefix, digit groups, separators."""
    groups = draw(st.lists(digit_runs, min_size=1, max_size=5))
    sep = draw(separators)
    return draw(prefixes) + sep.join(groups)


@given(dialled_strings())
def test_normalise_is_idempotent(dialled):
    """normalise(normalise(x)) == normalise(x) for every x that is a number."""
    try:
        once = normalise(dialled)
    except InvalidNumber:
        return
    assert normalise(once) == once


@given(dialled_strings())
def test_classification_does_not_depend_on_the_written_form(dialled):
    """A number classifies the same as its canonical form."""
    c = classify(dialled, on_net=OUR_DIDS)
    if c.normalised:
        again = classify(c.normalised, on_net=OUR_DIDS)
        assert (again.number_class, again.normalised, again.reason) == (
            c.number_class,
            c.normalised,
            c.reason,
        )


@given(st.text())
def test_classification_never_raises_on_arbitrary_text(text):
    """Any string at all gets a Classification; invalid ones carry a reason."""
    c = classify(text, on_net=OUR_DIDS)
    assert isinstance(c, Classification)
    assert c.number_class in NUMBER_CLASSES
    assert (c.number_class == INVALID) == bool(c.reason)


@given(st.text(alphabet="0123456789+-. ()", max_size=25))
def test_normalised_numbers_are_plain_ascii_digits_of_at_most_15(text):
    """The canonical form is ASCII digits only, never longer than E.164 allows."""
    c = classify(text)
    if c.normalised:
        assert c.normalised.isdigit() and c.normalised.isascii()
        assert len(c.normalised) <= 15
