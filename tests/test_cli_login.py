"""`tgwatch login` when Telegram cannot be reached: one clear line, no traceback, no bare "Aborted!".

The real TelegramClient and its real MTProto sender run the real handshake; only the server side is
fake, a TCP listener on 127.0.0.1 the session file points at, which cuts the connection mid-handshake,
holds it open, or is not there at all (nothing leaves the machine)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from telethon import TelegramClient

from bot.cli import cli

from .conftest import interruptible

ROOT = Path(__file__).resolve().parents[1]
HASH = "0123456789abcdef0123456789abcdef"
ENV = {"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH}
PREFIX = "error: cannot reach Telegram (network, firewall or proxy?): "


class FakeDC:
    """The server end of a Telegram data centre at the TCP level: `cut` accepts, reads the start of
    the handshake and closes; `hold` reads the start of the handshake too and never answers; `absent`
    refuses connections; `http` answers as a web proxy or captive portal does, with an HTTP error page, then closes."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.held: list[socket.socket] = []
        if mode == "absent":
            self.sock.close()  # the port is free again: connecting is refused
            return
        self.sock.listen()
        self.sock.settimeout(30)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            while True:
                conn, _ = self.sock.accept()
                if self.mode == "hold":
                    self.held.append(conn)
                conn.settimeout(10)
                self.received.append(conn.recv(1024))
                if self.mode == "hold":
                    continue  # the client waits for an answer that never comes
                if self.mode == "http":
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n"
                                 b"Server: proxy\r\n\r\n")
                conn.close()
        except OSError:
            return

    def close(self) -> None:
        for c in self.held:
            c.close()
        self.sock.close()


def config_at(tmp_path: Path, dc: FakeDC) -> Path:
    """A config whose (not yet logged-in) session talks to `dc` instead of Telegram."""
    sessions = tmp_path / "sessions"
    sessions.mkdir(mode=0o700)
    session = TelegramClient(str(sessions / "user.session"), 1, HASH).session
    session.set_dc(2, "127.0.0.1", dc.port)
    session.save()
    session.close()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[paths]\nsession_dir = "{sessions}"\n', encoding="utf-8")
    return cfg


@pytest.fixture
def dc(request: pytest.FixtureRequest) -> Iterator[FakeDC]:
    server = FakeDC(request.param)
    yield server
    server.close()


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.live.session import LOGIN_OPTIONS

    monkeypatch.setitem(LOGIN_OPTIONS, "retry_delay", 0)


def assert_one_line_error(output: str, *needles: str) -> None:
    assert output.startswith(PREFIX) and output.count("\n") == 1, output
    assert "Traceback" not in output and "Aborted" not in output and "WARNING" not in output
    assert HASH not in output
    for n in needles:
        assert n in output, output


@pytest.mark.parametrize("dc", ["cut"], indirect=True)
def test_a_connection_cut_mid_handshake_is_one_clear_line(dc: FakeDC, tmp_path: Path, quick_retries: None) -> None:
    r = CliRunner().invoke(cli, ["login", "-c", str(config_at(tmp_path, dc)), "--phone", "+447700900123"], env=ENV)
    assert dc.received and dc.received[0]  # Telethon did start its handshake with our server
    assert r.exit_code == 2, r.output
    assert_one_line_error(r.output, "the connection was closed during the handshake")


@pytest.mark.parametrize("dc", ["absent"], indirect=True)
def test_no_telegram_to_connect_to_is_one_clear_line_without_retry_warnings(dc: FakeDC, tmp_path: Path,
                                                                            quick_retries: None) -> None:
    r = CliRunner().invoke(cli, ["login", "-c", str(config_at(tmp_path, dc)), "--phone", "+447700900123"], env=ENV)
    assert r.exit_code == 2, r.output
    assert_one_line_error(r.output, "ConnectionRefusedError", "(3 attempts)")  # given up after its retries


