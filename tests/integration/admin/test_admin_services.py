"""The admin operations the CLI and the HTTP API share (the owning
packages' services, and web.admin_operations where one spans owners or
causes an email), on SQLite and PostgreSQL. Refusals, as both surfaces
see them (web.admin_input.refusals), are AdminErrors naming what was
wrong; changes and the emails they cause commit together."""

from __future__ import annotations

from datetime import timedelta

import pytest

from admission.service import Admission, CallRequest
from billing import ledger, suspensions
from billing.accounts import ACTIVE, SUSPENDED
from billing.numbering import NUMBER_CLASSES, RO_FIXED, RO_MOBILE, SHARED_COST, TOLL_FREE
from controlplane.account_alerts import emit_daily_limit_alert
from notify.notifier import Notifier
from notify.render import Renderer
from provisioning import services as provisioning
from provisioning.credentials import md5_cred
from provisioning.numbers import DID_CLASSES
from web import admin_operations as operations
from web.admin_input import ConflictError, InvalidInputError, NotFoundError

from .support import EUR, T0, account_emails, add_did, as_admin, new_subscriber, outbox_count, queued_emails


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    """The emails' renderer, in the operator's default zone (Bucharest)."""
    return Renderer()


async def no_live_calls(account_id: int) -> int:
    """Ends the calls of an account that has none."""
    return 0


# -- subscribers and numbers ---------------------------------------------------------


async def test_create_subscriber_makes_subscriber_endpoint_and_account_together(engine):
    """One operation makes the subscriber, its SIP endpoint (password shown
    once, only its digest stored) and its account linked to both."""
    created = await new_subscriber(engine, daily_limit_micro=5 * EUR, language="en")
    endpoint = await provisioning.find_endpoint(engine, "ep-A1")
    account = await ledger.find_account(engine, "A1")
    assert endpoint.account_code == "A1" and endpoint.subscriber_id == created.subscriber.id
    assert len(created.endpoint.password) >= 24 and endpoint.password is None  # shown once, not stored
    assert endpoint.md5_cred == md5_cred("ep-A1", endpoint.realm, created.endpoint.password)
    assert (account.id, account.subscriber_id, account.daily_limit_micro, account.language) == (
        created.account.id, created.subscriber.id, 5 * EUR, "en")


async def test_create_subscriber_with_a_taken_username_creates_nothing(engine):
    """All or nothing: a taken username is a 409 and no account is opened."""
    await new_subscriber(engine, "A1")
    with pytest.raises(ConflictError, match="ep-A1"):
        await as_admin(operations.create_subscriber(engine, name="Other", email="o@example.com",
                                                    username="ep-A1", caller_id_number="1002", account_code="B2"))
    assert await ledger.find_account(engine, "B2") is None


async def test_create_subscriber_with_a_taken_account_code_creates_nothing(engine):
    """All or nothing across owners: a taken account code (billing) is a 409
    and the endpoint already written (provisioning) is rolled back."""
    await new_subscriber(engine, "A1")
    with pytest.raises(ConflictError, match="A1"):
        await as_admin(operations.create_subscriber(engine, name="Other", email="o@example.com",
                                                    username="ep-other", caller_id_number="1002", account_code="A1"))
    assert await provisioning.find_endpoint(engine, "ep-other") is None


async def test_create_subscriber_refuses_a_bad_field_by_name(engine):
    """A field breaking provisioning's rule is a 400 naming that field."""
    with pytest.raises(InvalidInputError) as refused:
        await as_admin(operations.create_subscriber(engine, name="X", email="not-an-email", username="ep-x",
                                                    caller_id_number="1", account_code="X1"))
    assert refused.value.field == "email" and refused.value.status == 400


async def test_add_did_takes_the_number_as_a_person_writes_it(engine):
    """A DID given as "+40 31 234 5678" is stored as E.164 digits; the same
    number in another form is then taken (409)."""
    created = await new_subscriber(engine)
    did = await add_did(engine, number="+40 31 234 5678", subscriber_id=created.subscriber.id)
    assert did.number == "40312345678"
    assert (await provisioning.find_did(engine, "40312345678")).subscriber_id == created.subscriber.id
    with pytest.raises(ConflictError):
        await as_admin(add_did(engine, number="0312345678", subscriber_id=created.subscriber.id))


def test_the_did_classes_are_numbering_plan_classes():
    """A DID is a Romanian geographic, mobile, freephone (0800) or
    shared-cost (0801) number: provisioning names those classes without
    importing billing, so the names must be the numbering plan's own (a
    renamed class would refuse every DID of that class)."""
    assert DID_CLASSES == {RO_FIXED, RO_MOBILE, TOLL_FREE, SHARED_COST}
    assert DID_CLASSES <= set(NUMBER_CLASSES)


