"""Email text from Jinja2 templates: Romanian by default, English on
request, plain text and HTML, times in the operator's zone
(Europe/Bucharest).

Templates live in ``templates/<language>/``: ``<name>.txt`` is the plain
text and sets the subject (``{% set subject %}...{% endset %}``);
``<name>.html`` is the HTML part, autoescaped (invariant 7: a caller name
``<b>`` shows as text). Undefined variables are errors, not blanks.

Filters the templates use:

``local_time``  an aware datetime in the operator's zone: ``1 iulie 2025, 12:00``
``local_date``  a date (or datetime, in the zone): ``1 iulie 2025``
``duration``    seconds: ``1 min 05 s``
``money``       a Decimal and its currency: ``1.234,50 RON`` / ``1,234.50 RON``
``caller``      the event's caller: ``Ion Pop (0722123456)``, or the number,
                or "număr ascuns" / "withheld number"
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SUPPORTED_LANGUAGES = ("ro", "en")
DEFAULT_LANGUAGE = "ro"
DEFAULT_TIMEZONE = "Europe/Bucharest"
CENT = Decimal("0.01")

MONTHS = {
    "ro": (
        "ianuarie", "februarie", "martie", "aprilie", "mai", "iunie",
        "iulie", "august", "septembrie", "octombrie", "noiembrie", "decembrie",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}
# (thousands separator, decimal mark)
NUMBER_MARKS = {"ro": (".", ","), "en": (",", ".")}
WITHHELD_NUMBER = {"ro": "număr ascuns", "en": "withheld number"}


@dataclass(frozen=True)
class RenderedEmail:
    language: str
    subject: str
    text: str
    html: str


def language_of(preference: str | None) -> str:
    """Return the supported language for an account's preference: ``en``,
    ``en-GB`` and ``EN`` give ``en``; anything unsupported gives ``ro``."""
    code = (preference or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


class Renderer:
    """Renders the email templates; one per process is enough (templates are
    compiled once and cached)."""

    def __init__(
        self, *, timezone: str = DEFAULT_TIMEZONE, templates_dir: Path = TEMPLATES_DIR
    ) -> None:
        self.timezone = ZoneInfo(timezone)
        self._env = Environment(
            loader=FileSystemLoader(templates_dir),
            autoescape=select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self._env.filters.update(
            local_time=self._local_time,
            local_date=self._local_date,
            duration=_duration,
            money=_money,
            caller=_caller,
        )

    def render(self, name: str, language: str | None, **context: Any) -> RenderedEmail:
        """Return template ``name`` rendered in the account's ``language``
        (``language_of`` decides) with ``context``."""
        chosen = language_of(language)
        variables = {**context, "language": chosen}
        text = self._env.get_template(f"{chosen}/{name}.txt").make_module(variables)
        subject = " ".join(str(text.subject).split())
        html = self._env.get_template(f"{chosen}/{name}.html").render(variables, subject=subject)
        return RenderedEmail(language=chosen, subject=subject, text=str(text), html=html)

    def local_datetime(self, moment: datetime) -> datetime:
        """Return ``moment`` (aware) in the operator's time zone."""
        if moment.tzinfo is None:
            raise ValueError(f"naive datetime {moment!r}: event times must carry a time zone")
        return moment.astimezone(self.timezone)

    @pass_context
    def _local_time(self, context: Context, moment: datetime) -> str:
        local = self.local_datetime(moment)
        return f"{_day(local.date(), context['language'])}, {local:%H:%M}"

    @pass_context
    def _local_date(self, context: Context, day: date | datetime) -> str:
        if isinstance(day, datetime):
            day = self.local_datetime(day).date()
        return _day(day, context["language"])


def _day(day: date, language: str) -> str:
    return f"{day.day} {MONTHS[language][day.month - 1]} {day.year}"


def _duration(seconds: int | float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


@pass_context
def _money(context: Context, amount: Decimal | int, currency: str) -> str:
    # display only: amounts arrive already rounded by billing; a float here
    # would already be wrong (invariant 1), so it is refused
    if isinstance(amount, float) or not isinstance(amount, (Decimal, int)):
        raise TypeError(f"money amounts are Decimal, not {type(amount).__name__}")
    thousands, decimal_mark = NUMBER_MARKS[context["language"]]
    plain = f"{Decimal(amount).quantize(CENT, ROUND_HALF_UP):,.2f}"  # 1,234.50
    localized = plain.translate(str.maketrans({",": thousands, ".": decimal_mark}))
    return f"{localized} {currency}"


@pass_context
def _caller(context: Context, event: Any) -> str:
    number = _one_line(getattr(event, "caller_number", "") or "")
    name = _one_line(getattr(event, "caller_name", "") or "")
    if not number or number.lower() in ("anonymous", "unknown", "restricted"):
        number = WITHHELD_NUMBER[context["language"]]
    if name and name != number:
        return f"{name} ({number})"
    return number


def _one_line(value: str) -> str:
    # a caller ID is one line: a name with line breaks must not lay out
    # lines of its own in the text part
    return " ".join("".join(" " if not char.isprintable() else char for char in value).split())