@pytest.mark.parametrize("dc", ["hold"], indirect=True)
def test_ctrl_c_while_connecting_still_cancels_the_login(dc: FakeDC, tmp_path: Path) -> None:
    cfg = config_at(tmp_path, dc)
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", "from bot.cli import main; main()", "login", "-c", str(cfg),
                              "--phone", "+447700900123"], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    try:
        deadline = time.monotonic() + 20
        while not dc.received and time.monotonic() < deadline:  # until it is mid-handshake: its first
            time.sleep(0.05)                                     # packet sent, awaiting the answer
        assert dc.received and dc.received[0], "the login never started its handshake"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 2, (out, err)
    assert err == "error: login cancelled\n", err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("dc", ["absent"], indirect=True)
def test_run_with_no_telegram_is_one_clear_line_after_the_startup_wait(dc: FakeDC, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` reconnects forever once running, but a first connection that never succeeds is one
    line (not a retry warning every 5 s, forever)."""
    import os as _os

    from telethon.crypto import AuthKey

    from bot.live.session import CLIENT_OPTIONS

    monkeypatch.setattr("bot.live.session.STARTUP_CONNECT_SECONDS", 2.0)
    monkeypatch.setitem(CLIENT_OPTIONS, "retry_delay", 0.1)
    cfg = config_at(tmp_path, dc)
    session = TelegramClient(str(tmp_path / "sessions" / "user.session"), 1, HASH).session
    session.auth_key = AuthKey(_os.urandom(256))  # logged in once: run connects
    session.save()
    session.close()
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "d.toml").write_text('[[rule]]\nname = "d"\ntitle = "D"\nquery = "дезертир"\n', encoding="utf-8")
    cfg.write_text(cfg.read_text(encoding="utf-8") + f'db = "{tmp_path / "t.db"}"\nrules = "{tmp_path / "rules"}"\n'
                   '[channels]\nwatch = ["shot_shot"]\n', encoding="utf-8")
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env=ENV)
    assert r.exit_code == 2, r.output
    assert_one_line_error(r.output, "timed out; last attempt: ConnectionRefusedError")  # the startup wait ended it


def test_reconnection_warnings_while_running_thin_out(caplog: pytest.LogCaptureFixture) -> None:
    """An hour's outage at one attempt every 5 s: attempts 1, 2, 4, 8, ... are logged, not 720."""
    import logging

    from bot.live.session import QuietReconnects

    log = logging.getLogger("telethon.network.mtprotosender")
    caplog.set_level(logging.WARNING)
    with QuietReconnects():
        for n in range(1, 721):
            log.warning("Attempt %d at connecting failed: %s: %s", n, "ConnectionRefusedError", "refused")
        log.warning("Server closed the connection: 0 bytes read")  # other warnings pass
    shown = [r.getMessage().split()[1] for r in caplog.records if "Attempt" in r.getMessage()]
    assert shown == ["1", "2", "4", "8", "16", "32", "64", "128", "256", "512"]
    assert any("Server closed" in r.getMessage() for r in caplog.records)
    log.warning("Attempt %d at connecting failed: %s: %s", 3, "X", "y")  # the filter is gone after the block
    assert caplog.records[-1].getMessage().startswith("Attempt 3")


@pytest.mark.parametrize("partial, expected, status", [
    (b" 400 Bad Request\r\n\r\n", int.from_bytes(b"HTTP", "little") - 8, "HTTP 400"),  # the full transport
    (b"/1.1 403 Forbidden\r\n", int.from_bytes(b"HTTP", "little"), "HTTP 403"),  # a 4-byte length
    (b"", int.from_bytes(b"HTTP", "little") - 8, "HTTP"),  # cut before the status
])
def test_an_http_answer_is_named_as_a_web_server_not_a_byte_count(partial: bytes, expected: int, status: str) -> None:
    """«HTTP» read as a packet length is a billion bytes: the line names the web server and its status."""
    import asyncio

    from bot.live.session import cannot_reach

    line = cannot_reach(asyncio.IncompleteReadError(partial, expected))
    assert f"a web server answered instead of Telegram ({status})" in line and str(expected) not in line, line
    assert "3 of 100 bytes" in cannot_reach(asyncio.IncompleteReadError(b"abc", 100))  # a real cut keeps its count
