"""tuner advise on a database never ANALYZEd: existing indexes get sampled statistics too, so the
advice is the one SQLite's planner agrees with after `tuner apply` runs ANALYZE."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import yaml

from tuner import load_profile
from tuner.workload.advise.run import advise

COUNTS = ("SELECT status, COUNT(*) AS n FROM participants "
          "WHERE event_id = :event_id GROUP BY status")


def _db(path: Path) -> Path:
    """Participants with UNIQUE(event_id, user_id), as in the original bot; no ANALYZE."""
    rnd = random.Random(5)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE participants (id INTEGER PRIMARY KEY, event_id INTEGER, "
                 "user_id INTEGER, status TEXT, UNIQUE (event_id, user_id))")
    rows = {(rnd.randint(1, 300), rnd.randint(1, 3000)) for _ in range(30_000)}
    conn.executemany("INSERT INTO participants(event_id, user_id, status) VALUES (?, ?, ?)",
                     [(e, u, rnd.choice(["confirmed", "pending", "declined"]))
                      for e, u in sorted(rows)])
    conn.commit()
    conn.close()
    return path


def _profile(path: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "profile": "unanalyzed", "version": 1, "engine": "sqlite",
        "queries": [{"name": "participant_counts", "sql": COUNTS, "params": {"event_id": 1}}]}),
        encoding="utf-8")
    return path


def test_the_autoindex_without_statistics_does_not_hide_a_better_candidate(tmp_path: Path
                                                                           ) -> None:
    db = _db(tmp_path / "bot.db")
    profile = load_profile(_profile(tmp_path / "p.yaml"))
    advice = advise(profile, str(db))
    recs = [r for r in advice.recommendations if "participant_counts" in r.queries]
    assert [(r.table, r.columns) for r in recs] == [("participants", ("event_id", "status"))]

    # Converges: with that index built and the database ANALYZEd, nothing more to advise.
    conn = sqlite3.connect(db)
    conn.execute("CREATE INDEX pc ON participants(event_id, status)")
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    assert advise(profile, str(db)).recommendations == []
