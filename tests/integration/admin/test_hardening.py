"""Issue 10's defects of the admin HTTP API and CLI, each as the contract
it broke: bounded input refused with a 4xx naming the field, never a 5xx;
dedup keys from ids the system owns; JSON for every refusal; failed logins
logged and slowed down; messages in euros."""

from __future__ import annotations

import json
import logging

import pytest
from aiohttp.test_utils import TestClient, TestServer

from billing import ledger
from web import admin_operations as operations
from web.admin_input import InvalidInputError
from web.app import build_admin_app
from controlplane.settings import Settings

from .support import EUR, account_emails, as_admin, new_subscriber, queued_emails
from .test_cli_admin import clickphone, create  # noqa: F401  (the fixture)
from .test_http_admin import AUTH, Plane, created_account, post
from .test_http_admin import client, plane  # noqa: F401  (the fixtures)


async def top_up(client, account_id, body):
    return await post(client, f"/admin/accounts/{account_id}/top-ups", body)


# -- defect 1: no request may hold the loop; lists are bounded --------------------------


@pytest.mark.parametrize("field,count,item", [
    ("blocked_prefixes", 1001, lambda i: f"40{i:07d}"),
    ("allowed_networks", 101, lambda i: f"10.0.{i // 256}.{i % 256}"),
])
async def test_a_policy_list_past_its_documented_maximum_is_400_naming_it(client, field, count, item):
    """Defect 1 (and 4): 1,000 blocked prefixes and 100 allowed networks at
    most; 40,000 prefixes froze the process for 13 s."""
    account_id = await created_account(client)
    response = await client.patch(f"/admin/accounts/{account_id}/policy", headers=AUTH,
                                  json={field: [item(i) for i in range(count)]})
    body = await response.json()
    assert response.status == 400 and body["field"] == field and f"at most {count - 1}" in body["error"]


async def test_a_policy_at_its_maximum_is_kept_without_duplicates(client):
    """Defect 1: duplicates are dropped by a set, in order, not by list look-ups."""
    account_id = await created_account(client)
    prefixes = [f"40{i:07d}" for i in range(500)] * 2
    response = await client.patch(f"/admin/accounts/{account_id}/policy", headers=AUTH,
                                  json={"blocked_prefixes": prefixes})
    assert response.status == 200
    assert (await response.json())["policy"]["blocked_prefixes"] == prefixes[:500]


# -- defects 2 and 12: top-up references and their emails ---------------------------


@pytest.mark.parametrize("reference", ["OP 123", "Plată", "x" * 200])
async def test_a_free_text_reference_is_credited_and_emailed(client, plane, reference):
    """Defect 2: a reference is free text (up to 200 characters); the
    email's dedup key is the ledger entry's id, never the reference."""
    account_id = await created_account(client)
    response = await top_up(client, account_id, {"amount": "10", "reference": reference})
    assert response.status == 201, await response.text()
    entry_id = (await response.json())["entry_id"]
    (email,) = await queued_emails(plane.engine)
    assert email.dedup_key == f"top_up:{account_id}:{entry_id}" and reference in email.text


@pytest.mark.parametrize("reference", ["OP\r\nBcc: x@example.com", "tab\there", "x" * 201])
async def test_a_reference_with_control_characters_or_too_long_is_400(client, plane, reference):
    """Defect 2: a documented length limit, no CR/LF; nothing credited."""
    account_id = await created_account(client)
    response = await top_up(client, account_id, {"amount": "10", "reference": reference})
    assert response.status == 400 and (await response.json())["field"] == "reference"
    assert await ledger.balance_micro(plane.engine, account_id) == 0


async def test_two_top_ups_with_the_same_reference_send_two_emails(client, plane):
    """Defect 2: two top-ups referenced "cash" are two facts, two emails."""
    account_id = await created_account(client)
    for _ in range(2):
        assert (await top_up(client, account_id, {"amount": "5", "reference": "cash"})).status == 201
    assert len(await queued_emails(plane.engine)) == 2


async def test_an_idempotent_replay_answers_the_same_entry_and_sends_one_email(client, plane):
    """Defect 12: the same idempotency key twice credits once and emails once."""
    account_id = await created_account(client)
    first, second = [await top_up(client, account_id, {"amount": "25.50", "idempotency_key": "k1"})
                     for _ in range(2)]
    assert (await first.json())["entry_id"] == (await second.json())["entry_id"]
    assert len(await queued_emails(plane.engine)) == 1


async def test_an_idempotent_replay_sends_no_email_even_after_the_first_is_purged(engine):
    """Defect 12: a replay queues nothing, whatever the outbox still remembers."""
    created = await new_subscriber(engine)
    emails = account_emails()
    first = await operations.top_up(engine, created.account.id, EUR, idempotency_key="k1", emails=emails)
    replay = await operations.top_up(engine, created.account.id, EUR, idempotency_key="k1", emails=emails)
    assert first.outbox_id is not None and replay.outbox_id is None and replay.entry == first.entry


