"""The SMS keywords a borrower can reply with, and how a reply is matched to one: one list for
our inbound webhook (api/routes/webhooks.py) and for the sandbox gateway that plays Twilio
(sandbox/numbers.py), so the two can never drift apart.

Twilio's Advanced Opt-Out keywords are handled by Twilio itself (it refuses later messages with
21610); we also honour the Chinese carriers' convention ("回复TD退订"), which Twilio does not
know, so for those only our own consent record (store.channels.sms_consent_revoked) stops the
next text. Pure: no I/O.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "CN_OPT_OUT_KEYWORDS",
    "HELP_KEYWORDS",
    "KeywordKind",
    "OPT_IN_KEYWORDS",
    "OPT_OUT_KEYWORDS",
    "TWILIO_OPT_OUT_KEYWORDS",
    "keyword_of",
    "normalise_keyword",
    "twilio_keyword_of",
]

TWILIO_OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
"""Twilio's default opt-out keywords: after one of them Twilio answers 21610 to every send."""

CN_OPT_OUT_KEYWORDS = frozenset({"TD", "退订"})
"""The Chinese carriers' unsubscribe convention; Twilio does not act on these, we do."""

OPT_OUT_KEYWORDS = TWILIO_OPT_OUT_KEYWORDS | CN_OPT_OUT_KEYWORDS
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

KeywordKind = Literal["opt_out", "opt_in", "help", "reply"]

_TRAILING = ".!。！"


def normalise_keyword(body: str) -> str:
    """A reply as carriers and Twilio match it: surrounding blanks and trailing full stops or
    exclamation marks dropped, any case ("Stop." is STOP)."""
    return body.strip().rstrip(_TRAILING).strip().upper()


def _kind(word: str, opt_out: frozenset[str]) -> KeywordKind:
    if word in opt_out:
        return "opt_out"
    if word in OPT_IN_KEYWORDS:
        return "opt_in"
    if word in HELP_KEYWORDS:
        return "help"
    return "reply"


def keyword_of(body: str) -> tuple[KeywordKind, str | None]:
    """(kind, keyword) for our webhook: a message that is exactly one keyword is that keyword;
    anything else is a reply for the collector."""
    word = normalise_keyword(body)
    kind = _kind(word, OPT_OUT_KEYWORDS)
    return kind, (word if kind != "reply" else None)


def twilio_keyword_of(body: str) -> tuple[KeywordKind, str | None]:
    """What Twilio itself makes of a reply: the same matching, Twilio's own keywords only."""
    word = normalise_keyword(body)
    kind = _kind(word, TWILIO_OPT_OUT_KEYWORDS)
    return kind, (word if kind != "reply" else None)
