"""The distribution's name: `tuner` on the package index is someone else's project, so this
one is published as DIST (the command and the import stay `tuner`), and no file of the
repository may tell a user to install the bare name."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DIST = "tuner-db"
SKIP_DIRS = {".git", ".venv", ".tuner-demo", ".tuner-backups", "__pycache__", ".pytest_cache",
             ".ruff_cache", "build", "dist", "node_modules"}
TEXT = {".md", ".py", ".yml", ".yaml", ".toml", ".txt", ".cfg", ".sh", ".j2", ".sql", ".json",
        ".html", ""}
# `pip install [flags] tuner`, `pip install 'tuner[postgres]'`, `pip install "tuner>=0.1"`
# (after `install`, the flags; the word after them is the stranger's name and nothing else).
STRANGER = re.compile(r"pip3?\s+install\s+(?:-\S+\s+)*(['\"]?)tuner(?![\w.-]*[/@:])"
                      r"(?=[\[\s'\"`)<>=~!;,]|$)", re.MULTILINE)


def repository_files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if any(p in SKIP_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        if path == Path(__file__).resolve():
            continue  # this file holds the bad examples
        if path.is_file() and path.suffix in TEXT and path.stat().st_size < 2_000_000:
            found.append(path)
    return found


def test_the_pattern_finds_the_strangers_name_only() -> None:
    for bad in ("pip install tuner", "pip install 'tuner[postgres]'", "pip install -U tuner\n",
                "pip install \"tuner>=0.1\"", "`pip install tuner`", "python -m pip install tuner"):
        assert STRANGER.search(bad), bad
    for good in ("pip install tuner-db", "pip install -e '.[postgres]'", "pip install tuner_db",
                 "pip install 'tuner-db[postgres]'", "pip install ./tuner",
                 "pip install \"git+https://<your-git-host>/<you>/tuner.git\""):
        assert not STRANGER.search(good), good


def test_no_file_says_pip_install_tuner() -> None:
    offenders = []
    for path in repository_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in STRANGER.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0).strip()}")
    assert not offenders, "install instructions name the stranger's `tuner`:\n" + "\n".join(
        offenders)


def test_the_distribution_is_named_tuner_db() -> None:
    project = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'^name = "{DIST}"$', project, re.MULTILINE), "pyproject.toml [project].name"
    assert 'tuner = "tuner.cli:main"' in project  # the command keeps its name
