"""The zh-CN catalogue translates every string the desk's templates and vocabulary mark, so no
page shows English to a person who chose Chinese (a new string without a translation fails
here: run the `pybabel` commands in docs/desk.md)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import api.desk

DESK = Path(api.desk.__file__).parent


def test_every_marked_string_of_the_desk_has_a_chinese_translation() -> None:
    marked = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(DESK), method_map=[("**/templates/**.html", "jinja2"), ("**.py", "python")]
        )
        if isinstance(message, str)
    }
    assert len(marked) > 50
    with (DESK / "locale" / "zh_CN" / "LC_MESSAGES" / "desk.po").open("rb") as source:
        catalogue = read_po(source)
    translated = {m.id for m in catalogue if m.id and m.string and not m.fuzzy}
    assert sorted(marked - translated) == []
