"""The figures in docs/alerts.md: the simulated month over several seeds, with and without the storm.

`python -m tests.alerts.replay_seeds 1 2 3 4 5 6 7 8` (a few seconds per month, temporary SQLite files); prints
every alert and, per seed, the false alerts and the minutes from the storm's start to its alert.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import List

from alerts.rules import load_rules, read_rules
from storage.engine import session_scope
from storage.migrate import upgrade
from tests.support.alert_month import STORM, alerts_in, clock_steps, replay
from tests.support.alert_traffic import write_month


def replay_seed(seed: int, storm: bool, folder: Path) -> List[str]:
    url = f"sqlite:///{folder / f'seed{seed}-{int(storm)}.db'}"
    upgrade(url)
    with session_scope(url) as session:
        write_month(session, seed, STORM if storm else None)
        load_rules(session, read_rules())
    replay(url, clock_steps())
    found = []
    for alert in alerts_in(url):
        late = (alert.raised_at - STORM.start).total_seconds() / 60
        storm_alert = storm and alert.scope_value == STORM.channel and 0 < late < 120
        kind = "STORM" if storm_alert else "FALSE"
        found.append(f"{kind} raised {alert.raised_at} (+{late:.0f} min): {alert.summary}")
    return found


def main(seeds: List[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            for storm in (False, True):
                lines = replay_seed(seed, storm, Path(folder))
                print(f"seed {seed} {'storm' if storm else 'quiet'}: {len(lines)} alert(s)")
                for line in lines:
                    print("   ", line)


if __name__ == "__main__":
    main([int(seed) for seed in sys.argv[1:]] or [3])
