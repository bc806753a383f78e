"""Word-vector pair features for bench/stories_quality.py --vectors (issue 4: do Navec vectors help?).

Navec news vectors (natasha's navec_news_v1_1B_250K_300d_100q.tar, MIT; loaded with the `navec`
package) of a post's content words: the words `bot.story.similar` keeps (stop words, one-letter
words and bare digits dropped), each looked up as written (Navec keys are lower-case word forms),
else as its lemma, and weighted by the lemma's IDF from the post's fingerprint. Per pair:
  cos    cosine of the two IDF-weighted mean vectors;
  soft   soft containment of the lighter post (IDF-weighted mean over its words of the best cosine
         with any word of the other post: `similarity` with near-synonyms counted);
  softm  the smaller of the two soft containments (both ways, as `mutual`);
  fresh  soft containment over the lighter post's words that the other post does not share as
         lemmas (what vectors add beyond the exact words), 0 when every word is shared.
Also a tiny logistic regression (numpy, Newton steps with an L2 penalty) for combining features.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from bot.post import Post
from bot.story import similar as sim
from bot.text import words


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc), 0 when unknown."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


class Vectors:
    """Navec vectors unpacked per post: a matrix of unit rows for a post's content words."""

    def __init__(self, path: Path) -> None:
        from navec import Navec  # the small `navec` package; the .tar ships in natasha's wheel

        self.navec = Navec.load(str(path))
        self.ids: dict[str, int] = self.navec.vocab.word_ids
        pq = self.navec.pq
        self._codes, self._indexes, self._q = pq.codes, pq.indexes, pq.qdims
        self.dim = pq.dim

    def post_matrix(self, text: str, fp: sim.Fingerprint) -> "PostVectors":
        """Unit vectors of the post's distinct content words found in Navec, with their lemmas' IDF."""
        seen: dict[int, tuple[float, str]] = {}
        for w in dict.fromkeys(words(sim.strip_boilerplate(text))):
            if len(w) <= 1 or w in sim.STOP_WORDS or w.isdigit():
                continue
            lemma = sim.fold_lemma(w)
            i = self.ids.get(w)
            if i is None:
                i = self.ids.get(lemma)
            if i is not None and i not in seen:
                seen[i] = (fp.weights.get(lemma, 1.0), lemma)
        if not seen:
            return PostVectors(np.zeros((0, self.dim), np.float32), np.zeros(0), ())
        ids = np.fromiter(seen, np.int64, len(seen))
        m = self._codes[self._q, self._indexes[ids]].reshape(len(ids), self.dim)
        m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)
        w = np.array([v[0] for v in seen.values()])
        return PostVectors(m, w, tuple(v[1] for v in seen.values()))


@dataclass(frozen=True)
class PostVectors:
    m: np.ndarray  # unit rows, one per distinct content word found
    w: np.ndarray  # IDF weight of each row's lemma
    lemmas: tuple[str, ...]


def pair_features(a: PostVectors, b: PostVectors) -> tuple[float, float, float, float]:
    """(cos, soft, softm, fresh) of two posts, as in the module docstring; zeros without words."""
    if not len(a.w) or not len(b.w):
        return 0.0, 0.0, 0.0, 0.0
    ua, ub = a.w @ a.m, b.w @ b.m
    cos = float(ua @ ub / max(1e-9, float(np.linalg.norm(ua) * np.linalg.norm(ub))))
    s = a.m @ b.m.T
    best_a, best_b = s.max(1), s.max(0)
    soft_a = float(a.w @ best_a / a.w.sum())
    soft_b = float(b.w @ best_b / b.w.sum())
    light, best = (a, best_a) if a.w.sum() <= b.w.sum() else (b, best_b)
    other = set(b.lemmas if light is a else a.lemmas)
    new = np.array([t not in other for t in light.lemmas])
    fresh = float(light.w[new] @ best[new] / light.w[new].sum()) if new.any() else 0.0
    return cos, soft_a if light is a else soft_b, min(soft_a, soft_b), fresh


@dataclass(frozen=True)
class Cost:
    """CPU µs and bytes of the vector features (see `time_vectors`)."""

    post_us: float  # a post's word matrix and mean vector, from its text and fingerprint
    cos_us: float  # per pair, from two kept unit mean vectors
    soft_us: float  # per pair, soft containment from two kept word matrices
    all_us: float  # per pair, `pair_features` (all four)
    mean_bytes: float  # a kept mean vector (float32)
    matrix_bytes: float  # a kept word matrix (float32), on average