@pytest.mark.parametrize("key", ["", "k" * 129, "rerate:1:1", "a b", "ключ"])
async def test_an_idempotency_key_outside_its_charset_or_length_is_400(client, key):
    """Defect 4: 1 to 128 of [A-Za-z0-9._-] (no ':' — billing's own keys have one)."""
    account_id = await created_account(client)
    response = await top_up(client, account_id, {"amount": "1", "idempotency_key": key})
    assert response.status == 400 and (await response.json())["field"] == "idempotency_key"


async def test_the_cli_refuses_a_bad_reference_without_a_traceback(clickphone):  # noqa: F811
    """Defect 2: the CLI prints a clean error for every refusal."""
    account_id = str((await create(clickphone))["account"]["id"])
    good = await clickphone("account", "top-up", account_id, "10", "--reference", "OP 123")
    assert good.exit_code == 0, good.output
    bad = await clickphone("account", "top-up", account_id, "10", "--reference", "a\nb")
    assert bad.exit_code == 1 and "Error: reference:" in bad.output and "Traceback" not in bad.output


# -- defect 3: bounded numbers and ids ----------------------------------------------


@pytest.mark.parametrize("raw", [b'{"amount": "9223372036854"}', b'{"amount": 1e18}', b'{"amount": 1e30}',
                                 b'{"amount": 1e999999}', b'{"amount": "100000.000001"}',
                                 b'{"amount": 123456789012345678901234567890}'])
