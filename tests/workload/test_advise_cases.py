"""Held-in advise cases: tests/advise_cases/<name>/{setup.sql, profile.yaml, expected.yaml}.

Every case starts from advise_cases/schema.sql (20,000 customers, 60,000 orders), runs its
setup.sql and ANALYZE, and asserts the exact recommendations (table, columns in order, partial
WHERE, queries served), the flagged indexes and, where given, the problems found. Then it
converges: `tuner advise --write` adds the indexes to the profile, `tuner apply` builds them,
and advising again recommends nothing and leaves no declared query scanning a large table.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from helpers import assert_flags_and_problems, run, sha

from tuner import load_profile
from tuner.engines.sqlite import advise as advise_eval
from tuner.engines.sqlite.advise import Samples, sample_stat
from tuner.engines.sqlite.inspect import open_readonly, read_state
from tuner.workload.advise.run import advise
from tuner.workload.advise.search import where_key
from tuner.workload.shape import Candidate, Where

CASES_DIR = Path(__file__).resolve().parents[1] / "advise_cases"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("advise-cases") / "base.db"
    conn = sqlite3.connect(path)
    conn.executescript((CASES_DIR / "schema.sql").read_text(encoding="utf-8"))
    conn.close()
    return path.read_bytes()


def _recs(advice) -> list[tuple]:
    return sorted((r.table, tuple(r.columns), where_key(r.where), tuple(r.queries))
                  for r in advice.recommendations)


def _case_db(tmp_path: Path, base: bytes, case: Path) -> Path:
    """The case's database: the base tables, its setup.sql, ANALYZE."""
    db = tmp_path / "case.db"
    db.write_bytes(base)
    conn = sqlite3.connect(db)
    conn.executescript((case / "setup.sql").read_text(encoding="utf-8") + "\nANALYZE;")
    conn.close()
    return db


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_advise_case(capsys: pytest.CaptureFixture[str], tmp_path: Path, base: bytes,
                     case: Path) -> None:
    db = _case_db(tmp_path, base, case)
    profile = tmp_path / "profile.yaml"
    profile.write_bytes((case / "profile.yaml").read_bytes())
    expected = yaml.safe_load((case / "expected.yaml").read_text(encoding="utf-8"))

    advice = advise(load_profile(profile), str(db))
    want = sorted((e["table"], tuple(e["columns"]), where_key(e.get("where")),
                   tuple(e["queries"])) for e in expected["recommend"])
    assert _recs(advice) == want
    assert_flags_and_problems(advice, expected)

    # Converge: write the advice into the profile, apply it, advise again.
    r = run(capsys, "advise", profile, "--db", db, "--write")
    assert r.code == 0, r.err
    assert len(load_profile(profile).indexes) == len(want)
    r = run(capsys, "apply", profile, "--db", db, "--yes", "--no-backup")
    assert r.code == 0, r.err
    after = advise(load_profile(profile), str(db))
    assert after.recommendations == []
    scans = sorted({p["query"] for p in after.problems if p["kind"] == "scan"})
    assert scans == sorted(expected.get("scans_after") or [])


def test_candidates_on_one_table_share_one_sample(tmp_path: Path, base: bytes,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A large table is sampled once per advise run; every candidate's statistics come from
    that sample (the same rows: the same estimate for the same leading column)."""
    db = tmp_path / "case.db"
    db.write_bytes(base)
    digest = sha(db)
    monkeypatch.setattr(advise_eval, "SAMPLE_ROWS", 30_000)
    live = open_readonly(str(db))
    try:
        state = read_state(live)
        samples = Samples(live)
        one = sample_stat(live, state, Candidate("orders", ("customer_id",)), samples)
        two = sample_stat(live, state, Candidate("orders", ("customer_id", "created")), samples)
        part = sample_stat(live, state, Candidate("orders", ("customer_id",),
                                                  Where("status", "open")), samples)
        small = sample_stat(live, state, Candidate("customers", ("email",)), samples)
        assert samples.drawn == {"orders": 1}          # customers (20,000 rows) read whole
        assert live.execute("SELECT COUNT(*) FROM temp.tuner_sample_0").fetchone()[0] == 30_000
    finally:
        live.close()
    assert one[:2] == two[:2] and one[0] == 60_000
    assert 15_000 <= part[0] <= 25_000                 # a third of the rows are 'open'
    assert small == [20_000, 1]
    assert sha(db) == digest                           # the sample lives in TEMP only


def test_widening_names_the_query_and_needs_many_rows(tmp_path: Path, base: bytes) -> None:
    """The widen case: the reason says which query the added column covers and why; for a
    small event (~16 confirmed rows through the index) the narrower index stays."""
    case = CASES_DIR / "widen"
    db = _case_db(tmp_path, base, case)
    (rec,) = advise(load_profile(case / "profile.yaml"), str(db)).recommendations
    assert "user_id added so confirmed_participants reads only the index" in rec.reason
    assert "confirmed_participants: SEARCH participants USING INDEX sqlite_autoindex" \
        in rec.reason and "USING COVERING INDEX participants_event_id_status_user_id" \
        in rec.reason

    small = tmp_path / "small.yaml"
    small.write_text((case / "profile.yaml").read_text(encoding="utf-8")
                     .replace("{e: 1}", "{e: 2}"), encoding="utf-8")
    recs = advise(load_profile(small), str(db)).recommendations
    assert [(r.columns, r.queries) for r in recs] == [(("event_id", "status"),
                                                       ["participant_counts"])]
