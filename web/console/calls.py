"""The console's call search: rated calls by account, start days (Europe/
Bucharest), number class and disposition, newest first in keyset pages,
and an "Export CSV" link that streams every call of the same filter
(:mod:`web.call_export`, the API's writer).

An account admin searches its own account only: no account in the filter
means its own; another account is 403 with no data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Mapping
from urllib.parse import urlencode

from aiohttp import web

from billing.call_records import CallFilter, list_calls
from billing.cdr_format import DISPOSITIONS
from billing.numbering import NUMBER_CLASSES
from billing.tariffs import CONTRACT_TZ
from web.admin_input import InvalidInputError
from web.call_export import stream_calls_csv

from .context import Viewer, services, viewer
from .render import render
from .subscribers import page_id

PAGE_SIZE = 50
MAX_DAYS = 366  # a search spans at most a year of days
_FIELDS = ("account", "from", "to", "class", "disposition")


@dataclass(frozen=True)
class CallSearch:
    """The search as the form holds it (``shown``) and as the query runs it (``calls``)."""

    shown: dict[str, str]
    calls: CallFilter


def _day(query: Mapping[str, str], field: str) -> date | None:
    text = query.get(field, "").strip()
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(field, "a day as YYYY-MM-DD") from None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CONTRACT_TZ)


def search_of(query: Mapping[str, str], who: Viewer) -> CallSearch:
    """The filter of the search form's ``query``: bad values are 400 naming
    the field; an account admin's is bound to its own account (403 for another)."""
    shown = {field: query.get(field, "").strip()[:32] for field in _FIELDS}
    account = None
    if shown["account"]:
        account = page_id(shown["account"])
        if account is None:
            raise InvalidInputError("account", "an account id (a whole number)")
    if who.own_account_id is not None:
        account = account if account is not None else who.own_account_id
        who.check_account(account)
    first, last = _day(query, "from"), _day(query, "to")
    if first is not None and last is not None:
        if last < first:
            raise InvalidInputError("to", "must not be before from")
        if (last - first).days >= MAX_DAYS:
            raise InvalidInputError("to", f"at most {MAX_DAYS} days from from")
    number_class = shown["class"] or None
    if number_class is not None and number_class not in NUMBER_CLASSES:
        raise InvalidInputError("class", "one of " + ", ".join(NUMBER_CLASSES))
    disposition = shown["disposition"] or None
    if disposition is not None and disposition not in DISPOSITIONS:
        raise InvalidInputError("disposition", "one of " + ", ".join(sorted(DISPOSITIONS)))
    return CallSearch(shown, CallFilter(
        account_id=account, number_class=number_class, disposition=disposition,
        start_from=None if first is None else _midnight(first),
        start_to=None if last is None else _midnight(last + timedelta(days=1))))  # "to" is inclusive


async def search_page(request: web.Request) -> web.Response:
    """GET /console/calls?account=&from=&to=&class=&disposition=&before=: a page of matching calls."""
    who = await viewer(request, "calls.read")
    search = search_of(request.query, who)
    before = page_id(request.query.get("before"))
    found = await list_calls(services(request).engine, search.calls, before_id=before, limit=PAGE_SIZE + 1)
    rows = found[:PAGE_SIZE]
    filters = urlencode({k: v for k, v in search.shown.items() if v})
    return render(request, "calls.html", {
        "rows": rows, "form": search.shown, "filters": filters, "before": before,
        "older": rows[-1].id if len(found) > PAGE_SIZE else None,
        "classes": NUMBER_CLASSES, "dispositions": sorted(DISPOSITIONS),
    }, who=who)


async def export_csv(request: web.Request) -> web.StreamResponse:
    """GET /console/calls.csv?…: every call of the same filter as CSV, streamed."""
    who = await viewer(request, "calls.read")
    search = search_of(request.query, who)  # refused before the answer starts
    return await stream_calls_csv(request, services(request).engine, search.calls)