async def test_an_amount_past_100000_eur_is_400_and_later_top_ups_still_work(client, raw):
    """Defect 3: 0 < amount <= 100,000 EUR per operation; 9223372036854
    used to overflow every later balance sum (500)."""
    account_id = await created_account(client)
    response = await client.post(f"/admin/accounts/{account_id}/top-ups", data=raw,
                                 headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 400 and (await response.json())["field"] == "amount"
    assert (await top_up(client, account_id, {"amount": "100000"})).status == 201


async def test_a_top_up_past_the_balance_cap_is_400_in_euros(engine):
    """Defect 3: a balance never passes 1,000,000 EUR, so SUM cannot overflow."""
    created = await new_subscriber(engine)
    for _ in range(10):
        await operations.top_up(engine, created.account.id, ledger.MAX_OPERATION_MICRO)
    with pytest.raises(InvalidInputError) as refused:
        await as_admin(operations.top_up(engine, created.account.id, 1))
    assert refused.value.field == "amount" and "1000000.00 EUR" in str(refused.value)


@pytest.mark.parametrize("path", ["/admin/accounts/9223372036854775808", "/admin/accounts/2147483648",
                                  "/admin/accounts/0",
                                  "/admin/accounts/" + "9" * 5000])
async def test_an_id_no_row_can_have_is_404(client, path):
    """Defect 3: ids past 2^63 - 1 gave 500 (on PostgreSQL, whose INTEGER
    ids are 32-bit, ids past 2^31 - 1 did)."""
    response = await client.get(path, headers=AUTH)
    assert response.status == 404 and "error" in await response.json()


@pytest.mark.parametrize("subscriber_id", [2**31, 2**63])
async def test_a_subscriber_id_past_the_largest_id_is_400_naming_it(client, subscriber_id):
    response = await post(client, "/admin/dids", {"number": "0312345678", "subscriber_id": subscriber_id})
    assert response.status == 400 and (await response.json())["field"] == "subscriber_id"


@pytest.mark.parametrize("depth,status", [(30_000, 400), (100_000, 413)])
async def test_deeply_nested_json_is_refused_without_a_recursion_error(client, depth, status):
    """Defect 3: 100,000 levels gave 500 (RecursionError); bodies are at
    most 64 KiB and 32 levels deep."""
    response = await client.post("/admin/subscribers", data=b"[" * depth + b"]" * depth,
                                 headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == status and response.content_type == "application/json"
    assert (await response.json())["error"]


# -- defect 4: inputs that should not be accepted ------------------------------------


@pytest.mark.parametrize("amount", [" 5 ", "1_000", "+5", "5e0", "١٠", "5.", ".5", "NaN", "Infinity"])
async def test_an_amount_in_anything_but_ascii_decimal_digits_is_400(client, plane, amount):
    """Defect 4: "١٠" was credited as 10 EUR."""
    account_id = await created_account(client)
    response = await top_up(client, account_id, {"amount": amount})
    assert response.status == 400 and (await response.json())["field"] == "amount"
    assert await ledger.balance_micro(plane.engine, account_id) == 0


@pytest.mark.parametrize("amount", [" 5 ", "1_000", "+5", "5e0", "١٠"])
async def test_the_cli_refuses_the_same_amounts(clickphone, amount):  # noqa: F811
    account_id = str((await create(clickphone))["account"]["id"])
    result = await clickphone("account", "top-up", account_id, amount)
    assert result.exit_code == 2 and "AMOUNT" in result.output and "Traceback" not in result.output


async def test_an_arabic_indic_digit_in_the_path_is_not_an_account(client):
    """Defect 4: the route regex matched \\d, so /admin/accounts/١ was account 1."""
    await created_account(client)
    response = await client.get("/admin/accounts/١", headers=AUTH)
    assert response.status == 404 and response.content_type == "application/json"


async def test_the_cli_takes_ids_in_ascii_digits_only(clickphone):  # noqa: F811
    await create(clickphone)
    result = await clickphone("account", "show", "١")
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.parametrize("field,value", [("tariff", "nope"), ("language", "zz"), ("kind", "gold")])
async def test_an_enumerated_field_is_checked_against_what_exists(client, field, value):
    """Defect 4: a tariff must be stored, a language one our emails are written in."""
    from .test_http_admin import SUBSCRIBER
    response = await post(client, "/admin/subscribers", {**SUBSCRIBER, field: value})
    assert response.status == 400 and (await response.json())["field"] == field


@pytest.mark.parametrize("number", ["0900123456", "112", "+44 20 7946 0958"])
async def test_a_premium_short_or_foreign_number_cannot_be_a_did(client, plane, number):
    """Defect 4: a premium-rate number was accepted as a DID."""
    await created_account(client)
    subscriber_id = (await ledger.find_account(plane.engine, "ION1")).subscriber_id
    response = await post(client, "/admin/dids", {"number": number, "subscriber_id": subscriber_id})
    assert response.status == 400 and (await response.json())["field"] == "number"


# -- defect 11: failed logins leave a trace and slow down ------------------------------


async def test_failed_logins_are_logged_without_the_token_then_locked_out(client, caplog):
    """Defect 11: each failure is logged with the source address (never the
    token); after 5, the source answers 429 with Retry-After, even with the
    right token, until the lockout ends."""
    caplog.set_level(logging.WARNING, logger="web.auth")
    statuses = []
    for n in range(7):
        response = await client.get("/admin/accounts/1", headers={"Authorization": f"Bearer guess-{n}"})
        statuses.append(response.status)
    assert statuses == [401] * 5 + [429, 429]
    locked = await client.get("/admin/accounts/1", headers=AUTH)
    assert locked.status == 429 and int(locked.headers["Retry-After"]) >= 1
    assert len(caplog.records) == 6 and all("127.0.0.1" in r.getMessage() for r in caplog.records)
    assert not any("guess-" in r.getMessage() for r in caplog.records)


def test_each_lockout_doubles_and_a_success_forgets():
    from web.auth import FailedLogins
    now = [0.0]
    failures = FailedLogins(clock=lambda: now[0])
    assert [failures.failed("192.0.2.1") for _ in range(5)] == [None] * 5
    assert failures.failed("192.0.2.1") == 1 and failures.retry_after("192.0.2.1") == 1
    now[0] += 1.5
    assert failures.retry_after("192.0.2.1") is None and failures.failed("192.0.2.1") == 2
    failures.succeeded("192.0.2.1")
    assert failures.retry_after("192.0.2.1") is None and failures.failed("192.0.2.1") is None


# -- defect 13: every refusal is JSON -------------------------------------------------


async def test_aiohttp_refusals_and_failures_answer_json(client, engine, tmp_path):
    """Defect 13: 404, 405 and 413 were text/plain; an unexpected
    exception answers 500 JSON without its traceback."""
    not_found = await client.get("/nowhere")
    wrong_method = await client.delete("/admin/subscribers", headers=AUTH)
    too_large = await client.post("/admin/subscribers", data=b"x" * 70_000,
                                  headers={**AUTH, "Content-Type": "application/json"})
    for response, status in ((not_found, 404), (wrong_method, 405), (too_large, 413)):
        assert response.status == status and response.content_type == "application/json"
        assert (await response.json())["error"]
    assert "POST" in wrong_method.headers["Allow"]

    class Broken(Plane):
        async def health(self):
            raise RuntimeError("secret internals")

    async with TestClient(TestServer(build_admin_app(Broken(engine, Settings(state_dir=tmp_path)).services()))) as broken:
        response = await broken.get("/health")
        assert response.status == 500 and await response.json() == {"error": "internal error"}


# -- defect 19: messages in euros ------------------------------------------------------


async def test_the_cli_speaks_euros_not_micro_euros(clickphone):  # noqa: F811
    """Defect 19: `top-up 2 -- -5` said "amount_micro must be >= 1, not -5000000"."""
    account_id = str((await create(clickphone))["account"]["id"])
    result = await clickphone("account", "top-up", account_id, "--", "-5")
    assert result.exit_code == 2 and "-5.00 EUR" in result.output and "5000000" not in result.output


async def test_the_ledger_speaks_euros_not_micro_euros(engine):
    """Defect 19: billing's own refusals name euros."""
    account = await ledger.open_account(engine, code="acct-1")
    with pytest.raises(ledger.InvalidAmountError) as refused:
        await ledger.top_up(engine, account.id, -5 * EUR)
    assert str(refused.value) == "amount must be at least 0.000001 EUR, not -5.00 EUR"


def test_json_bodies_are_read_exactly():
    """The body reader keeps decimals exact (never float)."""
    from web.json_body import parse_json
    assert str(parse_json(json.dumps({"a": 0.1}).encode())["a"]) == "0.1"
