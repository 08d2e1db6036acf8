"""The console's words in Romanian and English (issue 13, item 5).

One catalog, a dict per language with the same keys (a unit test holds
that). The language is the user's pick (the ``cp_lang`` cookie, set by
/console/lang/{lang}), else the first of ours in the browser's
Accept-Language, else Romanian (the operator's customers are Romanian).
A missing key shows the key itself: a bug a test finds, never a 500.
"""

from __future__ import annotations

import re
from decimal import Decimal

from aiohttp import web

from .i18n_admin import ADMIN_TEXTS

LANGUAGES = ("ro", "en")
DEFAULT_LANGUAGE = "ro"
LANGUAGE_COOKIE = "cp_lang"
MAX_ACCEPT_LANGUAGE_ITEMS = 20  # a header listing more is read only that far
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        "app.name": "ClickPhone console",
        "nav.dashboard": "Dashboard",
        "nav.subscribers": "Subscribers",
        "nav.account": "My account",
        "nav.logout": "Log out",
        "nav.language": "Language",
        "login.title": "Log in",
        "login.username": "Username",
        "login.password": "Password",
        "login.submit": "Log in",
        "login.wrong": "Wrong username or password.",
        "login.locked": "Too many failed logins: locked, try after {until}.",
        "login.expired": "Your session has ended: please log in again.",
        "error.forbidden": "You may not open this page.",
        "error.csrf": "This form has expired or did not come from this console. Reload the page and try again.",
        "error.not_found": "Not found.",
        "error.title": "Refused",
        "error.back": "Back to the dashboard",
        "dashboard.title": "Dashboard",
        "dashboard.live_calls": "Live calls now",
        "dashboard.calls_today": "Calls today",
        "dashboard.revenue_today": "Revenue today",
        "dashboard.refusals": "Calls refused by reason",
        "dashboard.refusals_none": "Refusals are not recorded: admission logs each one, it keeps no counts.",
        "dashboard.outbox": "Emails",
        "dashboard.outbox_pending": "pending",
        "dashboard.outbox_dead": "failed for good",
        "dashboard.quarantine": "Quarantined CDR lines",
        "dashboard.health": "Health",
        "dashboard.health_ok": "ok",
        "dashboard.health_bad": "degraded",
        "dashboard.database": "Database",
        "dashboard.asterisk": "Asterisk",
        "subscribers.title": "Subscribers",
        "subscribers.search": "Search",
        "subscribers.search_hint": "name, email, SIP username or account code",
        "subscribers.new": "New subscriber",
        "subscribers.none": "No subscriber matches.",
        "subscribers.next": "Next page",
        "subscribers.first": "First page",
        "subscribers.created": "Subscriber created",
        "subscribers.password_once": "The SIP password, shown only this once:",
        "subscribers.edit": "Edit",
        "subscribers.saved": "Saved.",
        "field.id": "Id",
        "field.name": "Name",
        "field.email": "Email",
        "field.language": "Language",
        "field.username": "SIP username",
        "field.caller_id_number": "Caller ID number",
        "field.account_code": "Account code",
        "field.daily_limit": "Daily limit (EUR)",
        "field.created_at": "Created",
        "field.account": "Account",
        "form.save": "Save",
        "form.create": "Create",
        "form.error": "Please correct: {message}",
        "account.title": "Account {code}",
        "account.balance": "Balance",
        "account.available": "Available",
        "account.spent_today": "Spent today",
        "account.daily_limit": "Daily limit",
        "account.no_limit": "none",
        "account.status": "Status",
        "account.kind": "Kind",
        "account.policy": "Call policy",
        "account.allowlist": "Allowed networks (one per line; empty: any)",
        "account.premium": "Premium numbers",
        "account.international": "International",
        "account.max_concurrent": "Concurrent calls at most",
        "account.save_allowlist": "Save the allowed networks",
        "account.top_up": "Top up",
        "account.amount": "Amount (EUR)",
        "account.reference": "Reference",
        "account.suspend": "Suspend",
        "account.cause": "Cause",
        "account.note": "Note",
        "account.reinstate": "Reinstate",
        "account.suspended_since": "Suspended since {at} ({cause})",
        "account.live_calls": "Live calls: {count}",
        "account.end_calls": "End all calls",
        "account.calls_ended": "{count} calls ended.",
        "account.ledger": "Ledger",
        "account.ledger_older": "Older entries",
        "account.ledger_newest": "Newest entries",
        "ledger.at": "When",
        "ledger.kind": "Kind",
        "ledger.amount": "Amount",
        "ledger.reference": "Reference",
        "yes": "yes",
        "no": "no",
    },
    "ro": {
        "app.name": "Consola ClickPhone",
        "nav.dashboard": "Panou",
        "nav.subscribers": "Abonați",
        "nav.account": "Contul meu",
        "nav.logout": "Ieșire",
        "nav.language": "Limba",
        "login.title": "Autentificare",
        "login.username": "Utilizator",
        "login.password": "Parolă",
        "login.submit": "Intră",
        "login.wrong": "Utilizator sau parolă greșită.",
        "login.locked": "Prea multe încercări eșuate: blocat, încercați după {until}.",
        "login.expired": "Sesiunea s-a încheiat: autentificați-vă din nou.",
        "error.forbidden": "Nu aveți voie să deschideți această pagină.",
        "error.csrf": "Formularul a expirat sau nu provine din această consolă. Reîncărcați pagina și încercați din nou.",
        "error.not_found": "Nu există.",
        "error.title": "Refuzat",
        "error.back": "Înapoi la panou",
        "dashboard.title": "Panou",
        "dashboard.live_calls": "Apeluri în curs",
        "dashboard.calls_today": "Apeluri azi",
        "dashboard.revenue_today": "Încasări azi",
        "dashboard.refusals": "Apeluri refuzate, după motiv",
        "dashboard.refusals_none": "Refuzurile nu sunt numărate: admiterea le scrie în jurnal, fără contoare.",
        "dashboard.outbox": "E-mailuri",
        "dashboard.outbox_pending": "în așteptare",
        "dashboard.outbox_dead": "eșuate definitiv",
        "dashboard.quarantine": "Linii CDR în carantină",
        "dashboard.health": "Stare",
        "dashboard.health_ok": "bună",
        "dashboard.health_bad": "degradată",
        "dashboard.database": "Baza de date",
        "dashboard.asterisk": "Asterisk",
        "subscribers.title": "Abonați",
        "subscribers.search": "Caută",
        "subscribers.search_hint": "nume, e-mail, utilizator SIP sau cod de cont",
        "subscribers.new": "Abonat nou",
        "subscribers.none": "Niciun abonat nu corespunde.",
        "subscribers.next": "Pagina următoare",
        "subscribers.first": "Prima pagină",
        "subscribers.created": "Abonat creat",
        "subscribers.password_once": "Parola SIP, afișată doar acum:",
        "subscribers.edit": "Modifică",
        "subscribers.saved": "Salvat.",
        "field.id": "Id",
        "field.name": "Nume",
        "field.email": "E-mail",
        "field.language": "Limba",
        "field.username": "Utilizator SIP",
        "field.caller_id_number": "Număr afișat",
        "field.account_code": "Cod de cont",
        "field.daily_limit": "Limită zilnică (EUR)",
        "field.created_at": "Creat",
        "field.account": "Cont",
        "form.save": "Salvează",
        "form.create": "Creează",
        "form.error": "Corectați: {message}",
        "account.title": "Contul {code}",
        "account.balance": "Sold",
        "account.available": "Disponibil",
        "account.spent_today": "Cheltuit azi",
        "account.daily_limit": "Limită zilnică",
        "account.no_limit": "fără",
        "account.status": "Stare",
        "account.kind": "Tip",
        "account.policy": "Politica de apeluri",
        "account.allowlist": "Rețele permise (una pe rând; gol: oricare)",
        "account.premium": "Numere premium",
        "account.international": "Internațional",
        "account.max_concurrent": "Apeluri simultane, cel mult",
        "account.save_allowlist": "Salvează rețelele permise",
        "account.top_up": "Alimentare",
        "account.amount": "Sumă (EUR)",
        "account.reference": "Referință",
        "account.suspend": "Suspendă",
        "account.cause": "Motiv",
        "account.note": "Notă",
        "account.reinstate": "Reactivează",
        "account.suspended_since": "Suspendat din {at} ({cause})",
        "account.live_calls": "Apeluri în curs: {count}",
        "account.end_calls": "Încheie toate apelurile",
        "account.calls_ended": "{count} apeluri încheiate.",
        "account.ledger": "Registru",
        "account.ledger_older": "Înregistrări mai vechi",
        "account.ledger_newest": "Cele mai noi",
        "ledger.at": "Când",
        "ledger.kind": "Tip",
        "ledger.amount": "Sumă",
        "ledger.reference": "Referință",
        "yes": "da",
        "no": "nu",
    },
}
# the tariff, invoice, audit, user and token pages' words (their own module)
for _language, _texts in ADMIN_TEXTS.items():
    CATALOG[_language].update(_texts)