async def test_add_did_refuses_garbage_and_unknown_subscribers(engine):
    """Text that is not a number is a 400 naming ``number``; a number for
    an unknown subscriber is a 404."""
    created = await new_subscriber(engine)
    with pytest.raises(InvalidInputError) as refused:
        await as_admin(add_did(engine, number="call me", subscriber_id=created.subscriber.id))
    assert refused.value.field == "number"
    with pytest.raises(NotFoundError):
        await as_admin(add_did(engine, number="0312345678", subscriber_id=999))


# -- money -------------------------------------------------------------------------------


async def test_top_up_credits_the_account_and_emails_the_subscriber(engine, renderer):
    """A top-up credits the account and queues one TopUp email, keyed by
    its ledger entry, in the subscriber's language (Romanian numbers)."""
    created = await new_subscriber(engine)
    result = await operations.top_up(engine, created.account.id, 10 * EUR, reference="OP-17",
                                     emails=account_emails(renderer), now=T0)
    assert result.balance_micro == 10 * EUR
    (email,) = await queued_emails(engine)
    assert (email.kind, email.recipient, email.dedup_key) == ("top_up", "a1@example.com",
                                                              f"top_up:{created.account.id}:{result.entry.id}")
    assert "10,00" in email.text and "OP-17" in email.text  # Romanian number format


async def test_top_up_with_the_same_idempotency_key_credits_once(engine):
    """A top-up repeated with its idempotency key credits the account once."""
    created = await new_subscriber(engine)
    for _ in range(2):
        result = await operations.top_up(engine, created.account.id, 3 * EUR, idempotency_key="pay-1")
    assert result.balance_micro == 3 * EUR


@pytest.mark.parametrize("amount", [0, -5])
async def test_top_up_refuses_amounts_that_are_not_positive(engine, amount):
    """A top-up of zero or less is a 400 (billing's amount rule)."""
    created = await new_subscriber(engine)
    with pytest.raises(InvalidInputError):
        await as_admin(operations.top_up(engine, created.account.id, amount))


async def test_top_up_of_an_unknown_account_is_not_found(engine):
    """A top-up of an account nobody has is a 404."""
    with pytest.raises(NotFoundError) as refused:
        await as_admin(operations.top_up(engine, 4242, EUR))
    assert refused.value.status == 404


async def test_account_summary_shows_money_policy_and_live_calls(engine):
    """The summary joins billing (balance, what a live call holds) and
    admission (policy, live-call count) for one account."""
    created = await new_subscriber(engine)
    await operations.top_up(engine, created.account.id, 2 * EUR)
    decision = await Admission(engine).decide(CallRequest("c1", "ep-A1", "192.0.2.1", "0712345678"))
    summary = await operations.account_summary(engine, created.account.id)
    assert summary.balance_micro == 2 * EUR
    assert summary.available_micro == 2 * EUR - 125_000  # the first 5-minute chunk held
    assert summary.live_calls == 1 and decision.allowed
    assert summary.policy.max_concurrent_calls == 2


# -- policy ------------------------------------------------------------------------------


async def test_policy_change_keeps_the_fields_not_given(engine):
    """A policy change touches only the fields given, and a change that
    leaves the allowlist alone emails nobody."""
    created = await new_subscriber(engine)
    emails = account_emails()
    await operations.set_account_policy(engine, created.account.id, emails=emails, premium_enabled=True,
                                        max_concurrent_calls=5)
    change = await operations.set_account_policy(engine, created.account.id, emails=emails,
                                                 blocked_prefixes=["4021"])
    assert change.policy.premium_enabled and change.policy.max_concurrent_calls == 5
    assert change.policy.blocked_prefixes == ("4021",)
    assert change.allowed_ips_change_id is None and await outbox_count(engine) == 0


async def test_changing_the_allowed_ips_emails_what_changed(engine, renderer):
    """Each allowlist change queues its own AllowedIpsChanged email saying
    what was added, what removed, the list now and who changed it."""
    created = await new_subscriber(engine, language="en")
    account_id = created.account.id
    emails = account_emails(renderer)
    await operations.set_account_policy(engine, account_id, allowed_networks=["192.0.2.0/24", "198.51.100.7"],
                                        emails=emails, changed_by="admin ana")
    change = await operations.set_account_policy(engine, account_id,
                                                 allowed_networks="198.51.100.7, 203.0.113.0/25",
                                                 emails=emails, now=T0, changed_by="admin ana")
    first, second = await queued_emails(engine)
    assert second.dedup_key == f"allowed_ips:{account_id}:{change.allowed_ips_change_id}"
    assert first.dedup_key != second.dedup_key and second.recipient == "a1@example.com"
    assert "Added:    203.0.113.0/25" in second.text
    assert "Removed:  192.0.2.0/24" in second.text
    assert "198.51.100.7/32, 203.0.113.0/25" in second.text and "admin ana" in second.text


