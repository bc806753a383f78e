"""A rule scoped to a channel `run` does not watch (a misspelt username, a group of channels left out
of channels.watch) silently matched nothing from it. Through the offline Telegram: `run` posts one
notice per such rule at start-up and when a rule file edited on disk brings one, never for a rule
whose channels are watched."""

from __future__ import annotations

import shutil
from pathlib import Path

from .fake_telegram import FakeTelegram, eventually
from .test_chat import DESERTION, ROOT, SHOT, alerts, run, running

SCOPED = '''
[[rule]]
name = "typo"
query = "дезертир"
channels = ["@mahs"]

[[rule]]
name = "grouped"
query = "дезертир"
channels = ["south"]

[[rule]]
name = "watched"
title = "Scoped to watched"
query = "дезертир"
channels = ["mash", "Federal"]
'''


def notices(fake: FakeTelegram) -> list[str]:
    return [m.text for m in fake.chat if "can match no post" in m.text]


def test_a_rule_scoped_to_unwatched_channels_is_named_once(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        rules = tmp_path / "rules"
        shutil.copytree(ROOT / "rules", rules)
        (rules / "scoped.toml").write_text(SCOPED, encoding="utf-8")
        groups = {"south": ("kuban_news", "krd_live"), "federal": ("shot_shot", "rian_ru")}
        async with running(fake, tmp_path, groups=groups) as service:
            await eventually(lambda: len(notices(fake)) == 2)
            typo, grouped = sorted(notices(fake), reverse=True)
            assert typo == ("⚠️ rule 'typo' can match no post from mahs: not a channel of channels.watch in the "
                            "config (a username, id or title); add it there, or fix the rule's channels"), typo
            assert grouped.startswith("⚠️ rule 'grouped' can match no post from group south "
                                      "(none of its channels is watched)"), grouped
            fake.publish(SHOT, DESERTION)  # the rule scoped to a watched group still alerts
            await eventually(lambda: any("Scoped to watched" in m.text for m in alerts(fake)))
            (rules / "later.toml").write_text('[[rule]]\nname = "later"\nquery = "полк"\nchannels = ["topor"]\n',
                                              encoding="utf-8")
            await service.reload_rules()
            await eventually(lambda: len(notices(fake)) == 3)
            await service.reload_rules()
            assert len(notices(fake)) == 3  # each told once per run
    run(go())
