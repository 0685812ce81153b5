"""Write public-holiday calendar files (policy/calendars/REGION/YEAR.yaml) from the packages that
know them, for a maintainer to review and commit; operators add later years by hand, from the
authority's own publication, without a release.

- CN: the State Council's yearly arrangement as `chinese_calendar` carries it (holidays with
  their names, and the make-up working days on weekends). The package only knows years the State
  Council has published; for any other year this script writes nothing and says so, because the
  arrangement (which weekends become working days) cannot be computed.
- US, US-MA: federal (and Massachusetts) holidays from the `holidays` package: they follow fixed
  statutory rules, so future years are exact.

Usage: python scripts/calendar_files.py CN 2024 2026 [--out policy/calendars]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

_CN_SOURCE = (
    "国务院办公厅关于{year}年部分节假日安排的通知 (as packaged by chinese_calendar {version})"
)


def _cn_year(year: int) -> dict[str, object] | None:
    import chinese_calendar
    from chinese_calendar.constants import holidays, workdays

    days = {d: str(name) for d, name in holidays.items() if d.year == year}
    if not days:
        return None
    return {
        "region": "CN",
        "year": year,
        "version": 1,
        "status": "official",
        "source": _CN_SOURCE.format(year=year, version=chinese_calendar.__version__),
        "holidays": {d.isoformat(): name for d, name in sorted(days.items())},
        "workdays": [d.isoformat() for d in sorted(d for d in workdays if d.year == year)],
    }


def _us_year(region: str, year: int) -> dict[str, object]:
    import holidays

    _, _, subdivision = region.partition("-")
    table = holidays.country_holidays("US", subdiv=subdivision or None, years=[year])
    return {
        "region": region,
        "year": year,
        "version": 1,
        "status": "statutory",
        "source": f"5 U.S.C. 6103{' and M.G.L. c. 4 s. 7' if subdivision else ''} "
        f"(holidays package {holidays.__version__})",
        "holidays": {d.isoformat(): str(n) for d, n in sorted(table.items()) if d.year == year},
        "workdays": [],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("region")
    parser.add_argument("first", type=int)
    parser.add_argument("last", type=int)
    parser.add_argument("--out", type=Path, default=Path("policy/calendars"))
    args = parser.parse_args(argv)
    for year in range(args.first, args.last + 1):
        if args.region == "CN":
            body = _cn_year(year)
            if body is None:
                print(f"CN {year}: no official arrangement known; nothing written", file=sys.stderr)
                continue
        else:
            body = _us_year(args.region, year)
        path = args.out / args.region / f"{year}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=100)
        path.write_text(f"# Written by scripts/calendar_files.py on review; see README.md.\n{text}")
        print(f"{path}: written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
