"""Suspensions with a cause, through the admin API, the CLI and billing's
service, on SQLite and PostgreSQL.

Art. 9.2: the fee of a suspended month stays due when the suspension is
the subscriber's fault, so every suspension names its cause; a refusal
names the field to blame (``cause``, ``note``) and lists the causes.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from billing import ledger, suspensions
from billing.accounts import SUSPENDED
from billing.errors import InvalidSuspensionError, SuspensionStateError
from billing.tables import account_suspensions

from .support import T0, new_subscriber
from .test_cli_admin import clickphone, create  # noqa: F401  (fixture)
from .test_http_admin import AUTH, client, created_account, plane, post  # noqa: F401  (fixtures)

CAUSES = ("non_payment", "breach", "subscriber_request", "operator")


# -- billing's service ---------------------------------------------------------------


async def test_suspend_opens_a_stretch_and_reinstate_closes_it(engine):
    """Suspend = status suspended + an open stretch with its cause; reinstate
    = active + the stretch closed at that moment (one transaction each)."""
    account = (await new_subscriber(engine)).account
    opened = await suspensions.suspend(engine, account.id, "operator", "  switch\n maintenance ", now=T0)
    assert (await ledger.get_account(engine, account.id)).status == SUSPENDED
    assert (opened.cause, opened.note, opened.started_at, opened.ended_at) == (
        "operator", "switch maintenance", T0, None)
    assert await suspensions.open_suspension(engine, account.id) == opened

    closed = await suspensions.reinstate(engine, account.id, now=T0 + timedelta(hours=3))

    assert closed.id == opened.id and closed.ended_at == T0 + timedelta(hours=3)
    assert (await ledger.get_account(engine, account.id)).status == "active"
    assert await suspensions.open_suspension(engine, account.id) is None
    assert await suspensions.suspension_history(engine, account.id) == [closed]


async def test_suspending_a_suspended_account_is_refused_and_keeps_the_first_cause(engine):
    """Decided: a second suspension is a refusal, not a no-op, so it cannot
    silently keep a cause the admin did not mean (the fee depends on it)."""
    account = (await new_subscriber(engine)).account
    first = await suspensions.suspend(engine, account.id, "non_payment", now=T0)
    with pytest.raises(SuspensionStateError, match="only an active account can be suspended"):
        await suspensions.suspend(engine, account.id, "operator", now=T0 + timedelta(hours=1))
    assert await suspensions.suspension_history(engine, account.id) == [first]


async def test_reinstating_an_active_account_is_refused(engine):
    """Reinstating an account that is not suspended is a refusal, not a no-op."""
    account = (await new_subscriber(engine)).account
    with pytest.raises(SuspensionStateError, match="only a suspended account can be reinstated"):
        await suspensions.reinstate(engine, account.id)


async def test_two_suspensions_at_once_open_one_stretch(engine):
    """Checked under the account's lock: of two concurrent suspensions one
    succeeds and the other is refused; one stretch is open."""
    account = (await new_subscriber(engine)).account
    outcomes = await asyncio.gather(
        suspensions.suspend(engine, account.id, "operator"), suspensions.suspend(engine, account.id, "breach"),
        return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["Suspension", "SuspensionStateError"]
    assert len(await suspensions.suspension_history(engine, account.id)) == 1


async def test_the_database_holds_at_most_one_open_stretch_per_account(engine):
    """The partial unique index refuses a second open stretch even past the service."""
    account = (await new_subscriber(engine)).account
    await suspensions.suspend(engine, account.id, "operator", now=T0)
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(account_suspensions).values(
                account_id=account.id, cause="breach", note="", started_at=T0 + timedelta(hours=1)))


async def test_a_suspension_recorded_before_causes_were_can_be_reinstated(engine):
    """An account suspended by status alone (before migration 0017) has no
    stretch; reinstating it makes it active and closes nothing."""
    account = (await new_subscriber(engine)).account
    await ledger.set_account_status(engine, account.id, SUSPENDED)
    assert await suspensions.reinstate(engine, account.id) is None
    assert (await ledger.get_account(engine, account.id)).status == "active"


@pytest.mark.parametrize("cause", ["", "Operator", "vacation", None, 7])
async def test_an_unknown_cause_is_refused_naming_cause_and_listing_the_causes(engine, cause):
    """The cause is required and one of the four: the month's fee depends on it."""
    account = (await new_subscriber(engine)).account
    with pytest.raises(InvalidSuspensionError) as refused:
        await suspensions.suspend(engine, account.id, cause)
    assert refused.value.field == "cause" and all(name in str(refused.value) for name in CAUSES)
    assert (await ledger.get_account(engine, account.id)).status == "active"


# -- the admin API ---------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, {"cause": None}, {"note": "no cause"}, {"cause": "holiday"},
                                  {"cause": 3}])
