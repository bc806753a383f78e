"""An xlsx export or a chat /export killed outright (SIGKILL, a power cut) cannot remove its scratch
folder (.tgwatch-xlsx-*, .tgwatch-export-*): the next export to that folder does, never a live one's."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from .sample_store import Sample
from .test_part_sweep import child, export, parts

pytest.importorskip("fcntl", reason="a dead writer's folder is told by its free lock")

# `tgwatch export -o OUT.xlsx`, its writer held after its first rows are in the scratch folder:
# killed there (argv "kill") or waiting for the test to end it ("wait")
_XLSX = """
import os, signal, sys
import bot.cli.export as ex
from bot.cli import cli
real = ex.write_xlsx
def held(rows, path, cut=None):
    def some():
        for i, row in enumerate(rows):
            yield row
            if i == 2:
                print("writing", flush=True)
                if sys.argv[1] == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                sys.stdin.read()
    return real(some(), path, cut)
ex.write_xlsx = held
cli(["export", "--db", sys.argv[2], "-o", sys.argv[3]])
"""

# the chat's /export folder beside the store (`scratch_dir`), its file begun, the service then
# killed ("kill") or still sending it ("wait")
_CHAT = """
import os, signal, sys
from pathlib import Path
from bot.store.export import scratch_dir
folder = scratch_dir(Path(sys.argv[2]).parent, "tgwatch-export-")
(folder / "tgwatch-all-20241127-1200.csv").write_text("channel_id,", encoding="utf-8")
print("writing", flush=True)
if sys.argv[1] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.stdin.read()
"""


def scratch(folder: Path) -> list[Path]:
    return sorted(folder.glob(".tgwatch-*"))


def test_a_killed_xlsx_exports_scratch_folder_is_swept_by_the_next_and_a_live_ones_is_kept(sample: Sample,
                                                                                          tmp_path: Path) -> None:
    out = tmp_path / "posts.xlsx"
    killed = child(_XLSX, "kill", sample.db, out)
    assert killed.wait() == -signal.SIGKILL
    (stale,) = scratch(tmp_path)
    assert stale.name.startswith(".tgwatch-xlsx-") and any(stale.iterdir())  # its rows so far, left behind
    live = child(_XLSX, "wait", sample.db, tmp_path / "other.xlsx")
    try:
        (working,) = set(scratch(tmp_path)) - {stale}
        export(sample.db, out)
        assert not stale.exists()  # the dead writer's is gone
        assert scratch(tmp_path) == [working] and any(working.iterdir())  # the live one's is kept, untouched
        assert len(parts(tmp_path)) == 1  # (the live one's .part; the killed one's swept too)
    finally:
        live.kill()
        live.wait()


def test_a_killed_chat_exports_folder_beside_the_store_is_swept_by_the_next_export(sample: Sample,
                                                                                  tmp_path: Path) -> None:
    killed = child(_CHAT, "kill", sample.db)
    assert killed.wait() == -signal.SIGKILL
    (stale,) = scratch(tmp_path)
    assert stale.name.startswith(".tgwatch-export-")
    live = child(_CHAT, "wait", sample.db)
    try:
        (sending,) = set(scratch(tmp_path)) - {stale}
        export(sample.db, tmp_path / "posts.xlsx")  # its own scratch folder beside the store
        assert not stale.exists()
        assert scratch(tmp_path) == [sending] and [p.name for p in sending.iterdir()] == ["tgwatch-all-20241127-1200.csv"]
    finally:
        live.kill()
        live.wait()
