"""`python -m recommendations …`: check or import the content library.

python -m recommendations check demo_data/content          # validate only: every problem, with file, item, field
python -m recommendations import demo_data/content [more.csv]   # upsert by id, retire what left the files
python -m recommendations list [--on 2027-01-15]            # the items valid on a day
python -m recommendations learn [--days 180]                # fit the ranker on opens and dismissals (daily)
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import List, Optional

from recommendations import learned
from recommendations.library import LibraryError, import_library, load_library, valid_items
from settings import load_at_startup
from storage.engine import session_scope
from storage.migrate import upgrade
from storage.models import RecommenderModel
from storage.settings import database_url


def _missing(paths: List[Path]) -> int:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    if _missing(args.paths):
        return 2
    try:
        specs = load_library(args.paths)
    except LibraryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    counts = Counter(spec.category for spec in specs)
    print(f"{len(specs)} items: " + ", ".join(f"{n} {c}" for c, n in sorted(counts.items())))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    if _missing(args.paths):
        return 2
    upgrade()
    try:
        with session_scope() as session:
            result = import_library(session, args.paths, retire_missing=not args.keep_missing)
    except LibraryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"content library ({database_url().split('@')[-1]}): {result.summary()}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with session_scope(read_only=True) as session:
        for item in valid_items(session, on=args.on):
            flag = " [marketing]" if item.marketing else ""
            print(f"{item.slug:<48} {item.category:<18} {item.title}{flag}")
    return 0


def _days(text: str) -> int:
    days = int(text) if text.isdigit() else 0
    if not 1 <= days <= 3650:
        raise argparse.ArgumentTypeError(f"expected a whole number of days from 1 to 3650, got {text!r}")
    return days


def cmd_learn(args: argparse.Namespace) -> int:
    upgrade()
    with session_scope() as session:
        model_id = learned.learn(session, days=args.days)
        row = session.get(RecommenderModel, model_id) if model_id is not None else None
        if row is None:
            print(
                f"too little feedback to learn from (fewer than {learned.MIN_LEARNERS} customers opened anything "
                f"in {args.days} days): recommendations keep the popularity prior"
            )
            return 0
        print(
            f"recommender model {row.id}: {row.events} events of {row.customers} customers, {row.items} items, "
            f"fitted in {row.seconds:.1f} s; action servers load it within a minute"
        )
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recommendations", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="validate library files without touching the database")
    p.add_argument("paths", nargs="+", type=Path)
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("import", help="import library files (YAML or CSV) into the database")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--keep-missing", action="store_true", help="do not retire items that are no longer in these files")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("list", help="the items valid on a day (default: today)")
    p.add_argument("--on", type=date.fromisoformat, default=None)
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("learn", help="fit the content ranker on the opens and dismissals in the database")
    p.add_argument("--days", type=_days, default=learned.LEARN_DAYS, help="how far back feedback counts")
    p.set_defaults(func=cmd_learn)
    args = parser.parse_args(argv)
    load_at_startup("recommendations")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