async def test_setting_the_same_allowed_ips_again_sends_nothing(engine):
    """Setting the allowlist it already has is no change: no change id, no email."""
    created = await new_subscriber(engine)
    emails = account_emails()
    await operations.set_account_policy(engine, created.account.id, emails=emails,
                                        allowed_networks=["192.0.2.0/24"])
    again = await operations.set_account_policy(engine, created.account.id, emails=emails,
                                                allowed_networks=["192.0.2.0/24"])
    assert again.allowed_ips_change_id is None and await outbox_count(engine) == 1


@pytest.mark.parametrize("entry", ["192.0.2.300", "10.0.0.5/24", "example.com", "2001:db8::/129"])
async def test_an_invalid_allowed_network_is_refused_naming_it_and_nothing_changes(engine, entry):
    """A bad address, a CIDR with host bits set or a name is a 400 naming
    the entry, and no field of the change is applied, nor emailed."""
    created = await new_subscriber(engine)
    with pytest.raises(InvalidInputError) as refused:
        await as_admin(operations.set_account_policy(
            engine, created.account.id, emails=account_emails(), allowed_networks=["192.0.2.0/24", entry],
            premium_enabled=True))
    assert refused.value.field == "allowed_networks" and repr(entry) in str(refused.value)
    summary = await operations.account_summary(engine, created.account.id)
    assert summary.policy.allowed_networks == () and not summary.policy.premium_enabled
    assert await outbox_count(engine) == 0


@pytest.mark.parametrize("field,value", [("blocked_prefixes", ["40 21"]), ("blocked_prefixes", ["+4021"]),
                                         ("max_concurrent_calls", -1), ("max_concurrent_calls", True),
                                         ("premium_enabled", "yes")])
async def test_other_policy_fields_are_checked(engine, field, value):
    """Blocked prefixes are E.164 digits, the call limit a whole number from
    0, the switches true or false: anything else is a 400 naming the field."""
    created = await new_subscriber(engine)
    with pytest.raises(InvalidInputError) as refused:
        await as_admin(operations.set_account_policy(engine, created.account.id, emails=account_emails(),
                                                     **{field: value}))
    assert refused.value.field == field


async def test_policy_of_an_unknown_account_is_not_found(engine):
    """Changing the policy of an account nobody has is a 404."""
    with pytest.raises(NotFoundError):
        await as_admin(operations.set_account_policy(engine, 4242, emails=account_emails(), premium_enabled=True))


async def test_the_allowlist_set_by_an_admin_is_what_admission_enforces(engine):
    """The allowlist an admin stores is the one admission decides with:
    inside it a call goes ahead, outside it is refused as source_not_allowed."""
    created = await new_subscriber(engine)
    await operations.top_up(engine, created.account.id, 5 * EUR)
    await operations.set_account_policy(engine, created.account.id, emails=account_emails(),
                                        allowed_networks=["192.0.2.0/28"])
    admission = Admission(engine)
    inside = await admission.decide(CallRequest("in", "ep-A1", "192.0.2.10", "0212345678"))
    outside = await admission.decide(CallRequest("out", "ep-A1", "192.0.2.99", "0212345678"))
    assert inside.allowed and outside.reason.code == "source_not_allowed"


# -- suspension ------------------------------------------------------------------------


async def test_suspending_ends_the_accounts_calls_and_says_how_many(engine):
    """A suspension marks the account suspended and asks the injected
    ``end_calls`` to end that account's calls, answering how many it ended."""
    created = await new_subscriber(engine)
    asked: list[int] = []

    async def end_calls(account_id: int) -> int:
        asked.append(account_id)
        return 3

    suspension, ended = await operations.suspend_account(engine, created.account.id, end_calls, cause="operator")
    assert ended == 3 and suspension.cause == "operator"
    assert asked == [created.account.id]
    assert (await ledger.get_account(engine, created.account.id)).status == SUSPENDED


