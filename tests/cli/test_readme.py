"""README.md is run, not just read: every ```sh/```bash and ```python block, in order, in a
copy of the repository, as one reader's shell session.

- The copy gets the venv these tests run in as `.venv` (what the README's set-up commands
  make; .ci/run runs those two lines itself). PATH starts WITHOUT that venv: the README's own
  `. .venv/bin/activate` is what puts `tuner` on it, and exported variables (PATH,
  VIRTUAL_ENV, TUNER_DB) carry from one block to the next, as in a terminal.
- A shell block runs under `bash -e -o pipefail`: any failing line fails the test, naming
  the block's line in README.md. A Python block runs with the session's `python` and must
  also keep stderr empty (a warning, such as rejected rows logged by a BatchWriter, fails it).
- A block that needs PostgreSQL (it mentions a postgresql:// URL) must take the URL from the
  README's own `export TUNER_DB=...` line; the test points that line at a scratch database
  on the local server (dropped afterwards). The copy's PostgreSQL profiles lose their
  server-wide settings (ALTER SYSTEM: shared_buffers...): a test must not change the shared
  server's postgresql.auto.conf.
- A block that cannot run in a test is marked just above its fence with
  `<!-- readme-test: skip (reason) -->`. The skipped blocks are listed in SKIPPED below, so a
  new skip fails the test until it is listed here too; nothing is skipped silently.
- Every fence needs a language; only LANGUAGES are allowed, so a shell block cannot hide as
  an untagged one (output is ```text).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RUN = {"sh": "bash", "bash": "bash", "python": "python"}
LANGUAGES = {*RUN, "text", "yaml", "json", "sql"}
#: The first line of each block the README marks as skipped, in order.
SKIPPED = [
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/tuner demo",
    "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest",
    "pip install -e '.[postgres]'                         # psycopg 3 and psycopg_pool",
    'tuner capture --db "$TUNER_DB" --out pg-capture.db --reset',
]
FENCE = re.compile(r"^(`{3,})(.*)$")
DIRECTIVE = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->$")
SKIP = re.compile(r"^skip\s*\((.+)\)$")
TUNER_DB_LINE = re.compile(r"^(\s*export\s+TUNER_DB=)(\S+)", re.MULTILINE)
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".tuner-demo",
    ".tuner-backups", "dist", "build", "*.egg-info", "*.db", "*.db-wal", "*.db-shm",
    "*.db-journal", "plan.sql", "live.yaml")


@dataclass
class Block:
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    skip: str | None  # the reason, if marked

    @property
    def first_line(self) -> str:
        return self.text.splitlines()[0] if self.text else ""


def readme_blocks(text: str) -> tuple[list[Block], list[str]]:
    """The fenced blocks of a README, and what is wrong with its fences and directives."""
    lines = text.splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        ticks, lang = m.group(1), m.group(2).strip()
        start = i
        body = []
        i += 1
        while i < len(lines) and not lines[i].startswith(ticks):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            problems.append(f"README.md:{start + 1}: a fenced block is never closed")
        i += 1
        skip = None
        j = start - 1
        while j >= 0 and lines[j].startswith("<!--") and lines[j].rstrip().endswith("-->"):
            d = DIRECTIVE.match(lines[j].strip())
            if d:
                s = SKIP.match(d.group(1))
                if not s or not s.group(1).strip():
                    problems.append(f"README.md:{j + 1}: unknown readme-test directive "
                                    f"{d.group(1)!r} (say `skip (reason)`)")
                else:
                    skip = s.group(1).strip()
            j -= 1
        if not lang:
            problems.append(f"README.md:{start + 1}: a fenced block without a language "
                            "(```sh, ```python, ```text for output...)")
        elif lang not in LANGUAGES:
            problems.append(f"README.md:{start + 1}: language {lang!r} is none of "
                            f"{sorted(LANGUAGES)}")
        if skip is not None and lang not in RUN:
            problems.append(f"README.md:{start + 1}: a {lang} block is never run; drop its "
                            "skip mark")
        blocks.append(Block(start + 1, lang, "\n".join(body) + "\n", skip))
    return blocks, problems


def test_readme_blocks_are_all_accounted_for() -> None:
    blocks, problems = readme_blocks(README.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)
    skipped = [b.first_line for b in blocks if b.lang in RUN and b.skip]
    assert skipped == SKIPPED, (
        "the README's skipped blocks changed; list them in tests/cli/test_readme.py SKIPPED:\n"
        + "\n".join(f"  {b.line}: {b.first_line}  ({b.skip})"
                    for b in blocks if b.lang in RUN and b.skip))
    assert sum(b.lang in RUN and not b.skip for b in blocks) >= 5


def test_the_parser_sees_marks_and_untagged_fences() -> None:
    text = ("<!-- readme-test: skip (needs a network) -->\n<!-- ci:x -->\n```sh\necho a\n```\n\n"
            "```\nls\n```\n<!-- readme-test: maybe -->\n```python\nprint(1)\n```\n")
    blocks, problems = readme_blocks(text)
    assert [(b.line, b.lang, b.skip) for b in blocks] == [
        (3, "sh", "needs a network"), (7, "", None), (11, "python", None)]
    assert len(problems) == 2 and "without a language" in problems[0]
    assert "unknown readme-test directive 'maybe'" in problems[1]


# -- running it --------------------------------------------------------------------------
def strip_server_wide_settings(profile: Path) -> list[str]:
    """Remove the settings tuner would apply with ALTER SYSTEM from a copied profile."""
    from tuner.profile import load_profile
    from tuner.workload.bench.run import database_scoped

    _, left_out = database_scoped(load_profile(profile))
    text = profile.read_text(encoding="utf-8")
    for item in left_out:
        text, n = re.subn(rf"^[ \t]+{re.escape(item.name)}:.*\n", "", text, flags=re.MULTILINE)
        assert n == 1, f"{profile.name}: cannot remove {item.name}"
    profile.write_text(text, encoding="utf-8")
    return [item.name for item in left_out]


def session_env(venv_bin: Path) -> dict[str, str]:
    """The environment a reader starts with: no venv active, no TUNER_DB."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"VIRTUAL_ENV", "TUNER_DB", "PYTHONHOME", "PYTHONPATH", "CONDA_PREFIX"}}
    keep = [p for p in env.get("PATH", "").split(os.pathsep)
            if p and Path(p).resolve() != venv_bin.resolve()]
    env["PATH"] = os.pathsep.join(keep or ["/usr/bin", "/bin"])
    return env


