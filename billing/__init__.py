"""Money, pure and exact: numbering plan, tariffs, rating, VAT, penalties,
recurring fees, BNR exchange rates, CDR formats and batch rating.

The kernel (``numbering.classify``, ``rating.rate_call``,
``rating.split_by_bundle``) is pure functions over plain data. Amounts are
integer micro-units; rounding happens only in :mod:`billing.money`.
"""
