"""What a letter says: the template for its kind and the borrower's locale, filled with the
account's facts formatted for that locale.

Templates are Jinja2 text files, `templates/{locale}/{kind}.j2`, each extending the locale's
`_letter.j2` layout. We chose Jinja2 text over a structured YAML per kind because the SMS and
voice templates of the channels are Jinja2 too (one language for everything the borrower reads),
because wording that depends on the facts ("if a waiver is offered ...", plural days) is natural
in Jinja and clumsy in YAML, and because a translator edits one readable file per letter.

The rendered text is a sequence of sections, each opened by a line `[name]` (see SECTIONS); the
order of sections in the template is the order on the page, so a locale decides, for instance,
that a Chinese letter puts the addressee's address before the name and dates the letter under the
signature. One non-empty line is one paragraph; a table row is `label | value`. Values are
escaped for reportlab's paragraph markup and cannot open a section (no newlines, no `[`), so a
borrower's name can never change the letter's structure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from markupsafe import Markup, escape

from domain.calendar import local_date
from domain.money import to_decimal

__all__ = [
    "DEFAULT_LOCALE",
    "LETTER_KINDS",
    "SECTIONS",
    "TEMPLATES_DIR",
    "LetterContent",
    "LetterContentError",
    "LetterFacts",
    "OfferTerms",
    "Section",
    "compose",
    "offer_terms",
    "resolve_locale",
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# The letter kinds every template locale provides; strategies name them as step templates.
LETTER_KINDS: tuple[str, ...] = (
    "reminder_letter",
    "demand_letter",
    "lawyer_letter",
    "restructure_offer",
    "settlement_offer",
)

# The borrower base is Chinese (PLAYBOOK.md, the strategy's default zone): an unknown locale gets
# the Chinese letter rather than none.
DEFAULT_LOCALE = "zh-CN"
TEMPLATE_LOCALES: tuple[str, ...] = ("zh-CN", "en")

# Section name -> how the layout sets it (activities/letters/layout.py owns the styles).
SECTIONS: frozenset[str] = frozenset(
    {
        "letterhead",  # sender block at the top, first line larger
        "date",  # the letter date, right-aligned
        "addressee",  # the postal block (name and address lines)
        "reference",  # small print: loan and letter reference
        "title",  # the letter's heading
        "salutation",
        "body",
        "facts",  # table of the account's facts: `label | value`
        "terms",  # table of offer terms: `label | value`
        "closing",
        "signature",  # right-aligned
        "footer",  # one line on every page; `{page}` is replaced by the page number
    }
)
TABLE_SECTIONS: frozenset[str] = frozenset({"facts", "terms"})

_HEADER = re.compile(r"^\[([a-z_]+)\]$")
_STRAY_HEADER = re.compile(r"\[(" + "|".join(sorted(SECTIONS)) + r")\]")


class LetterContentError(ValueError):
    """The letter cannot be written as asked (unknown kind, missing offer terms): a business
    outcome to record, not something a retry would fix."""


@dataclass(frozen=True)
class Section:
    name: str
    lines: tuple[str, ...]
    """Paragraph markup: escaped text, possibly with reportlab inline tags from the template."""


@dataclass(frozen=True)
class LetterContent:
    kind: str
    locale: str
    """The template locale, e.g. zh-CN or en."""
    format_locale: str
    """The babel locale amounts and dates were formatted in, e.g. en_GB for an en-GB borrower."""
    letter_date: date
    title: str
    sections: tuple[Section, ...]

    @property
    def language(self) -> str:
        return self.locale.split("-")[0]


@dataclass(frozen=True)
class OfferTerms:
    """A restructure offer as `action.detail` carries it (see offer_terms for the keys)."""

    new_instalment_amount: Decimal
    instalment_count: int
    waiver_amount: Decimal
    expires_on: date


@dataclass(frozen=True)
class LetterFacts:
    """Everything a letter may print, before formatting. Built from a DeliveryRequest."""

    kind: str
    letter_id: str
    loan_id: str
    name: str
    address_lines: tuple[str, ...]
    locale: str
    timezone: str
    at: datetime
    currency: str
    amount_overdue: Decimal
    balance: Decimal
    dpd: int
    due_date: date | None
    detail: Mapping[str, Any]


def resolve_locale(requested: str | None) -> tuple[str, str]:
    """(template locale, babel formatting locale) for the borrower's locale.

    The template is chosen by language (en-US and en-GB read the `en` letter, zh-TW the zh-CN
    one); amounts and dates keep the borrower's own conventions when we write their language
    (8 December 2026 for en-GB, December 8, 2026 for en-US). Anything we have no letter for gets
    the default locale entirely, so the wording and the formatting never disagree.
    """
    default = (DEFAULT_LOCALE, DEFAULT_LOCALE.replace("-", "_"))
    if not requested:
        return default
    try:
        parsed = Locale.parse(requested.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return default
    for template_locale in TEMPLATE_LOCALES:
        if parsed.language == template_locale.split("-")[0]:
            return template_locale, str(parsed)
    return default


def _parse_date(value: Any, tz: str) -> date:
    if isinstance(value, datetime):
        return local_date(value, tz)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if "T" in text or " " in text:
            return local_date(datetime.fromisoformat(text.replace("Z", "+00:00")), tz)
        return date.fromisoformat(text)
    raise ValueError(f"{value!r} is not a date")


def _first(detail: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if detail.get(key) is not None:
            return detail[key]
    return None


def settlement_terms(
    detail: Mapping[str, Any], money: Callable[[Decimal], str], day: Callable[[date | None], str]
) -> dict[str, Any]:
    """The settlement offer to a deceased borrower's family (PLAYBOOK.md section 8) as the
    action's detail carries it: `amount` (what settles the account), `balance` (what is owed),
    `discount_pct` and `expires_on`. What is forgiven is the balance less the amount."""
    missing = [k for k in ("amount", "balance", "expires_on") if detail.get(k) in (None, "")]
    if missing:
        raise LetterContentError(
            "The settlement offer has no " + ", ".join(missing) + " in the action's detail."
        )
    try:
        amount = Decimal(to_decimal(str(detail["amount"])))
        balance = Decimal(to_decimal(str(detail["balance"])))
        expires = date.fromisoformat(str(detail["expires_on"])[:10])
        pct = Decimal(to_decimal(str(detail.get("discount_pct") or "0")))
    except (ValueError, ArithmeticError) as exc:
        raise LetterContentError(f"The settlement offer's terms are unreadable: {exc}") from exc
    return {
        "amount": money(amount),
        "balance": money(balance),
        "forgiven": money(balance - amount),
        "discount_pct": f"{(pct * 100).normalize():f}%",
        "expires_on": day(expires),
    }


def _named_loans(
    detail: Mapping[str, Any], money: Callable[[Decimal], str]
) -> list[dict[str, Any]]:
    """The overdue loans a consolidated letter names (docs/borrowers.md), when several: each
    loan's id and what is overdue on it, as the action's detail (`loans`) carries them."""
    named = detail.get("loans") or []
    if not isinstance(named, list) or len(named) < 2:
        return []
    try:
        return [
            {
                "loan_id": str(n["loan_id"]),
                "amount": Decimal(to_decimal(str(n["amount_overdue"]))),
                "amount_overdue": money(Decimal(to_decimal(str(n["amount_overdue"])))),
            }
            for n in named
        ]
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise LetterContentError(f"The loans this letter names are unreadable: {exc}") from None


def offer_terms(detail: Mapping[str, Any], tz: str) -> OfferTerms:
    """Read the offer from the action's detail.

    Keys: `new_instalment_amount` (decimal string), `instalment_count` (int), `waiver_amount`
    (decimal string, optional, default 0) and `expires_on` (ISO date, or an instant, read as the
    borrower's local date). The short spellings `instalment_amount`, `instalments`, `waiver` and
    `expires_at`/`expiry` are accepted too, so the workflow and the letter need not move in step.
    """
    missing = []
    amount = _first(detail, "new_instalment_amount", "instalment_amount")
    count = _first(detail, "instalment_count", "instalments", "number_of_instalments")
    waiver = _first(detail, "waiver_amount", "waiver")
    expires = _first(detail, "expires_on", "expires_at", "expiry", "offer_expires")
    if amount is None:
        missing.append("new_instalment_amount")
    if count is None:
        missing.append("instalment_count")
    if expires is None:
        missing.append("expires_on")
    if missing:
        raise LetterContentError(
            "The restructure offer has no " + ", ".join(missing) + " in the action's detail."
        )
    try:
        terms = OfferTerms(
            new_instalment_amount=Decimal(to_decimal(str(amount))),
            instalment_count=int(str(count)),  # "6" or 6, never 6.7
            waiver_amount=Decimal(to_decimal(str(waiver))) if waiver is not None else Decimal(0),
            expires_on=_parse_date(expires, tz),
        )
    except (ValueError, ArithmeticError) as exc:
        raise LetterContentError(f"The restructure offer's terms are not valid: {exc}") from None
    if terms.new_instalment_amount <= 0 or terms.instalment_count < 1 or terms.waiver_amount < 0:
        raise LetterContentError(
            "The restructure offer needs a positive instalment amount, at least one instalment "
            "and a waiver that is not negative."
        )
    return terms


def _value(value: Any) -> Markup:
    """Jinja's finalize: every `{{ value }}` becomes one escaped line that cannot open a section.

    Collapsing whitespace removes newlines (a value never spans lines, so it can never become a
    `[section]` line), and `[` is written as a character reference for the same reason.
    """
    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup("")
    text = " ".join(str(value).split())
    return Markup(str(escape(text)).replace("[", "&#91;"))


@cache
def _environment(locale: str) -> Environment:
    """One environment per template locale, so a letter extends its own locale's `_letter.j2`."""
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR / locale)),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt variable fails the test suite, not a letter
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_value,
    )


