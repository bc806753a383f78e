"""`written_whole` puts a file in place so that a power cut leaves the old file or the new one whole:
the new file's data reaches the disk before the rename, and the rename itself after (its folder).
A power cut cannot be made in a test: the order of the fsync calls is what is checked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.store.export import new_file_mode, written_whole

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an fd through /proc")


def test_the_new_file_is_on_disk_before_the_rename_and_the_rename_after(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "stores.json"
    target.write_text("old", encoding="utf-8")
    synced: list[tuple[str, bytes | None, str]] = []  # (what, its bytes then, the target's text then)
    real = os.fsync

    def fsync(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}")
        data = Path(name).read_bytes() if Path(name).is_file() else None
        synced.append((name, data, target.read_text(encoding="utf-8")))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    written_whole(target, lambda tmp: tmp.write_text("new, whole", encoding="utf-8"), new_file_mode())
    assert target.read_text(encoding="utf-8") == "new, whole"
    (part, data, then), (folder, none, after) = synced
    assert Path(part).name.startswith(".stores.json.") and data == b"new, whole" and then == "old"
    assert folder == str(tmp_path) and none is None and after == "new, whole"
