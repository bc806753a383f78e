"""The package's type hints hold: mypy, with pyproject.toml's settings, finds no error in bot/.

A wrong hint misleads whoever calls the library (an Optional that is not said, a parameter that
takes more than it says); mypy also finds the None that reaches an attribute on a rare path."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
api = pytest.importorskip("mypy.api", reason="mypy is not installed: pip install -e '.[test]'")


def test_mypy_finds_no_error_in_the_package(tmp_path: Path) -> None:
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache"),
                                "--no-error-summary", str(ROOT / "bot")])
    assert status == 0, f"mypy found errors:\n{out}{err}"