def _sections(text: str, source: str) -> tuple[Section, ...]:
    sections: list[Section] = []
    name: str | None = None
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        header = _HEADER.match(line)
        if header:
            if name is not None:
                sections.append(Section(name, tuple(lines)))
            name, lines = header.group(1), []
            if name not in SECTIONS:
                raise LetterContentError(f"{source}: unknown section [{name}]")
            continue
        if name is None:
            raise LetterContentError(f"{source}: text before the first [section]: {line!r}")
        if _STRAY_HEADER.search(line):  # values cannot contain "[": the template joined lines
            raise LetterContentError(f"{source}: a section header inside a line: {line!r}")
        if name in TABLE_SECTIONS and "|" not in line:
            raise LetterContentError(f"{source}: a [{name}] row needs 'label | value': {line!r}")
        lines.append(line)
    if name is not None:
        sections.append(Section(name, tuple(lines)))
    return tuple(s for s in sections if s.lines)


def _formatters(
    format_locale: str, currency: str
) -> tuple[Callable[[Any], str], Callable[[date | None], str]]:
    def money(amount: Any) -> str:
        return str(format_currency(Decimal(amount), currency, locale=format_locale))

    def day(value: date | None) -> str:
        return "" if value is None else str(format_date(value, format="long", locale=format_locale))

    return money, day


