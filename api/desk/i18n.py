"""The desk's languages: English (the source strings) and Simplified Chinese, Babel gettext.

The catalogues are the `.po` files in api/desk/locale (`pybabel extract/update` maintain them,
docs/desk.md). They are compiled in memory when first used (babel's own compiler, a few
milliseconds) instead of committing `.mo` files or compiling at install: there is no binary in
the repository to drift from its source, nothing for `make install` or the Docker image to
remember, and a fuzzy or missing entry simply falls back to English.

The language is the person's choice (stored with their user, or a cookie before sign-in), else
the browser's Accept-Language, else English.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from fastapi import Request

LOCALES = ("en", "zh-CN")
"""The desk's languages, as the picker shows them and the user row stores them."""
DEFAULT = "en"
LANG_COOKIE = "arrears_desk_lang"
CATALOGUES = Path(__file__).parent / "locale"
DOMAIN = "desk"


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalogue of `locale` (NullTranslations for English, the source language)."""
    po = CATALOGUES / locale.replace("-", "_") / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as source:
        catalogue = read_po(source, locale=locale.replace("-", "_"))
    compiled = BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def known(locale: str | None) -> str | None:
    return locale if locale in LOCALES else None


def from_browser(accept_language: str) -> str:
    """The best of LOCALES for an Accept-Language header, by q-value then order: any Chinese
    tag reads Simplified Chinese (the only Chinese the desk has), any English tag English."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag.strip() and quality > 0:
            weighted.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(weighted):
        if tag == "zh" or tag.startswith("zh-"):
            return "zh-CN"
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return DEFAULT


def request_locale(request: Request, chosen: str | None) -> str:
    return (
        known(chosen)
        or known(request.cookies.get(LANG_COOKIE))
        or from_browser(request.headers.get("accept-language", ""))
    )
