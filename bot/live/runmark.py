"""A store put back by hand (a `cp` of last night's .db, a file-level restore) carries no restore mark:
the service counts its sends in the store and, per store, in a file beside the session, which putting
back the .db does not roll back. A store whose count is behind that file's is an older copy: restored."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone
from pathlib import Path

from ..store.backup import BACKUP_KEY
from ..store.db import Store, iso
from ..store.export import new_file_mode, written_whole

__all__ = ["COPIED_KEY", "RUNS_FILE", "RunMarks"]

log = logging.getLogger(__name__)

RUNS_FILE = "stores.json"  # in paths.session_dir: db path -> {"store": id, "count": sends counted}
STORE_KEY = "store_id"  # meta row: this store's random id (a copy of it carries it too)
COUNT_KEY = "sends_counted"  # meta row: JSON {"n": passes that sent something, "at": ISO time of the last}
# meta row beside BACKUP_KEY: the store was found older than the last run's (put back by hand)
COPIED_KEY = "older_than_last_run"


class RunMarks:
    """The outside count of one store (`path`: the runs file, `db`: the store's path as configured)."""

    def __init__(self, path: Path, db: Path, store: Store) -> None:
        self.path, self.key, self.store = path, str(Path(db).expanduser().resolve()), store
        self._warned = False

    def check(self) -> bool:
        """At start: a store behind the runs file's count for it is marked restored (`BACKUP_KEY`, with
        the time of its last counted send, and `COPIED_KEY`); True when so. The file is then brought in step."""
        ident = self.store.get_meta(STORE_KEY)
        if ident is None:
            ident = uuid.uuid4().hex
            self.store.set_meta(STORE_KEY, ident)
        n, at = self._counted()
        entry = self._read().get(self.key)
        behind = isinstance(entry, dict) and entry.get("store") == ident and isinstance(entry.get("count"), int) \
            and entry["count"] > n
        if behind:
            assert isinstance(entry, dict)
            log.warning("%s is older than the store the last run used (%d sends counted, the last run %d): it was "
                        "put back from a copy; alerts of posts older than this run are checked, or held through a bot",
                        self.key, n, entry["count"])
            with self.store.transaction():
                if self.store.get_meta(BACKUP_KEY) is None:  # (`tgwatch restore`'s mark names its backup: kept)
                    self.store.set_meta(BACKUP_KEY, at or iso(datetime.now(timezone.utc)) or "")
                    self.store.set_meta(COPIED_KEY, "1")
                n = int(entry["count"])  # (ahead of the file again: the next start is no restore)
                self.store.set_meta(COUNT_KEY, json.dumps({"n": n, "at": at}))
        self._write(ident, n)
        return behind

    def sent(self) -> None:
        """Something went out: one more in the store's count, then in the runs file's (store first: a
        crash between leaves the store ahead, never behind)."""
        with self.store.transaction():
            n, _ = self._counted()
            self.store.set_meta(COUNT_KEY, json.dumps({"n": n + 1, "at": iso(datetime.now(timezone.utc))}))
        self._write(self.store.get_meta(STORE_KEY) or "", n + 1)

    def _counted(self) -> tuple[int, str | None]:
        try:
            value = json.loads(self.store.get_meta(COUNT_KEY) or "{}")
            at = value.get("at")
            return int(value.get("n", 0)), at if isinstance(at, str) else None
        except (ValueError, TypeError, AttributeError, OverflowError):  # (not ours: counted afresh)
            return 0, None

    def _read(self) -> dict[str, object]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return data
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            self._warn(f"{self.path}: unreadable ({e}); a store put back by hand is not detected this start")
            return {}

    def _write(self, ident: str, n: int) -> None:
        data = self._read()
        data[self.key] = {"store": ident, "count": n}
        try:
            written_whole(self.path, lambda tmp: tmp.write_text(json.dumps(data, indent=1), encoding="utf-8"),
                          new_file_mode())
        except OSError as e:
            self._warn(f"{self.path}: cannot be written ({e}); a store put back by hand may not be detected")

    def _warn(self, line: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("%s", line)
