"""Invoices: what the ledger charged, per account and period, in RON — the
monthly invoice, and interim invoices of usage so far in a month.

One module per reason to change:

* :mod:`~billing.invoicing.supplier` — who issues invoices, and the checks of
  its identity (CIF, Nr. Reg. Com., IBAN);
* :mod:`~billing.invoicing.records` — the invoice as stored, its number and
  period, reading it back; :mod:`~billing.invoicing.tables` — its tables;
* :mod:`~billing.invoicing.downtime` — the days the service was down;
* :mod:`~billing.invoicing.storing` — storing one invoice of any kind
  (monthly, interim, one-off): price its lines, take the gapless number,
  write the ledger entries it brings, check it against the ledger;
* :mod:`~billing.invoicing.issuing` — the monthly run, which gathers what an
  invoice accounts for through :mod:`~billing.invoicing.usage`, the fee
  through :mod:`~billing.invoicing.recurring`, and waits for the period's
  CDRs (:mod:`~billing.invoicing.uningested`);
* :mod:`~billing.invoicing.interim` — an interim invoice of one account's
  usage so far in a month (art. 7.1.4), gathered the same way;
* :mod:`~billing.invoicing.one_off` — one-off charges (set-up fees,
  equipment) and their one-off invoice, issued in advance and due in 5
  working days (contract art. 7.1.1); :mod:`~billing.invoicing.activation`
  — an account inactive until that invoice is paid;
* :mod:`~billing.invoicing.payments` — payments (in the currency received,
  to an invoice or to an account's oldest open invoices, the rest its
  credit) and where an invoice stands on a day, with the penalty of
  :mod:`~billing.invoicing.penalty`;
* :mod:`~billing.invoicing.exchange` — the exchange differences of lei paid
  late, on the account's next invoice (art. 7.7 ii);
* :mod:`~billing.invoicing.presentation` — the Romanian HTML and the JSON;
* :mod:`~billing.invoicing.errors` — the refusals;
* :mod:`~billing.invoicing.service` — the application service the CLI and
  the scheduler call: issue a month's invoices, an interim one or an
  account's one-off invoice, record a payment, each with its email.

Billing takes hooks (the customer lookup, the emails on issue and on
payment: :class:`~billing.invoicing.service.InvoicingHooks`); the
composition root supplies them.

A monthly invoice is issued once per account and billing period (a calendar month,
Europe/Bucharest, ``'YYYY-MM'``) by :func:`~billing.invoicing.issuing.run_invoices`, normally on the
1st of the next month. It is stored once — totals, lines, the itemised call
list, the VAT rate and FX rate used, snapshots of the customer and of the
supplier — and never updated; payments are recorded beside it.

What an invoice holds (decided here; the contract is silent on the details)
    The ledger is the one source of truth, so an invoice accounts for
    ledger entries, each on exactly one invoice (``invoice_entries``):

    * **usage** — the ``call_charge`` entries ingestion wrote for the
      account's CDRs whose call **start** falls before the period's end and
      that are on no invoice yet: the period's calls, plus any call of an
      earlier month that arrived after that month was invoiced (shown on its
      own line, with its month). Each call is shown as rated now — the
      latest re-rating, if any — and the re-rating ``adjustment`` entries of
      these calls are accounted for with them. Grouped per destination class
      (and month) with calls, billable, included and charged seconds. A
      call belongs to the period of its start whenever it is ingested, so
      the run refuses while CDRs of the period are still on their way
      (:mod:`billing.invoicing.uningested`, :class:`~billing.invoicing.errors.UsageNotIngestedError`);
    * **re-rating corrections** of calls already invoiced (a tariff
      correction after the invoice): one line;
    * **SMS charges** and **other adjustments** recorded before the
      period's end and not invoiced yet: SMS on one line, each adjustment
      on its own (a credit in the customer's favour is a negative line);
    * the **recurring fee** of the period (in arrears), written to the
      ledger by this run as a ``recurring_fee`` entry (idempotency key
      ``recurring_fee:<account>:<YYYY-MM>``) for the fee minus its
      credits; the invoice shows the fee and each credit as its own line.
      Downtime days are the ``service_downtime`` days in the period
      (service-wide, provider's fault; :func:`~billing.invoicing.downtime.record_downtime`), each
      reducing the fee by 1/days-in-month (:func:`billing.invoicing.recurring.recurring_fee`).
      Art. 9.2: days the account was suspended (at any moment of the
      Europe/Bucharest day) for a cause that is not the subscriber's fault
      (``operator``; :mod:`billing.suspension_causes`,
      :func:`billing.suspensions.excused_days`) reduce it the same way, on
      the line "Reducere abonament: N zile de suspendare din motive
      neimputabile abonatului"; a day both down and suspended counts once,
      as down. Days suspended for non-payment, breach or at the
      subscriber's request leave the fee whole.
      The fee is that of the account's service plans in the period,
      pro-rated by days of service (:func:`billing.subscriptions.month_terms`;
      the line then says how many days), and so is the invoice's bundle; an
      account on no plan in the period has its own fee and bundle, whole
      even when it was opened during the period. An account is invoiced for
      a period when it was opened before the period's end or its plan
      started by then;
    * **VAT**, at the rate in force on the **issue date** (19 % before
      2025-08-01, 21 % from then), computed per line; the ledger then holds
      it too, as one ``adjustment`` entry of the invoice's VAT (key
      ``invoice_vat:<number>``): after invoicing, an account owes what its
      invoices say, VAT included. (The ledger has no VAT kind yet.)

    Top-ups and payments are never invoiced. In a check before commit, the
    entries an invoice accounts for (VAT aside) must sum to minus its net
    total, or nothing is issued. Accounts with nothing to invoice (no fee,
    no calls, no entries) get no invoice and consume no number.

Interim invoices (contract art. 7.1.4)
    "The operator can issue an invoice at any time for usage so far in the
    month; the monthly invoice then covers only the rest." An interim
    invoice (kind ``interim``; :func:`~billing.invoicing.interim.issue_interim_invoice`)
    holds what the monthly run would take up to an instant ``until``
    (default now): the usage of calls started before it, re-rating
    corrections, SMS and other adjustments recorded before it — by the same
    gathering (:func:`~billing.invoicing.usage.gather_usage`). It holds no
    recurring fee (the fee stays on the monthly invoice, in arrears) and no
    exchange differences (they stay on the monthly one). Issued today, due
    10 days later, for the 1st of ``until``'s month to its day; VAT, RON,
    numbers and the email as for any invoice. The monthly invoice, and any
    later interim one, skip what it took: every CDR and ledger entry stays
    on exactly one invoice. Several in one month are allowed; none once the
    month has its monthly invoice, and none with nothing to invoice (no
    number is consumed). The month's invoices all show its bundle, and how
    much of it the month used so far (the monthly invoice: the whole
    month's, calls on its interim invoices included).

Prepaid and postpaid
    Postpaid: the invoice asks for payment; it is due 10 days after issue
    and a penalty of 0.1 %/day accrues after that on what is unpaid, capped
    at the amount unpaid on the due date (:mod:`billing.invoicing.penalty`); payments
    are recorded against it (:func:`~billing.invoicing.payments.add_invoice_payment`). Prepaid: usage
    was already paid from the balance, so the invoice is a statement,
    settled from the balance when issued (status ``paid``, no penalty, no
    payments); its recurring fee and VAT are debited from the balance like
    usage (the balance may then go below zero until the next top-up).
    A one-off invoice (set-up fees, equipment: :mod:`~billing.invoicing.one_off`)
    is an invoice in advance: payable whatever the account's kind, due
    5 working days after issue.

Currency, FX and rounding
    Prices and the ledger are EUR (micro-euros, exact). The invoice is in
    RON at the BNR EUR rate of :func:`billing.fx_store.rate_for_invoice`
    (published before the issue date, at most 7 days old; no rate, no
    invoice). RON is computed **once per line**: ``net_ron`` = the line's
    net EUR × rate, rounded half-up once to the **ban** (0.01 RON, what a
    Romanian invoice shows); ``vat_ron`` = ``net_ron`` × VAT rate, rounded
    once to the ban (VAT is computed on the RON taxable amount). EUR VAT is
    per line too, to the micro-euro. Every total is the sum of its lines,
    in both currencies. All rounding goes through :mod:`billing.money`
    (to the ban by scaling the rate by 10⁻⁴, so the result's unit is the ban).
    A payment keeps the currency and amount received: lei settle the
    invoice's RON total (their EUR share in proportion), euros its EUR
    total. Payments' EUR shares and the penalty are tracked in EUR (the
    ledger's unit) and the penalty is also shown in RON at the invoice's rate, capped in RON at the
    RON principal unpaid on the due date (the invoice's RON total, less the
    payments made by then at the invoice's rate): a penalty never exceeds
    the principal in the currency the invoice is payable in (art. 7.7).

Numbers
    Gapless per series: ``<series>-<number:06d>``, e.g. ``CP-000001``. The
    series' counter row is locked and bumped in the transaction that stores
    the invoice: a rolled-back invoice gives its number back. Numbers follow
    issue dates (an earlier issue date than the series' last is refused).
    Locks are taken account first, counter second, everywhere, so
    concurrent runs (several control planes on PostgreSQL) queue instead of
    deadlocking; the second run finds the account's invoice and skips it.

Sending
    ``run_invoices(on_issued=...)`` calls the hook in the transaction that
    issues each invoice (the composition root queues the email there, with
    the HTML from :func:`~billing.invoicing.presentation.render_invoice_html` attached): the email exists
    if and only if the invoice does. Customer name and email come from the
    ``customers`` lookup (provisioning owns them; billing only stores the
    snapshot).

Supplier
    A Romanian invoice names its supplier: name, CIF, Nr. Reg. Com.,
    registered office, and the account customers pay into (IBAN, bank).
    The composition root builds a :class:`~billing.invoicing.supplier.Supplier` from the operator's
    settings (checked by :func:`~billing.invoicing.supplier.checked_supplier`) and passes it to
    :func:`~billing.invoicing.issuing.run_invoices`, which stores it on each invoice: documents render
    the stored copy, so changing the settings later changes no invoice
    already issued. Invoices issued before the supplier was stored carry the
    name alone (``ClickPhone``, what they printed).
"""
