"""`python -m recommendations …`: check or import the content library.

python -m recommendations check demo_data/content          # validate only: every problem, with file, item, field
python -m recommendations import demo_data/content [more.csv]   # upsert by id, retire what left the files
python -m recommendations list [--on 2027-01-15]            # the items valid on a day
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import List, Optional

from recommendations.library import LibraryError, import_library, load_library, valid_items
from settings import load_at_startup
from storage.engine import session_scope
from storage.migrate import upgrade
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
    args = parser.parse_args(argv)
    load_at_startup("recommendations")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
