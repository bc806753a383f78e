"""Read posts from JSON Lines: one post object per line (schema in the README)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ..post import Entity, Post
from .export import Skip, check_text, unix_time

__all__ = ["read_jsonl", "post_from_dict"]


def _when(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return unix_time(value)
    if isinstance(value, str):
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    raise ValueError(f"{field} must be an ISO 8601 string or a Unix time")


def _int(d: dict[str, Any], key: str, required: bool = False) -> int | None:
    v = d.get(key)
    if v is None:
        if required:
            raise KeyError(key)
        return None
    if isinstance(v, bool) or not isinstance(v, (int, str)) or (isinstance(v, str) and not v.lstrip("-").isdigit()):
        raise ValueError(f"{key} must be an integer")
    return int(v)


def post_from_dict(d: dict[str, Any]) -> Post:
    """One JSON Lines record -> Post; raises KeyError/ValueError naming the bad field."""
    text = d.get("text", "")
    if not isinstance(text, str):
        raise ValueError("text must be a string")
    check_text(text)
    for key in ("channel_title", "channel_username", "forward_name", "media"):
        if d.get(key) is not None and not isinstance(d[key], str):
            raise ValueError(f"{key} must be a string")
    date = _when(d.get("date"), "date")
    if date is None:
        raise KeyError("date")
    entities = tuple(Entity(str(e["type"]), int(e["offset"]), int(e["length"]), e.get("url"))
                     for e in d.get("entities") or [])
    return Post(
        channel_id=_int(d, "channel_id", required=True),  # type: ignore[arg-type]
        message_id=_int(d, "message_id", required=True),  # type: ignore[arg-type]
        date=date, text=text,
        channel_title=str(d.get("channel_title") or ""),
        channel_username=(str(d["channel_username"]).lstrip("@") or None) if d.get("channel_username") else None,
        edit_date=_when(d.get("edit_date"), "edit_date"),
        entities=entities,
        forward_channel_id=_int(d, "forward_channel_id"),
        forward_post_id=_int(d, "forward_post_id"),
        forward_name=d.get("forward_name") or None,
        grouped_id=_int(d, "grouped_id"),
        media=d.get("media") or None,
    )


def read_jsonl(path: str | Path) -> Iterator[Post | Skip]:
    """Posts from a .jsonl file; a bad line is skipped and reported with its line number."""
    path = Path(path)
    try:
        f = path.open("rb")
    except OSError as e:
        yield Skip(str(path), "", f"cannot read: {e}")
        return
    with f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield Skip(str(path), f"line {n}", f"not UTF-8 ({e.reason})")
                continue
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("not a JSON object")
                yield post_from_dict(rec)
            except json.JSONDecodeError as e:
                yield Skip(str(path), f"line {n}", f"not valid JSON ({e.msg})")
            except KeyError as e:
                yield Skip(str(path), f"line {n}", f"missing field {e}")
            except RecursionError:
                yield Skip(str(path), f"line {n}", "JSON nested too deeply")
            except (ValueError, TypeError, OverflowError, OSError) as e:
                yield Skip(str(path), f"line {n}", str(e))
