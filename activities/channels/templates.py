"""Message templates: one Jinja2 file per channel, locale and strategy template name.

Files live at `templates/{sms,voice}/{locale}/{name}.j2`. The strategy names the template (policy
is data); the borrower's locale picks the language, falling back from `en-US` to `en` and, for a
language we do not write, to English. Amounts and dates are formatted for the borrower's locale
with babel (CLDR), so "¥1,200.00 / 2026年12月1日" and "CN¥1,200.00 / December 1, 2026" come from
the same template data. Undefined variables are errors (StrictUndefined): a typo in a template
must fail validation, never text a borrower "Dear ,".

`validate_strategy_templates` is what keeps a strategy honest before it runs: every SMS and voice
step must have its template in every supported locale, and an SMS rendered with worst-case values
must fit the strategy's `max_sms_segments`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError
from twilio.twiml.voice_response import VoiceResponse

from activities.channels.segments import SegmentCount, count_segments
from domain.contact import profile as contact_profiles
from domain.contact.consolidation import NamedLoan
from domain.strategy import Strategy, StrategyError
from workflows.contracts import DeliveryRequest, ReminderDetail, StepDetail

__all__ = [
    "DEFAULT_LOCALE",
    "NAME_MAX",
    "SUPPORTED_LOCALES",
    "TEMPLATES_DIR",
    "MessageFacts",
    "RenderedSms",
    "RenderedVoice",
    "TemplateMissing",
    "normalise_locale",
    "render_sms",
    "render_voice",
    "template_locale",
    "longest_opt_out_text",
    "validate_strategy_templates",
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
ChannelName = Literal["sms", "voice"]

SUPPORTED_LOCALES: tuple[str, ...] = ("zh-CN", "en")
"""Every strategy template must exist in each of these (validate_strategy_templates)."""
DEFAULT_LOCALE = "en"

NAME_MAX = 30
"""Names are cut to this many characters in messages, so the worst case validated is the worst
case sent."""

TWIML_MAX = 4000
"""Twilio refuses a `Twiml` parameter longer than 4,000 characters."""

# Twilio <Say> languages; a borrower locale not listed speaks its template locale's default.
SAY_LANGUAGES = frozenset({"zh-CN", "zh-HK", "zh-TW", "en-US", "en-GB", "en-AU", "en-IN", "en-CA"})
SAY_DEFAULT = {"zh-CN": "zh-CN", "en": "en-US"}

# Worst-case sample values: a name at NAME_MAX with a character outside GSM-7 (which makes the
# whole SMS UCS-2, 67 characters a segment), eight-digit amounts in the widest currency formats,
# the longest date of the year, three-digit DPD, and an opt-out instruction (US profiles append
# one).
WORST_NAME = ("Łukasz Brzęczyszczykiewicz-Wojciechowski" * 2)[:NAME_MAX]
WORST_AMOUNT = Decimal("99999999.99")
WORST_CURRENCIES = ("CNY", "USD", "HKD", "EUR")
WORST_DPD = 999
WORST_LOANS = 4
"""A consolidated reminder names every overdue loan of the borrower (docs/borrowers.md): the
worst case validated names this many, each by the last `LOAN_TAIL` characters of its id."""
LOAN_TAIL = 4
OPT_OUT_SAMPLE = "Reply STOP to opt out, HELP for help."
"""The floor for the opt-out instruction a template must leave room for; the longest
`sms_opt_out_text` of the shipped contact profiles counts when it is longer
(`longest_opt_out_text`)."""


class TemplateMissing(LookupError):
    """No template of that name exists for the locale or any fallback."""


@dataclass(frozen=True)
class MessageFacts:
    """What a reminder may say about the account; every field is from the workflow's request."""

    name: str
    currency: str
    amount_due: Decimal
    amount_overdue: Decimal
    balance: Decimal
    due_date: date | None
    dpd: int
    loans: tuple[NamedLoan, ...] = field(default=())
    """Every overdue loan of the borrower this message names, when several (consolidation)."""

    @classmethod
    def from_request(cls, request: DeliveryRequest) -> MessageFacts:
        """`amount_due` is the instalment falling due: the action may name it (pre-due), else
        it is what is overdue, else (nothing overdue yet) the balance."""
        detail = request.action.detail
        explicit = detail.amount_due if isinstance(detail, ReminderDetail) else None
        if explicit is not None:
            amount_due = explicit
        elif request.amount_overdue > 0:
            amount_due = request.amount_overdue
        else:
            amount_due = request.balance
        return cls(
            name=request.target.name,
            currency=request.currency,
            amount_due=amount_due,
            amount_overdue=request.amount_overdue,
            balance=request.balance,
            due_date=request.due_date,
            dpd=request.dpd,
            loans=tuple(detail.loans or ()) if isinstance(detail, StepDetail) else (),
        )


