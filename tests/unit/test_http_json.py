"""The admin API's body reader counts nesting without recursing (issue 10,
defect 3): it must agree with the depth of what the parser would build."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from web.json_body import MAX_JSON_DEPTH, BadRequest, parse_json, too_deep


def depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


def nested(levels: int, leaf: object) -> object:
    for n in range(levels):
        leaf = [leaf] if n % 2 else {"k[{": leaf, "s": "]}\"["}
    return leaf


@settings(max_examples=200)
@given(levels=st.integers(min_value=0, max_value=2 * MAX_JSON_DEPTH), leaf=st.text(max_size=5))
def test_too_deep_agrees_with_the_parsed_depth(levels, leaf):
    """Brackets inside strings do not count; exactly 32 levels pass, 33 do not."""
    document = nested(levels, leaf)
    assert too_deep(json.dumps(document)) == (depth(document) > MAX_JSON_DEPTH)


@pytest.mark.parametrize("raw", [b"[" * 200_000, b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000])
def test_no_nesting_reaches_the_parser(raw):
    """100,000 levels raised RecursionError (HTTP 500); now a 400."""
    with pytest.raises(BadRequest, match="deeper than 32"):
        parse_json(raw)
