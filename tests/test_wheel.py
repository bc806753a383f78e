"""A wheel (`pip install .`, not -e) ships the rules: `tgwatch replay` outside the repository watches.

The wheel is built by pip from a copy of the sources (the repository's tree gets no build/ folder),
installed without its dependencies under a prefix (this environment has them), and run from an
empty folder with that prefix first on the path, as an installed tgwatch is."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIP = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "config.example.toml"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("bot", "rules"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([*PIP, "wheel", "--no-deps", "-w", str(out), str(src)], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"pip cannot build a wheel here (its build needs setuptools from the package index): "
                    f"{built.stderr.strip().splitlines()[-1:]}")
    return next(out.glob("tgwatch-*.whl"))


def test_the_wheel_holds_the_shipped_rules_and_the_config_example(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(p.name for p in (ROOT / "rules").glob("*.toml"))
    assert sorted(Path(n).name for n in names if "/share/tgwatch/rules/" in n) == shipped, names
    assert any(n.endswith("/share/tgwatch/config.example.toml") for n in names), names


def test_replay_outside_the_repository_uses_the_rules_the_wheel_installed(wheel: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    # (--ignore-installed: else pip uninstalls this environment's own tgwatch, the editable one, first)
    subprocess.run([*PIP, "install", "--no-deps", "--no-index", "--ignore-installed", "--prefix", str(prefix),
                    str(wheel)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))
    here = tmp_path / "elsewhere"
    here.mkdir()
    r = subprocess.run([sys.executable, "-c", "from bot.cli import main; main()", "replay",
                        str(ROOT / "examples" / "export"), "--db", "s.db", "--alerts", "none"],
                       cwd=here, capture_output=True, text=True, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert f"shipped rules in {prefix}" in r.stderr and "no usable rules" not in r.stderr, r.stderr