@dataclass(frozen=True)
class RenderedSms:
    text: str
    template: str
    locale: str  # the template locale used
    count: SegmentCount


@dataclass(frozen=True)
class RenderedVoice:
    text: str
    twiml: str
    template: str
    locale: str
    language: str  # the <Say language=...>


def normalise_locale(locale: str) -> str:
    """Spell a locale like the template folders: "zh_cn" and "zh-Hans-CN" → "zh-CN"."""
    parts = [p for p in re.split(r"[-_]", locale.strip()) if p]
    if not parts:
        return DEFAULT_LOCALE
    language = parts[0].lower()
    region = parts[-1] if len(parts) > 1 else ""
    if len(region) == 2 and region.isalpha():
        return f"{language}-{region.upper()}"
    return language


def _candidates(locale: str) -> list[str]:
    wanted = normalise_locale(locale)
    language = wanted.split("-")[0]
    chain = [wanted, language]
    # e.g. zh-TW: no folder of its own and none named "zh", but zh-CN is closer than English.
    chain += sorted(
        p.name for p in (TEMPLATES_DIR / "sms").iterdir() if p.name.startswith(language + "-")
    )
    chain.append(DEFAULT_LOCALE)
    return list(dict.fromkeys(chain))


def _path(channel: ChannelName, name: str, locale: str) -> Path:
    return TEMPLATES_DIR / channel / locale / f"{name}.j2"


def template_locale(channel: ChannelName, name: str, locale: str) -> str:
    """The folder whose template will be used for this borrower locale."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise TemplateMissing(f"{name!r} is not a template name")
    for candidate in _candidates(locale):
        if _path(channel, name, candidate).is_file():
            return candidate
    raise TemplateMissing(f"no {channel} template {name!r} for locale {locale!r} or its fallbacks")


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=StrictUndefined,
        autoescape=False,  # plain text: SMS bodies, and <Say> text that VoiceResponse escapes
        keep_trailing_newline=False,
    )


def _babel_locale(borrower_locale: str, fallback: str) -> str:
    """Format for the borrower's own locale (en-GB dates differ from en-US) when babel knows it."""
    for candidate in (borrower_locale, fallback):
        try:
            return str(Locale.parse(normalise_locale(candidate).replace("-", "_")))
        except (UnknownLocaleError, ValueError):
            continue
    return DEFAULT_LOCALE