def translate(language: str, key: str, **values: object) -> str:
    """The text of ``key`` in ``language`` with ``values`` filled in (the key
    itself when missing, so a gap shows on the page instead of failing it)."""
    text = CATALOG.get(language, CATALOG[DEFAULT_LANGUAGE]).get(key, key)
    return text.format(**values) if values else text


def from_accept_language(header: str) -> str:
    """The first of our languages the browser's Accept-Language names, by
    its weights; Romanian when it names none."""
    ranked: list[tuple[Decimal, int, str]] = []
    for index, item in enumerate(header.split(",")[:MAX_ACCEPT_LANGUAGE_ITEMS]):
        tag, _, params = item.strip().partition(";")
        weight = Decimal(1)
        if params.strip().startswith("q="):
            # a weight is at most "1.000" (RFC 9110); anything else counts as "not wanted"
            text = params.strip()[2:7]
            weight = Decimal(text) if _QVALUE.fullmatch(text) else Decimal(0)
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, index, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def language_of(request: web.Request) -> str:
    """The language to answer ``request`` in: the user's pick, else the browser's, else Romanian."""
    picked = request.cookies.get(LANGUAGE_COOKIE)
    if picked in LANGUAGES:
        return picked
    return from_accept_language(request.headers.get("Accept-Language", "")[:1000])
