"""Invariant 1 held over the source of every package: money is exact
(integer micro-units or Decimal), never float, and rounding happens in one
documented place (``billing/money.py``).

An AST walk over each package's modules looks for what would break it:

* ``float(...)`` — anywhere, whatever its argument: a money value can hide
  under any name, so every float conversion is listed below with its reason;
* rounding — ``round(...)``, ``math.floor/ceil/trunc(...)``, ``.quantize(...)``,
  a ``ROUND_*`` mode, and a change of Decimal's context (``localcontext``,
  ``getcontext``: its precision decides where Decimal arithmetic rounds) —
  anywhere but ``billing/money.py``;
* ``/`` on a money value (true division gives a float from ints, and an
  inexact Decimal from Decimals), ``//`` on a money value outside
  ``billing/money.py`` (floor division is rounding), and a float literal in
  arithmetic with a money value.

A money value is recognised by name (see :func:`is_money_name`): a variable,
attribute, keyword or string key whose words include a money word
(``micro``, ``amount``, ``balance``, ``price``, ``fee``, ``cost``, ``total``,
``vat``, ``eur``, ``ron``...) and no unit word that makes it a quantity of
something else (``total_seconds``, ``fee_days``). "rate" alone is not a money
word (audio sample rates, rate limits): money rates carry their currency in
the name (``rate_eur_per_minute``, ``ron_per_eur``).

Every finding the packages have today is in ``ALLOWED`` with the reason it
keeps money exact; a new one fails the test until it is fixed or listed with
its reason, and a listed one that no longer occurs fails too, so the list
stays true.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Top-level folders that hold no package code of the product: the tests
# themselves and the benchmarks (their figures are timings, not money).
NOT_PACKAGES = {"tests", "bench"}

# The one module allowed to round (its docstring states the policy).
ROUNDING_MODULE = "billing.money"

MONEY_WORDS = frozenset({
    "micro", "amount", "balance", "price", "fee", "cost", "total", "subtotal", "vat", "tax",
    "eur", "euro", "ron", "lei", "ban", "bani", "cent", "net", "gross", "credit", "debit",
    "charge", "penalty", "tariff", "money", "payment", "paid", "refund", "topup", "budget",
    "spent", "owed",
})
# Words that make a name a quantity of something else than money.
UNIT_WORDS = frozenset({
    "second", "sec", "minute", "ms", "millisecond", "hour", "day", "month", "count", "digit",
    "byte", "frame", "index", "id", "position", "line", "number", "place",
})

ROUNDING_CALLS = {"round"}
MATH_ROUNDING = {"floor", "ceil", "trunc"}
DECIMAL_CONTEXT_CALLS = {"localcontext", "getcontext", "setcontext"}

# (module, enclosing function, the flagged code as ast.unparse writes it) ->
# why it keeps invariant 1. Each entry was inspected by hand.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("ari_app.calls", "CallRecord.decode", "float(data['talk_started_at'])"):
        "a wall-clock timestamp read back from a call record, not money",
    ("ari_app.controller", "CallController._teardown", "round(talk, 1)"):
        "talk seconds rounded for a log line, not money",
    ("ari_app.inbound", "run_inbound", "round(asyncio.get_running_loop().time() - ring_started)"):
        "seconds the call rang, for the missed-call email, not money",
    ("ari_app.voicemail", "VoicemailService._converse",
     "float((ended or {}).get('recording', {}).get('duration') or 0)"):
        "the recording's length in seconds as Asterisk reports it, not money",
    ("ari_app.voicemail", "VoicemailService._converse", "round(seconds)"):
        "the message's length in whole seconds for the email, not money",
    ("ari_app.voicemail", "_ring_seconds", "round((until - created).total_seconds())"):
        "seconds the call rang, not money",
    ("notify.render", "_duration", "round(seconds)"):
        "a duration shown in whole seconds, not money",
    ("notify.render", "_money", "Decimal(amount).quantize(CENT, ROUND_HALF_UP)"):
        "display only: billing has already rounded the amount (micro-units); the email "
        "shows it to the cent, and a float amount is refused just above",
    ("web.auth", "FailedLogins.retry_after", "math.ceil(left)"):
        "whole seconds of a login lockout, not money",
    ("web.auth", "FailedLogins.failed", "math.ceil(lockout)"):
        "whole seconds of a login lockout, not money",
    ("billing.fx_bnr", "_value", "localcontext()"):
        "value / multiplier at 50 digits: BNR publishes multipliers 1 and 100, powers of "
        "ten, for which the division only moves the decimal point (exact); any other would "
        "round at the 50th digit, far below the micro-unit",
    ("billing.authorisation", "max_call_seconds",
     "((budget_micro - rate.connect_fee_micro + 1) * rate.scale_d - rate.scale_h - 1) // rate.scale_a"):
        "the result is seconds, not money: the longest call whose cost (rounded by "
        "money's Scaler) stays within the budget, floored so the call never exceeds it",
    ("billing.invoicing.storing", "_ron_vat_micro", "net_ron_micro // RON_PER_BAN_MICRO"):
        "exact: net_ron_micro is whole bani (records.ron_micro rounds to the ban), so "
        "dividing by the micro-RON in a ban drops nothing",
}


@dataclass(frozen=True)
class Finding:
    """One place in the source that could break invariant 1."""

    module: str  # dotted module name
    function: str  # qualified name of the enclosing function, or "<module>"
    code: str  # the flagged expression, as ast.unparse writes it
    line: int
    why: str  # which rule it trips

    @property
    def key(self) -> tuple[str, str, str]:
        """The key ``ALLOWED`` lists it by (no line number: code moves)."""
        return (self.module, self.function, self.code)

    def __str__(self) -> str:
        return f"{self.module}:{self.line} in {self.function}: {self.why}: {self.code}"


def name_words(name: str) -> list[str]:
    """Return the lower-case words of an identifier or key, singular:
    ``netRonMicro`` and ``net_ron_micros`` both give ``["net", "ron", "micro"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def is_money_name(name: str) -> bool:
    """True if ``name`` names a money value: one of its words is a money word
    and none is a unit word that makes it a count of something else. Words
    after ``per`` name a denominator (``rate_eur_per_minute`` is money)."""
    words = name_words(name)
    if "per" in words:
        words = words[: words.index("per")]
    words = set(words)
    return bool(words & MONEY_WORDS) and not words & UNIT_WORDS


def mentions_money(node: ast.AST) -> bool:
    """True if the expression reads a money value by name: a variable, an
    attribute, a keyword argument or a string subscript key."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and is_money_name(sub.id):
            return True
        if isinstance(sub, ast.Attribute) and is_money_name(sub.attr):
            return True
        if isinstance(sub, ast.keyword) and sub.arg and is_money_name(sub.arg):
            return True
        if (isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant)
                and isinstance(sub.slice.value, str) and is_money_name(sub.slice.value)):
            return True
    return False


def _is_float_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, float)


class _Scanner(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.may_round = module == ROUNDING_MODULE
        self.scope: list[str] = []
        self.found: list[Finding] = []
        self._inside_flagged_call = 0

    def _flag(self, node: ast.AST, why: str) -> None:
        self.found.append(Finding(self.module, ".".join(self.scope) or "<module>",
                                  ast.unparse(node), getattr(node, "lineno", 0), why))

    def _scoped(self, node: ast.AST) -> None:
        self.scope.append(node.name)  # type: ignore[attr-defined]
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        why = None
        if isinstance(func, ast.Name) and func.id == "float":
            why = "float() conversion"
        elif not self.may_round:
            if isinstance(func, ast.Name) and func.id in ROUNDING_CALLS:
                why = "round() outside billing/money.py"
            elif (isinstance(func, ast.Attribute) and func.attr in MATH_ROUNDING
                  and isinstance(func.value, ast.Name) and func.value.id == "math"):
                why = f"math.{func.attr}() outside billing/money.py"
            elif isinstance(func, ast.Attribute) and func.attr == "quantize":
                why = "Decimal.quantize() outside billing/money.py"
            elif (isinstance(func, ast.Name) and func.id in DECIMAL_CONTEXT_CALLS) or (
                    isinstance(func, ast.Attribute) and func.attr in DECIMAL_CONTEXT_CALLS):
                why = "a Decimal context (its precision rounds) outside billing/money.py"
        if why is None:
            self.generic_visit(node)
            return
        self._flag(node, why)
        # a ROUND_ mode given to a flagged call is part of that finding
        self._inside_flagged_call += 1
        self.generic_visit(node)
        self._inside_flagged_call -= 1

    def _rounding_mode(self, node: ast.AST, name: str) -> None:
        if not self.may_round and not self._inside_flagged_call and name.startswith("ROUND_"):
            self._flag(node, "a Decimal ROUND_ mode outside billing/money.py")

    def visit_Name(self, node: ast.Name) -> None:
        self._rounding_mode(node, node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._rounding_mode(node, node.attr)
        self.generic_visit(node)

    def _arithmetic(self, node: ast.AST, op: ast.operator, left: ast.AST, right: ast.AST) -> None:
        if not (mentions_money(left) or mentions_money(right)):
            return
        if isinstance(op, ast.Div):
            self._flag(node, "true division of a money value")
        elif isinstance(op, ast.FloorDiv) and not self.may_round:
            self._flag(node, "floor division (rounding) of a money value outside billing/money.py")
        elif _is_float_literal(left) or _is_float_literal(right):
            self._flag(node, "a float literal in arithmetic with a money value")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self._arithmetic(node, node.op, node.left, node.right)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._arithmetic(node, node.op, node.target, node.value)
        self.generic_visit(node)


def findings_in(path: Path, module: str) -> list[Finding]:
    """Return every place in the file at ``path`` that could break invariant 1."""
    scanner = _Scanner(module)
    scanner.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return scanner.found


def packages(root: Path = ROOT) -> list[Path]:
    """Return every top-level package folder under ``root`` (a folder with
    an ``__init__.py``), the tests and benchmarks excepted."""
    return sorted(
        p for p in root.iterdir()
        if p.is_dir() and (p / "__init__.py").is_file() and p.name not in NOT_PACKAGES
    )


def findings_under(root: Path = ROOT) -> list[Finding]:
    """Return the findings of every module of every package under ``root``."""
    found: list[Finding] = []
    for package in packages(root):
        for path in sorted(package.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found += findings_in(path, ".".join(parts))
    return found


def unexcused(found: list[Finding], allowed: dict[tuple[str, str, str], str] = ALLOWED) -> list[str]:
    """Return the findings that ``allowed`` does not list, as text."""
    return [str(f) for f in found if f.key not in allowed]


def test_every_package_of_the_project_is_scanned():
    """The scan covers the whole product, not only billing/: every package of
    ARCHITECTURE.md's layout that exists today is found."""
    names = {p.name for p in packages()}
    assert names >= {"admission", "agi", "ari_app", "asterisk_conf", "billing", "controlplane",
                     "notify", "provisioning", "sqlbase", "web"}


def test_no_package_uses_float_or_rounds_money_outside_money_py():
    """Invariant 1: no float conversion, no rounding outside billing/money.py
    and no division of a money value in any package, but the listed ones,
    each with the reason it keeps money exact."""
    assert unexcused(findings_under()) == []


def test_every_listed_exception_is_still_in_the_source():
    """The list of exceptions stays true: an entry whose code is gone is removed."""
    present = {f.key for f in findings_under()}
    assert sorted(key for key in ALLOWED if key not in present) == []


def test_the_scan_fails_on_float_rounding_or_division_of_money(tmp_path):
    """The scanner catches each way money stops being exact, in any package:
    float(amount), round() on money, a money value divided (true or floor
    division) and a float factor applied to a price."""
    package = tmp_path / "anypackage"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "charges.py").write_text(
        "from decimal import ROUND_DOWN\n"
        "def euros(amount):\n"
        "    return float(amount)\n"
        "def share(total_micro, parts):\n"
        "    return round(total_micro / parts)\n"
        "def halves(row):\n"
        "    return row['balance_micro'] // 2\n"
        "def with_vat(price):\n"
        "    return price * 1.19\n"
        "def cut(value):\n"
        "    return value.quantize(1, rounding=ROUND_DOWN)\n"
        "MODE = ROUND_DOWN\n"
    )

    found = unexcused(findings_under(tmp_path))

    assert found == [
        "anypackage.charges:3 in euros: float() conversion: float(amount)",
        "anypackage.charges:5 in share: round() outside billing/money.py: round(total_micro / parts)",
        "anypackage.charges:5 in share: true division of a money value: total_micro / parts",
        "anypackage.charges:7 in halves: floor division (rounding) of a money value outside"
        " billing/money.py: row['balance_micro'] // 2",
        "anypackage.charges:9 in with_vat: a float literal in arithmetic with a money value: price * 1.19",
        "anypackage.charges:11 in cut: Decimal.quantize() outside billing/money.py:"
        " value.quantize(1, rounding=ROUND_DOWN)",
        "anypackage.charges:12 in <module>: a Decimal ROUND_ mode outside billing/money.py: ROUND_DOWN",
    ]