def _context(facts: MessageFacts, babel_locale: str, spoken: bool) -> dict[str, object]:
    # Spoken amounts use the currency's name ("1,200.50 Chinese yuan"), which text-to-speech
    # reads naturally; written ones the symbol ("CN¥1,200.50").
    kind: Literal["name", "standard"] = "name" if spoken else "standard"

    def money(amount: Decimal) -> str:
        return str(format_currency(amount, facts.currency, locale=babel_locale, format_type=kind))

    loans = [
        {
            "loan_id": loan.loan_id,
            "tail": loan.loan_id[-LOAN_TAIL:],
            "amount_overdue": money(loan.amount_overdue),
            # A pre-due reminder names the instalment falling due on each loan.
            "amount_due": money(loan.amount_due or Decimal(0)),
            "due_date": (
                format_date(loan.due_on, "short", locale=babel_locale) if loan.due_on else ""
            ),
        }
        for loan in facts.loans
    ]
    total = sum((loan.amount_overdue for loan in facts.loans), Decimal(0))
    total_due = sum((loan.amount_due or Decimal(0) for loan in facts.loans), Decimal(0))
    return {
        "loans": loans if len(loans) > 1 else [],
        "total_overdue": money(total),
        "total_due": money(total_due),
        "name": " ".join(facts.name.split())[:NAME_MAX],
        "amount_due": money(facts.amount_due),
        "amount_overdue": money(facts.amount_overdue),
        "balance": money(facts.balance),
        "due_date": (
            format_date(facts.due_date, "long", locale=babel_locale) if facts.due_date else ""
        ),
        "dpd": facts.dpd,
        "currency": facts.currency,
    }


def _render(channel: ChannelName, name: str, locale: str, context: dict[str, object]) -> str:
    template = _environment().get_template(f"{channel}/{locale}/{name}.j2")
    return " ".join(template.render(**context).split())


def render_sms(
    name: str, locale: str, facts: MessageFacts, opt_out_text: str | None = None
) -> RenderedSms:
    """The SMS body for this borrower; an opt-out instruction (US profiles) is appended last so
    no template can forget it."""
    folder = template_locale("sms", name, locale)
    text = _render("sms", name, folder, _context(facts, _babel_locale(locale, folder), False))
    if opt_out_text and opt_out_text.strip():
        text = f"{text} {opt_out_text.strip()}"
    return RenderedSms(text=text, template=name, locale=folder, count=count_segments(text))


def _say_language(locale: str, folder: str) -> str:
    wanted = normalise_locale(locale)
    return wanted if wanted in SAY_LANGUAGES else SAY_DEFAULT.get(folder, "en-US")


def render_voice(name: str, locale: str, facts: MessageFacts) -> RenderedVoice:
    """TwiML for a reminder call: the message, a pause, and the message again (the first words
    of a call are often lost while the borrower lifts the phone)."""
    folder = template_locale("voice", name, locale)
    text = _render("voice", name, folder, _context(facts, _babel_locale(locale, folder), True))
    language = _say_language(locale, folder)
    response = VoiceResponse()
    response.say(text, language=language)
    response.pause(length=1)
    response.say(text, language=language)
    return RenderedVoice(
        text=text, twiml=str(response), template=name, locale=folder, language=language
    )


# ------------------------------------------------------------------------------ validation


def _longest_date(babel_locale: str) -> date:
    days = [date(2026, month, 28) for month in range(1, 13)]
    return max(days, key=lambda d: len(format_date(d, "long", locale=babel_locale)))


def _worst_cases(locale: str) -> list[MessageFacts]:
    longest = _longest_date(_babel_locale(locale, DEFAULT_LOCALE))
    base = MessageFacts(
        name=WORST_NAME,
        currency="CNY",
        amount_due=WORST_AMOUNT,
        amount_overdue=WORST_AMOUNT,
        balance=WORST_AMOUNT,
        due_date=longest,
        dpd=WORST_DPD,
    )
    loans = tuple(
        NamedLoan(
            loan_id=f"L-{i:04d}",
            currency="CNY",
            amount_overdue=WORST_AMOUNT,
            amount_due=WORST_AMOUNT,
            due_on=longest,
        )
        for i in range(WORST_LOANS)
    )
    cases = [replace(base, currency=currency) for currency in WORST_CURRENCIES]
    # Every count of loans a template may word differently (a pre-due text lists each loan's
    # amount and date for two, only the ends of the ids for more).
    counts = range(2, WORST_LOANS + 1)
    return cases + [replace(case, loans=loans[:n]) for case in cases for n in counts]