def time_vectors(vec: Vectors, posts: Sequence[Post], prints: dict, n_pairs: int = 20_000) -> Cost:
    """What the features would cost in a pipeline: per post, per random pair of posts, and kept."""
    t0 = time.process_time()
    mats = []
    for p in posts:
        pv = vec.post_matrix(p.text, prints[p.key])
        u = pv.w @ pv.m
        mats.append((pv, (u / max(1e-9, float(np.linalg.norm(u)))).astype(np.float32)))
    post_us = (time.process_time() - t0) / len(posts) * 1e6
    rng = random.Random(2)
    pairs = [(rng.choice(mats), rng.choice(mats)) for _ in range(n_pairs)]
    t0 = time.process_time()
    for (_, ua), (_, ub) in pairs:
        float(ua @ ub)
    cos_us = (time.process_time() - t0) / n_pairs * 1e6
    t0 = time.process_time()
    for (a, _), (b, _) in pairs:
        if len(a.w) and len(b.w):
            light, heavy = (a, b) if a.w.sum() <= b.w.sum() else (b, a)
            float(light.w @ (light.m @ heavy.m.T).max(1) / light.w.sum())
    soft_us = (time.process_time() - t0) / n_pairs * 1e6
    t0 = time.process_time()
    for (a, _), (b, _) in pairs:
        pair_features(a, b)
    all_us = (time.process_time() - t0) / n_pairs * 1e6
    return Cost(post_us, cos_us, soft_us, all_us, float(mats[0][1].nbytes),
                float(np.mean([pv.m.nbytes for pv, _ in mats])))


# --- a tiny logistic regression ------------------------------------------------------------------


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 30) -> np.ndarray:
    """Weights (bias last) of an L2-penalised logistic regression by Newton steps; x standardised
    by the caller."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    pen = np.full(xb.shape[1], l2)
    pen[-1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + pen * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(pen + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def logistic_scores(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, l2: float = 1.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Fitted probabilities on the training and the test rows (standardised on the training rows)."""
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-9
    w = fit_logistic((x_train - mu) / sd, y_train, l2)

    def score(x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-np.clip(np.hstack([(x - mu) / sd, np.ones((len(x), 1))]) @ w, -30, 30)))

    return score(x_train), score(x_test)


def best_threshold(scores: np.ndarray, y: np.ndarray) -> float:
    """The score threshold with the best F1 on these rows (midpoint between neighbouring scores)."""
    order = np.sort(np.unique(scores))
    cuts = np.concatenate([[order[0] - 1], (order[1:] + order[:-1]) / 2])
    best, best_f1 = 0.5, -1.0
    pos = y == 1
    for c in cuts:
        pred = scores >= c
        tp = int((pred & pos).sum())
        f1 = 2 * tp / max(1, 2 * tp + int((pred & ~pos).sum()) + int((~pred & pos).sum()))
        if f1 > best_f1:
            best, best_f1 = float(c), f1
    return best


def kfold_logistic(x: np.ndarray, y: np.ndarray, k: int, repeats: int, l2: float = 1.0) -> list[np.ndarray]:
    """Held-out predictions of a logistic regression, one boolean array per seeded k-fold repeat:
    each fold is predicted by a model (and an F1-best threshold) fitted on the other k-1 folds."""
    out = []
    n = len(y)
    for seed in range(repeats):
        idx = np.array(random.Random(seed).sample(range(n), n))
        pred = np.zeros(n, bool)
        for fold in np.array_split(idx, k):
            train = np.setdiff1d(idx, fold)
            s_train, s_test = logistic_scores(x[train], y[train], x[fold], l2)
            pred[fold] = s_test >= best_threshold(s_train, y[train])
        out.append(pred)
    return out


def auc(score: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (ties count half): how well one feature alone orders the pairs."""
    pos, neg = score[y == 1], score[y == 0]
    if not len(pos) or not len(neg):
        return math.nan
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def columns(rows: Iterable[tuple[float, ...]]) -> np.ndarray:
    """Rows of pair features as an (n, 4) float array."""
    return np.array(list(rows), float).reshape(-1, 4)
