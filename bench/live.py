"""Live latency: from a post pushed as an update to the alert's send request reaching the server.

Runs the real TelegramClient against the offline fake server (tests/fake_telegram.py) with the
shipped rules and a fresh store. Prints p50/p99 over N posts sent one at a time, the sustained
rate for a burst of N posts, and the same for the floor measured in the same run: a bare Telethon
NewMessage handler that sends a message at once (Telethon's and the fake's own cost).
Target (issue 5): p99 of our processing under 50 ms.

    .venv/bin/python bench/live.py [--posts 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # noqa: E402
from telethon import events  # noqa: E402

from bot.config import Config  # noqa: E402
from bot.live.service import Service  # noqa: E402
from bot.live.session import CLIENT_OPTIONS  # noqa: E402
from bot.store.db import Store  # noqa: E402
from tests.fake_telegram import FakeTelegram, eventually  # noqa: E402

CHANNEL = 1800000001
WORDS = ("город область район улица завод мост школа больница рынок вокзал порт аэропорт станция поселок "
         "набережная площадь парк колледж склад депо гараж общежитие стадион театр музей фабрика шахта карьер "
         "элеватор пекарня аптека почта банк суд прокуратура мэрия администрация полиция пожарные спасатели "
         "водитель пассажир студент пенсионер фермер рыбак охотник турист блогер депутат губернатор министр "
         "автобус трамвай поезд самолет вертолет катер грузовик мотоцикл велосипед такси электричка паром "
         "понедельник вторник среда четверг пятница суббота воскресенье утро вечер ночь полдень рассвет "
         "дождь снег ветер туман гроза мороз жара оттепель гололед метель ливень град "
         "красный синий зеленый белый черный желтый серый старый новый большой малый дальний ближний "
         "север юг запад восток граница побережье долина холм лес поле река озеро болото остров залив "
         "кирпич бетон стекло металл дерево пластик бумага ткань уголь нефть газ зерно сахар соль "
         "молоко хлеб мясо рыба овощи фрукты чай кофе вода сок пиво вино табак лекарства бензин").split()


SYLLABLES = "ка ло ми ре ту на ви со пе ра до лю зе ба ко ни".split()


def name(rng: random.Random) -> str:
    """A made-up proper noun (a village, a surname): what tells one report from the next."""
    return "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()


def posts(n: int, seed: int = 1) -> list[str]:
    """Distinct desertion reports: each matches, none is a rewording of another (each names its
    own places and people; 12 words of a small vocabulary alone overlapped enough, now and then,
    for the story index to fold two into one story, and a folded post sends no alert). The number
    after «№» is a number, no word: since «№» stopped spelling «no571», two of 1,000 posts that
    shared a name's first six letters and five common words folded; each names a town of its own too."""
    rng = random.Random(seed)
    return [f"Задержан дезертир №{i} из {name(rng)}{name(rng).lower()}ска: {name(rng)}, {name(rng)}ов, {name(rng)}, "
            f"{name(rng)}ин, {' '.join(rng.sample(WORDS, 8))} {rng.randrange(10**6)}" for i in range(n)]


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def sends(fake: FakeTelegram) -> list[float]:
    """When each message send request reached the server."""
    return [s.time for s in fake.request_log if type(s.request).__name__ == "SendMessageRequest"]


async def measure(fake: FakeTelegram, n: int, sent: Callable[[], int], done: Callable[[], bool]) -> tuple[list[float], float]:
    """Latencies (s) publishing n posts one at a time, then seconds until a burst of n other
    posts is all processed and delivered."""
    texts, burst = posts(n, seed=1), posts(n, seed=2)
    lat: list[float] = []
    for t in texts:
        before = sent()
        t0 = time.perf_counter()
        fake.publish(CHANNEL, t)
        await eventually(lambda: sent() > before, timeout=10, step=0.0005)
        lat.append(sends(fake)[-1] - t0)
    t0 = time.perf_counter()
    for t in burst:
        fake.publish(CHANNEL, t)
        await asyncio.sleep(0)
    await eventually(done, timeout=600, step=0.001)
    return lat, time.perf_counter() - t0


async def floor(n: int) -> tuple[list[float], float]:
    fake = FakeTelegram()
    fake.add_channel(CHANNEL, "shot_shot", "SHOT")
    client = await fake.client()

    async def handler(event: events.NewMessage.Event) -> None:
        await client.send_message("me", event.raw_text[:50], link_preview=False)

    client.add_event_handler(handler, events.NewMessage())
    out = await measure(fake, n, lambda: len(fake.chat), lambda: len(fake.chat) >= 2 * n)
    await client.disconnect()
    return out


async def ours(n: int, tmp: Path) -> tuple[list[float], float]:
    fake = FakeTelegram()
    fake.add_channel(CHANNEL, "shot_shot", "SHOT")
    options = {k: v for k, v in CLIENT_OPTIONS.items() if k != "connection_retries"}
    user = await fake.client(**options)
    config = Config(db=tmp / "live.db", rules=ROOT / "rules", channels=("shot_shot",), chats=("me",), resolve_delay_seconds=0, poll_minutes=60,
                    edit_every_seconds=0)
    service = Service(config, Store(config.db), user, scheduler=AsyncIOScheduler(timezone=timezone.utc))
    await service.start()
    store = service.store
    out = await measure(fake, n, lambda: len(sends(fake)),  # (an alert is stored before it is sent)
                        lambda: store.count("posts") >= 2 * n and not store.queued_alerts())
    print(f"  ({store.count('posts')} posts, {store.count('alerts')} alerts, {len(fake.chat)} messages sent)")
    await service.stop()
    await user.disconnect()
    return out


def report(name: str, lat: list[float], burst: float, n: int) -> tuple[float, float, float]:
    p50, p99 = percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000
    rate = n / burst
    print(f"{name:<28} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   mean {statistics.mean(lat) * 1000:7.2f} ms   burst {rate:8.0f} posts/s")
    return p50, p99, rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--posts", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        f = report("floor (bare handler + send)", *asyncio.run(floor(args.posts)), args.posts)
        o = report("tgwatch (pipeline + sender)", *asyncio.run(ours(args.posts, Path(d))), args.posts)
    print(f"our own processing at p99: {o[1] - f[1]:.2f} ms (target < 50 ms); "
          f"p99 ratio {o[1] / f[1]:.1f}x floor; sustained {o[2]:.0f} posts/s ({o[2] / f[2]:.2f}x floor)")


if __name__ == "__main__":
    main()