def compose(facts: LetterFacts) -> LetterContent:
    """Render the letter's text for the borrower's locale. Pure: no clock, no I/O but templates.

    The letter date is the action's business instant in the borrower's zone, so a letter the
    workflow decided on at 01:30 in Shanghai is dated that Shanghai day even though it is still
    the previous day in UTC, and a retry days later still prints the same date.
    """
    if facts.kind not in LETTER_KINDS:
        raise LetterContentError(f"There is no letter template {facts.kind!r}.")
    locale, format_locale = resolve_locale(facts.locale)
    money, day = _formatters(format_locale, facts.currency)
    letter_date = local_date(facts.at, facts.timezone)
    offer: dict[str, Any] | None = None
    if facts.kind == "restructure_offer":
        terms = offer_terms(facts.detail, facts.timezone)
        offer = {
            "new_instalment_amount": money(terms.new_instalment_amount),
            "instalment_count": terms.instalment_count,
            "waiver_amount": money(terms.waiver_amount) if terms.waiver_amount > 0 else None,
            "total": money(terms.new_instalment_amount * terms.instalment_count),
            "expires_on": day(terms.expires_on),
        }
    if facts.kind == "settlement_offer":
        offer = settlement_terms(facts.detail, money, day)
    law_firm = facts.detail.get("law_firm")
    loans = _named_loans(facts.detail, money)
    context: dict[str, Any] = {
        "kind": facts.kind,
        "letter_id": facts.letter_id,
        "loan_id": facts.loan_id,
        "name": facts.name,
        "address_lines": list(facts.address_lines),
        "letter_date": day(letter_date),
        "amount_overdue": money(facts.amount_overdue),
        "balance": money(facts.balance) if facts.balance > 0 else None,
        "dpd": facts.dpd,
        "due_date": day(facts.due_date) if facts.due_date else None,
        "pay_by": lambda days: day(letter_date + timedelta(days=int(days))),
        "offer": offer,
        "law_firm": str(law_firm) if law_firm else None,
        "loans": loans,
        "total_overdue": money(sum((Decimal(str(n["amount"])) for n in loans), Decimal(0))),
    }
    source = f"{locale}/{facts.kind}.j2"
    try:
        template = _environment(locale).get_template(f"{facts.kind}.j2")
    except TemplateNotFound:
        raise LetterContentError(f"There is no letter template {source}.") from None
    sections = _sections(template.render(context), source)
    title = next((" ".join(s.lines) for s in sections if s.name == "title"), facts.kind)
    return LetterContent(
        kind=facts.kind,
        locale=locale,
        format_locale=format_locale,
        letter_date=letter_date,
        title=title,
        sections=sections,
    )
