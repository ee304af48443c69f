"""The wheel ships schemas/, sql/ and profiles/: build it, install it into a fresh venv and run
tuner from another directory, far from the source checkout."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the freshly built wheel installed; returns its bin directory."""
    work = tmp_path_factory.mktemp("wheel")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist",
                ROOT, cwd=work)
    assert built.returncode == 0, built.stderr
    wheels = list((work / "dist").glob("tuner_db-*.whl"))
    assert len(wheels) == 1
    venv.EnvBuilder(with_pip=True).create(work / "venv")
    bin_dir = work / "venv" / "bin"
    inst = run(bin_dir / "python", "-m", "pip", "install", "-q", wheels[0], cwd=work)
    assert inst.returncode == 0, inst.stderr
    return bin_dir


def test_bundled_data_comes_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    probe = run(installed / "python", "-c",
                "from tuner.resources import data_dir; "
                "print(data_dir('schemas')); print(data_dir('sql')); print(data_dir('profiles'))",
                cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    for line in probe.stdout.split():
        assert "site-packages" in line and not line.startswith(str(ROOT) + "/schemas"), line


def test_validate_bundled_profile_from_another_directory(installed: Path, tmp_path: Path) -> None:
    where = run(installed / "python", "-c",
                "from tuner.resources import bundled_profile; print(bundled_profile())",
                cwd=tmp_path)
    profile = where.stdout.strip()
    assert "site-packages" in profile
    result = run(installed / "tuner", "validate", profile, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok:" in result.stdout and "telegram-bot" in result.stdout


def test_installed_tuner_plans_with_its_templates(installed: Path, tmp_path: Path) -> None:
    made = run(installed / "tuner", "demo-db", "bot.db", "--participants", "500", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    profile = run(installed / "python", "-c",
                  "from tuner.resources import bundled_profile; print(bundled_profile())",
                  cwd=tmp_path).stdout.strip()
    plan = run(installed / "tuner", "plan", profile, "--db", "bot.db", "--out", "plan.sql",
               "--detailed-exitcode", cwd=tmp_path)
    assert plan.returncode == 2, plan.stderr
    assert "CREATE INDEX IF NOT EXISTS" in (tmp_path / "plan.sql").read_text()
    schema = run(installed / "tuner", "schema", cwd=tmp_path)
    assert schema.returncode == 0 and "2020-12" in schema.stdout