WRAPPER = """\
set -e -o pipefail
if [ -f "$README_TEST_STATE" ]; then . "$README_TEST_STATE"; fi
{command}
export -p | grep -Ev '^declare -x (BASHOPTS|SHELLOPTS|BASH_[A-Z_]*|PWD|OLDPWD|SHLVL|_)=' \
  > "$README_TEST_STATE"
"""


def test_readme_runs_in_order(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    blocks, problems = readme_blocks(README.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)
    venv = Path(sys.prefix)
    assert (venv / "bin" / "activate").is_file() and venv != Path(sys.base_prefix), (
        f"run the tests from the project's venv (python {sys.executable} is not in one)")
    work = tmp_path / "clone"
    shutil.copytree(ROOT, work, ignore=COPY_IGNORE, symlinks=True)
    (work / ".venv").symlink_to(venv, target_is_directory=True)
    env = session_env(venv / "bin")
    env["README_TEST_STATE"] = str(tmp_path / "session.env")

    pg_url: str | None = None
    ran: list[int] = []
    for n, block in enumerate(blocks):
        if block.lang not in RUN or block.skip:
            continue
        text = block.text
        if "postgresql://" in text:
            if pg_url is None:
                pg_url = request.getfixturevalue("pg_url")  # skips without a server (not in CI)
                for profile in (work / "profiles").glob("*.yaml"):
                    if re.search(r"^engine:\s*postgresql\s*$", profile.read_text(), re.M):
                        strip_server_wide_settings(profile)
            stray = [ln for ln in text.splitlines()
                     if "postgresql://" in ln and not TUNER_DB_LINE.match(ln)]
            assert not stray, (f"README.md:{block.line}: a PostgreSQL URL outside "
                               f"`export TUNER_DB=...` cannot be pointed at a test server: {stray}")
            # every URL is on an `export TUNER_DB=` line (above): point those at the scratch one
            text = TUNER_DB_LINE.sub(lambda m, url=pg_url: m.group(1) + url, text)
        if RUN[block.lang] == "python":
            script = tmp_path / f"block{n}.py"
            script.write_text(text, encoding="utf-8")
            command = f'python "{script}"'
        else:
            command = text
        done = subprocess.run(["bash", "-c", WRAPPER.format(command=command)], cwd=work,
                              env=env, capture_output=True, text=True, timeout=600,
                              stdin=subprocess.DEVNULL)
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        assert done.returncode == 0, (f"README.md:{block.line}: the {block.lang} block fails "
                                      f"(exit {done.returncode}):\n{text}\n--- output ---\n{tail}")
        if RUN[block.lang] == "python":
            assert not done.stderr, (f"README.md:{block.line}: the python block wrote to "
                                     f"stderr:\n{done.stderr}")
        ran.append(block.line)
    skipped = [f"README.md:{b.line}: {b.first_line} ({b.skip})"
               for b in blocks if b.lang in RUN and b.skip]
    print(f"ran {len(ran)} README blocks (lines {ran}); skipped {len(skipped)}:",
          *skipped, sep="\n  ")
    assert pg_url is not None, "no README block used PostgreSQL: the TUNER_DB line moved?"
    for plan in work.glob("*.sql"):  # the shared server's configuration was left alone
        statements = re.findall(r"^\s*ALTER\s+SYSTEM\b.*$", plan.read_text(encoding="utf-8"),
                                re.MULTILINE | re.IGNORECASE)
        assert not statements, f"{plan.name}: {statements}"
