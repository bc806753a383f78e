"""The replay worker's pipes hold a whole batch (Linux): a canary on the executor's private pipes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.worker import PIPE_BYTES, Worker

_F_GETPIPE_SZ = 1032  # linux/fcntl.h


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are Linux's")
def test_the_worker_writes_a_batchs_results_without_waiting_for_each_64_kib_to_be_read() -> None:
    """Fails when a Python release renames ProcessPoolExecutor's queues: the child would again wait
    for this process's result thread (and it for the GIL) every 64 KiB (0.2 s of a corpus replay)."""
    import fcntl

    if int(Path("/proc/sys/fs/pipe-max-size").read_text()) < PIPE_BYTES:
        pytest.skip("this machine caps pipes below a batch's size")
    worker = Worker(Matcher([Rule.from_query("d", "дезертир")]))
    try:
        pool = worker._pool
        for end in (pool._result_queue._reader, pool._call_queue._reader):  # type: ignore[attr-defined]
            assert fcntl.fcntl(end.fileno(), _F_GETPIPE_SZ) >= PIPE_BYTES
    finally:
        worker.close()