async def test_a_suspended_account_reaches_only_free_numbers_until_reinstated(engine):
    """Invariant 3: 112 still connects while suspended."""
    created = await new_subscriber(engine)
    await operations.top_up(engine, created.account.id, 5 * EUR)
    _, ended = await operations.suspend_account(engine, created.account.id, no_live_calls, cause="non_payment")
    assert ended == 0
    admission = Admission(engine)
    paid = await admission.decide(CallRequest("p1", "ep-A1", "192.0.2.1", "0212345678"))
    emergency = await admission.decide(CallRequest("e1", "ep-A1", "192.0.2.1", "112"))
    assert paid.reason.code == "account_suspended" and emergency.allowed
    await suspensions.reinstate(engine, created.account.id)
    assert (await ledger.get_account(engine, created.account.id)).status == ACTIVE
    assert (await admission.decide(CallRequest("p2", "ep-A1", "192.0.2.1", "0212345678"))).allowed


async def test_suspending_an_unknown_account_is_not_found_and_ends_nothing(engine):
    """Suspending an account nobody has is a 404, and no call is ended."""
    async def end_calls(account_id: int) -> int:
        raise AssertionError("must not be called")

    with pytest.raises(NotFoundError):
        await as_admin(operations.suspend_account(engine, 4242, end_calls, cause="breach"))


# -- daily-limit alert ------------------------------------------------------------------


async def test_daily_limit_alert_is_queued_once_per_bucharest_day(engine, renderer):
    """The daily-limit alert is one email per account per day in the
    operator's zone (Europe/Bucharest): the same outbox id all day, a new
    one after local midnight."""
    created = await new_subscriber(engine, daily_limit_micro=2 * EUR)
    account_id = created.account.id
    notifier = Notifier(renderer)
    await ledger.top_up(engine, account_id, 10 * EUR, now=T0 - timedelta(days=1))
    await ledger.charge(engine, account_id, 2 * EUR, now=T0)
    first = await emit_daily_limit_alert(engine, account_id, notifier, now=T0)
    again = await emit_daily_limit_alert(engine, account_id, notifier, now=T0 + timedelta(hours=11))
    # 22:00 UTC on 1 September is already 2 September in Bucharest
    next_day = await emit_daily_limit_alert(engine, account_id, notifier, now=T0 + timedelta(hours=13))
    assert first == again != next_day
    emails = await queued_emails(engine)
    assert [e.dedup_key for e in emails] == [f"daily_limit:{account_id}:2025-09-01",
                                             f"daily_limit:{account_id}:2025-09-02"]
    assert "2,00 EUR" in emails[0].text and emails[0].recipient == "a1@example.com"


async def test_no_daily_limit_alert_without_a_daily_limit(engine, renderer):
    """An account without a daily limit is never told it reached one."""
    created = await new_subscriber(engine)
    assert await emit_daily_limit_alert(engine, created.account.id, Notifier(renderer), now=T0) is None
    assert await outbox_count(engine) == 0


async def test_daily_limit_alert_counts_what_live_calls_hold(engine, renderer):
    """"Spent" in the alert includes what live calls hold (reservations),
    not only what CDRs have charged."""
    created = await new_subscriber(engine, daily_limit_micro=50_000, language="en")
    await ledger.top_up(engine, created.account.id, 5 * EUR, now=T0 - timedelta(days=1))
    admission = Admission(engine)
    decision = await admission.decide(CallRequest("c1", "ep-A1", "192.0.2.1", "0712345678"), now=T0)
    refused = await admission.decide(CallRequest("c2", "ep-A1", "192.0.2.1", "0712345678"), now=T0)
    assert decision.max_seconds == 120 and refused.reason.code == "daily_limit_reached"
    await emit_daily_limit_alert(engine, created.account.id, Notifier(renderer), now=T0)
    (email,) = await queued_emails(engine)
    assert email.text.count("0.05 EUR") == 2  # spent (held by the live call) 0.05 of the 0.05 limit


async def test_suspension_applies_to_the_next_call_even_with_the_endpoint_link_cached(engine):
    """Admission remembers which account an endpoint belongs to, never the
    account's state: a suspension stops the very next paid call."""
    created = await new_subscriber(engine)
    await operations.top_up(engine, created.account.id, 5 * EUR)
    admission = Admission(engine)
    assert (await admission.decide(CallRequest("c1", "ep-A1", "192.0.2.1", "0212345678"))).allowed
    await operations.suspend_account(engine, created.account.id, no_live_calls, cause="non_payment")
    refused = await admission.decide(CallRequest("c2", "ep-A1", "192.0.2.1", "0212345678"))
    assert refused.reason.code == "account_suspended"
