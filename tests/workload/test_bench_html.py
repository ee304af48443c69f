"""Tests for `tuner bench --html`: one self-contained page, its SVG bars, escaping of what the
user wrote, and (with a headless Chromium, when one is installed) that a browser renders it.
Real SQLite files; never an assertion on wall-clock time."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import assert_error_last, run, write

from tuner.cli import main

QUERIES = ["by_owner", "recent_items"]
DESCRIPTION = 'Items of one owner, <b>bold</b> & "quoted"'

PROFILE = f"""\
profile: html-test
version: 1
engine: sqlite
indexes:
  - name: items_owner
    table: items
    columns: [owner, created]
queries:
  - name: by_owner
    description: '{DESCRIPTION}'
    sql: SELECT id FROM items WHERE owner = :owner AND created < :t ORDER BY created
    params: {{owner: 3, t: 500}}
  - name: recent_items
    sql: SELECT id FROM items WHERE created > :t
    params: {{t: 990}}
"""


class Bars(HTMLParser):
    """Counts the chart's bars by side (the class after `bar`) and query (`data-query`)."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[tuple[str, str]] = []
        self.svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.svg += tag == "svg"
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if "bar" in classes:
            side = next(c for c in classes if c != "bar")
            self.bars.append((side, a.get("data-query") or ""))


def bars(html: str) -> Bars:
    parser = Bars()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small database in a folder whose name needs escaping, and a profile for it."""
    folder = tmp_path_factory.mktemp("html") / "a<b>&c"
    folder.mkdir()
    db = folder / "app.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, owner INTEGER, created INTEGER)")
    conn.executemany("INSERT INTO items (owner, created) VALUES (?, ?)",
                     [(i % 50, i % 1000) for i in range(3000)])
    conn.commit()
    conn.close()
    return db, write(folder / "profile.yaml", PROFILE)


@pytest.fixture(scope="module")
def page(setup: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    db, profile = setup
    target = tmp_path_factory.mktemp("page") / "report.html"
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stdout(io.StringIO()):
        main(["bench", str(profile), "--db", str(db), "--compare", "--runs", "2",
              "--warmup", "0", "--format", "json", "--html", str(target)])
    assert exc.value.code == 0
    return target


def test_html_page_is_self_contained_with_two_bars_per_query(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    found = bars(html)
    assert found.svg == 1
    expected = [(side, q) for q in QUERIES for side in ("before", "after")]
    assert sorted(found.bars) == sorted(expected)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert html.count('<g class="tick">') >= 2  # at least two powers of ten on the axis


def test_html_escapes_what_the_user_wrote(page: Path, setup: tuple[Path, Path]) -> None:
    html = page.read_text(encoding="utf-8")
    assert "<b>" not in html
    assert "Items of one owner, &lt;b&gt;bold&lt;/b&gt; &amp; &#34;quoted&#34;" in html
    assert "created &lt; :t" in html  # the SQL
    assert "a&lt;b&gt;&amp;c" in html and "a<b>&c" not in html  # the database path


def test_html_without_compare_has_one_bar_per_query(
        capsys: pytest.CaptureFixture[str], setup: tuple[Path, Path], tmp_path: Path) -> None:
    db, profile = setup
    target = tmp_path / "single.html"
    r = run(capsys, "bench", profile, "--db", db, "--runs", "1", "--warmup", "0",
            "--html", target)
    assert r.code == 0, r.err
    assert "HTML report written to" in r.err
    assert sorted(bars(target.read_text(encoding="utf-8")).bars) == [
        ("measured", q) for q in sorted(QUERIES)]


def test_html_refuses_to_overwrite_the_database(
        capsys: pytest.CaptureFixture[str], setup: tuple[Path, Path]) -> None:
    db, profile = setup
    before = db.read_bytes()
    r = run(capsys, "bench", profile, "--db", db, "--html", db)
    assert_error_last(r, "--html would overwrite the database")
    assert db.read_bytes() == before


# -- a real browser ---------------------------------------------------------------------------
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "no chromium binary on PATH (chromium or chromium-browser)"
    if os.environ.get("TUNER_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"{reason}, and TUNER_REQUIRE_CHROMIUM=1 requires one")
    pytest.skip(f"{reason}; install it, or set TUNER_REQUIRE_CHROMIUM=1 to make this a failure")


def headless(browser: str, profile_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile_dir}", *args],
        capture_output=True, text=True, timeout=180, check=False)


def test_chromium_renders_the_chart(page: Path, tmp_path: Path) -> None:
    browser = chromium()
    dom = headless(browser, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = bars(dom.stdout)
    assert found.svg == 1, dom.stdout[:500]
    sides = [side for side, _ in found.bars]
    assert sides.count("before") == sides.count("after") == len(QUERIES)
    assert len(found.bars) == 2 * len(QUERIES)

    png = tmp_path / "page.png"
    shot = headless(browser, tmp_path / "profile", f"--screenshot={png}",
                    "--window-size=1200,900", page.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 900)
    # A blank 1200x900 page compresses to a few KB; text, bars and a table do not.
    assert len(data) > 20_000, len(data)