def longest_opt_out_text(directory: Path | None = None) -> str:
    """The longest opt-out instruction an SMS can carry: the profiles append their
    `sms_opt_out_text` to every text (domain/contact/decide.py), so a template fits its segments
    only if it fits with the longest one any shipped profile could add."""
    folder = directory if directory is not None else contact_profiles.PROFILES_DIR
    return _longest_opt_out_text(folder)


@cache
def _longest_opt_out_text(folder: Path) -> str:
    texts = [OPT_OUT_SAMPLE]
    for path in sorted(folder.glob("*.yaml")):
        profile = contact_profiles.load_profile(path.stem, folder)
        if profile.sms_opt_out_text and profile.sms_opt_out_text.strip():
            texts.append(profile.sms_opt_out_text.strip())
    return max(texts, key=lambda text: (len(text), text))


def _template_problems(
    channel: ChannelName, name: str, max_segments: int, opt_out: str
) -> list[str]:
    problems: list[str] = []
    for locale in SUPPORTED_LOCALES:
        where = f"{channel} template {name!r} ({locale})"
        if not _path(channel, name, locale).is_file():
            problems.append(
                f"{where} is missing: add {_path(channel, name, locale).name} under "
                f"activities/channels/templates/{channel}/{locale}/"
            )
            continue
        try:
            if channel == "sms":
                worst = max(
                    (render_sms(name, locale, f, opt_out) for f in _worst_cases(locale)),
                    key=lambda r: (r.count.segments, r.count.units),
                )
                if worst.count.segments > max_segments:
                    problems.append(
                        f"{where} can need {worst.count.segments} segments "
                        f"({worst.count.units} {worst.count.encoding} units with worst-case "
                        f"values), more than max_sms_segments {max_segments}"
                    )
            else:
                longest = max(
                    (render_voice(name, locale, f) for f in _worst_cases(locale)),
                    key=lambda r: len(r.twiml),
                )
                if len(longest.twiml) > TWIML_MAX:
                    problems.append(
                        f"{where} renders {len(longest.twiml)} characters of TwiML, more than "
                        f"Twilio's {TWIML_MAX}"
                    )
        except TemplateError as exc:
            problems.append(f"{where} does not render: {exc.__class__.__name__}: {exc}")
    return problems


def validate_strategy_templates(strategy: Strategy, opt_out_text: str | None = None) -> None:
    """Raise StrategyError naming every SMS/voice template of the strategy that is missing in a
    supported locale, does not render, or could exceed `max_sms_segments` (SMS, with the longest
    opt-out instruction appended: `opt_out_text`, default `longest_opt_out_text()`) / Twilio's
    TwiML limit (voice). Run it wherever a strategy is loaded for use (worker start, and the API
    before it starts accounts under a strategy file it has not checked yet)."""
    opt_out = opt_out_text if opt_out_text is not None else longest_opt_out_text()
    problems: list[str] = []
    checked: set[tuple[str, str]] = set()
    for treatment, steps in strategy.treatments.items():
        for step in steps:
            if step.channel not in ("sms", "voice"):
                continue
            channel: ChannelName = "sms" if step.channel == "sms" else "voice"
            if not step.template:
                problems.append(
                    f"treatments.{treatment}: step {step.id} sends {channel} but names no template"
                )
                continue
            if (channel, step.template) in checked:
                continue
            checked.add((channel, step.template))
            problems += [
                f"treatments.{treatment}: step {step.id}: {problem}"
                for problem in _template_problems(
                    channel, step.template, strategy.max_sms_segments, opt_out
                )
            ]
    if problems:
        details = "\n".join(f"- {line}" for line in problems)
        raise StrategyError(f"strategy {strategy.ref} has unusable templates:\n{details}")