async def test_api_suspend_without_a_known_cause_is_400_naming_cause(client, plane, body):
    """POST /suspend needs ``cause``: missing or unknown is 400 with
    ``field: cause`` and the causes listed; the account stays active and
    no call is ended."""
    account_id = await created_account(client)
    response = await post(client, f"/admin/accounts/{account_id}/suspend", body)
    answer = await response.json()
    assert (response.status, answer["field"]) == (400, "cause")
    assert all(name in answer["error"] for name in CAUSES)
    assert plane.ended_for == []
    assert (await ledger.get_account(plane.engine, account_id)).status == "active"


@pytest.mark.parametrize("note", ["x" * 201, "line\x00break", "bell\x07"])
async def test_api_suspend_with_a_bad_note_is_400_naming_note(client, note):
    """A note is at most 200 characters, without control characters."""
    account_id = await created_account(client)
    response = await post(client, f"/admin/accounts/{account_id}/suspend", {"cause": "operator", "note": note})
    assert (response.status, (await response.json())["field"]) == (400, "note")


async def test_api_refuses_suspending_twice_and_reinstating_an_active_account_with_409(client):
    """Decided: both are refusals (409), each saying what state the account is in."""
    account_id = await created_account(client)
    assert (await post(client, f"/admin/accounts/{account_id}/suspend", {"cause": "operator"})).status == 200
    again = await post(client, f"/admin/accounts/{account_id}/suspend", {"cause": "breach"})
    assert again.status == 409 and "is suspended" in (await again.json())["error"]
    assert (await post(client, f"/admin/accounts/{account_id}/reinstate", {})).status == 200
    active = await post(client, f"/admin/accounts/{account_id}/reinstate", {})
    assert active.status == 409 and "is active" in (await active.json())["error"]


async def test_api_account_shows_its_open_suspension(client):
    """GET /admin/accounts/{id} shows the open suspension with its cause and
    whether the fee stays due; null once reinstated."""
    account_id = await created_account(client)
    await post(client, f"/admin/accounts/{account_id}/suspend", {"cause": "subscriber_request", "note": "abroad"})
    shown = await (await client.get(f"/admin/accounts/{account_id}", headers=AUTH)).json()
    assert (shown["status"], shown["suspension"]["cause"], shown["suspension"]["fee_due"],
            shown["suspension"]["note"], shown["suspension"]["ended_at"]) == (
        "suspended", "subscriber_request", True, "abroad", None)
    await post(client, f"/admin/accounts/{account_id}/reinstate", {})
    assert (await (await client.get(f"/admin/accounts/{account_id}", headers=AUTH)).json())["suspension"] is None


# -- the CLI -----------------------------------------------------------------------------


async def test_cli_suspend_without_cause_names_the_option_and_lists_the_causes(clickphone):
    """``account suspend ID`` without ``--cause`` is a usage error (exit 2)
    naming ``--cause`` and listing the causes."""
    account_id = str((await create(clickphone))["account"]["id"])
    result = await clickphone("account", "suspend", account_id)
    assert result.exit_code == 2 and "--cause" in result.output
    assert all(name in result.output for name in CAUSES)


async def test_cli_suspend_with_an_unknown_cause_names_the_option_and_lists_the_causes(clickphone):
    """An unknown ``--cause`` is a usage error naming it and listing the causes."""
    account_id = str((await create(clickphone))["account"]["id"])
    result = await clickphone("account", "suspend", account_id, "--cause", "holiday")
    assert result.exit_code == 2 and "--cause" in result.output and "'holiday'" in result.output
    assert all(name in result.output for name in CAUSES)


async def test_cli_refuses_a_long_note_and_a_second_suspension(clickphone):
    """A note past 200 characters is refused naming ``note``; suspending a
    suspended account is refused (exit 1), naming its state."""
    account_id = str((await create(clickphone))["account"]["id"])
    long_note = await clickphone("account", "suspend", account_id, "--cause", "breach", "--note", "x" * 201)
    assert long_note.exit_code == 1 and "note: at most 200 characters" in long_note.output
    assert (await clickphone("account", "suspend", account_id, "--cause", "breach")).exit_code == 0
    again = await clickphone("account", "suspend", account_id, "--cause", "operator")
    assert again.exit_code == 1 and "is suspended" in again.output


async def test_cli_suspensions_lists_the_history_oldest_first(clickphone):
    """``account suspensions ID`` prints every suspension with its cause,
    note, start and end (null while it lasts), oldest first."""
    account_id = str((await create(clickphone))["account"]["id"])
    await clickphone("account", "suspend", account_id, "--cause", "non_payment", "--note", "CP-000007 unpaid")
    await clickphone("account", "reinstate", account_id)
    await clickphone("account", "suspend", account_id, "--cause", "operator")

    result = await clickphone("account", "suspensions", account_id)

    assert result.exit_code == 0, result.output
    history = json.loads(result.output)["suspensions"]
    assert [(s["cause"], s["fee_due"], s["note"]) for s in history] == [
        ("non_payment", True, "CP-000007 unpaid"), ("operator", False, "")]
    assert history[0]["ended_at"] is not None and history[1]["ended_at"] is None
    unknown = await clickphone("account", "suspensions", "4242")
    assert unknown.exit_code == 1 and "no account 4242" in unknown.output