def test_the_scan_leaves_non_money_arithmetic_alone(tmp_path):
    """Paths, durations and counts are divided freely: only money names count,
    so the rule stays strict where it matters without a list of false alarms."""
    package = tmp_path / "anypackage"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "timing.py").write_text(
        "from pathlib import Path\n"
        "def f(root, elapsed, total_seconds, fee_days, sample_rate, frames):\n"
        "    return (Path(root) / 'x', elapsed / 60, total_seconds / 60, fee_days // 7,\n"
        "            frames / sample_rate, elapsed * 1.5)\n"
    )

    assert findings_under(tmp_path) == []


def test_money_names_are_recognised_by_their_words():
    """The naming rule: money words make a money name, unit words veto it,
    and words are whole words (``network`` has no ``net``, ``cron`` no ``ron``)."""
    money = ["amount", "net_ron_micro", "balanceMicro", "prices", "connect_fee_micro", "vat",
             "total", "eur_micro", "ron_per_eur", "rate_eur_per_minute", "budget_micro"]
    other = ["network", "cron_job", "total_seconds", "fee_days", "rate", "duration", "generate",
             "environment", "charged_seconds", "amount_count"]
    assert [n for n in money if not is_money_name(n)] == []
    assert [n for n in other if is_money_name(n)] == []
