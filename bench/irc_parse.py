"""Benchmark of modules/twitch/irc.py: parse a generated corpus of realistic Twitch lines.

    .venv/bin/python bench/irc_parse.py [--lines 200000] [--peers [--rounds 5]]

Prints lines/s (best of three passes) for parse() alone (tags are decoded lazily, on first
access) and for parse() plus reading every message's tags, and the peak memory (tracemalloc)
of parsing the corpus while discarding and while keeping the messages.
Target: at least 300,000 lines/s.

--peers also runs twitchAPI's IRC parser (Chat._parse_irc_message, which decodes every tag and
splits badges and emotes) on the same corpus, in the peers' virtualenv (bench/peers.py), in
interleaved rounds, and prints the ratios. Target (issue 18): parse + every tag decoded at least
2x twitchAPI's parser.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

WORDS = ("hello", "PogChamp", "gg", "what", "is", "this", "song", "LUL", "nice", "play", "!reco", "Kappa",
         "the", "boss", "fight", "again", "chat", "lets", "go", "monkaS")


def _privmsg(rng: random.Random, index: int) -> str:
    login = f"viewer{rng.randrange(50000)}"
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 14)))
    emote = "emotes=25:0-4,12-16/1902:6-10;" if rng.random() < 0.3 else "emotes=;"
    reply = ""
    if rng.random() < 0.1:
        reply = ("reply-parent-display-name=Other;reply-parent-msg-body=what\\sis\\sthis\\ssong\\:\\sreally;"
                 "reply-parent-msg-id=885196de-cb67-427a-baa8-82f9b0fcd05f;reply-parent-user-id=123;"
                 "reply-parent-user-login=other;")
    return (f"@badge-info=subscriber/{rng.randrange(1, 40)};badges=subscriber/12,glhf-pledge/1;"
            f"client-nonce={rng.getrandbits(128):032x};color=#1E90FF;display-name={login.title()};{emote}"
            f"first-msg=0;flags=;id=b34ccfc7-4977-403a-8a94-{index:012d};mod=0;{reply}returning-chatter=0;"
            f"room-id=12345678;subscriber=1;tmi-sent-ts=1642696567751;turbo=0;user-id={rng.randrange(10**8)};"
            f"user-type= :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #somestreamer :{text}")


def _usernotice(rng: random.Random, index: int) -> str:
    login = f"viewer{rng.randrange(50000)}"
    months = rng.randrange(2, 60)
    return (f"@badge-info=subscriber/{months};badges=subscriber/{months},premium/1;color=#008000;"
            f"display-name={login.title()};emotes=;flags=;id=db25007f-7a18-43eb-9379-{index:012d};"
            f"login={login};mod=0;msg-id=resub;msg-param-cumulative-months={months};msg-param-months=0;"
            f"msg-param-multimonth-duration=0;msg-param-multimonth-tenure=0;msg-param-should-share-streak=1;"
            f"msg-param-streak-months={months};msg-param-sub-plan-name=Channel\\sSubscription\\s(somestreamer);"
            f"msg-param-sub-plan=1000;msg-param-was-gifted=false;room-id=12345678;subscriber=1;"
            f"system-msg={login}\\ssubscribed\\sat\\sTier\\s1.\\sThey've\\ssubscribed\\sfor\\s{months}\\smonths!;"
            f"tmi-sent-ts=1642696567751;user-id={rng.randrange(10**8)};user-type= "
            f":tmi.twitch.tv USERNOTICE #somestreamer :Great stream -- keep it up!")


def _clearchat(rng: random.Random, index: int) -> str:
    login = f"viewer{rng.randrange(50000)}"
    return (f"@ban-duration=600;room-id=12345678;target-user-id={rng.randrange(10**8)};"
            f"tmi-sent-ts=1642715756806 :tmi.twitch.tv CLEARCHAT #somestreamer :{login}")


def corpus(size: int, seed: int = 7) -> list[str]:
    """`size` lines: 84% PRIVMSG, 8% USERNOTICE, 4% CLEARCHAT, 4% PING."""
    rng = random.Random(seed)
    lines = []
    for index in range(size):
        roll = rng.random()
        if roll < 0.84:
            lines.append(_privmsg(rng, index))
        elif roll < 0.92:
            lines.append(_usernotice(rng, index))
        elif roll < 0.96:
            lines.append(_clearchat(rng, index))
        else:
            lines.append("PING :tmi.twitch.tv")
    return lines


def _ours(read_tags: bool, structures: bool = False):
    from modules.twitch.irc import badges, emotes, parse

    if structures:  # what twitchAPI's parser also does: badges and emotes split into structures
        def run(line: str) -> None:
            tags = parse(line).tags
            badges(tags), badges(tags, "badge-info"), emotes(tags)
    elif read_tags:
        def run(line: str) -> None:
            parse(line).tags  # noqa: B018 - decoding the tags is what is measured
    else:
        run = parse
    return run


def _twitchapi():
    """twitchAPI's parser, as its Chat client calls it for every line (no bot-command prefix matches)."""
    import logging

    from twitchAPI.chat import Chat

    chat = object.__new__(Chat)  # the parser needs only these attributes, not a connected client
    chat._channel_command_prefix, chat._prefix, chat.logger = {}, "\0", logging.getLogger("twitchapi")
    return chat._parse_irc_message


def throughput(lines: list[str], run, passes: int = 3) -> float:
    """Lines per second of run(line) over the corpus, best of `passes`."""
    best = float("inf")
    for _ in range(passes):
        started = time.perf_counter()
        for line in lines:
            run(line)
        best = min(best, time.perf_counter() - started)
    return len(lines) / best


def peers(lines: int, rounds: int) -> None:
    """Interleaved rounds: ours (three ways) in this process, twitchAPI in the peers' interpreter."""
    sys.path.insert(0, str(BENCH))
    from peers import peer_python

    python, corpus_lines = str(peer_python()), corpus(lines)
    ours = {"parse + every tag decoded": _ours(True), "parse + tags + badges and emotes split": _ours(True, True)}
    results: dict[str, list[float]] = {name: [] for name in (*ours, "twitchAPI")}
    for _ in range(rounds):
        for name, run in ours.items():
            results[name].append(throughput(corpus_lines, run))
        peer = subprocess.run([python, __file__, "--as-twitchapi", "--lines", str(lines)], check=True,
                              capture_output=True, text=True)
        results["twitchAPI"].append(float(peer.stdout))
    peer_rates = results["twitchAPI"]
    print(f"{rounds} interleaved rounds on {lines:,} lines (load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores):")
    for name, rates in results.items():
        ratios = [rate / peer for rate, peer in zip(rates, peer_rates, strict=True)]
        print(f"  {name}: median {statistics.median(rates):,.0f} lines/s, "
              f"{statistics.median(ratios):.2f}x twitchAPI (rounds {min(ratios):.2f}-{max(ratios):.2f})")


def peak_memory(lines: list[str], keep: bool) -> int:
    from modules.twitch.irc import parse

    tracemalloc.start()
    kept = [parse(line) for line in lines] if keep else None
    if not keep:
        for line in lines:
            parse(line).tags  # noqa: B018
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--peers", action="store_true", help="compare with twitchAPI's parser")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--as-twitchapi", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.as_twitchapi:  # a peer round, in the peers' interpreter: print lines/s only
        print(throughput(corpus(args.lines), _twitchapi()))
        return
    if args.peers:
        peers(args.lines, args.rounds)
        return
    lines = corpus(args.lines)
    size_mb = sum(len(line) for line in lines) / 1e6
    tags = sum(line.count(";") + 1 for line in lines if line[0] == "@") / len(lines)
    print(f"corpus: {len(lines):,} lines, {size_mb:.1f} MB, {tags:.1f} tags per line on average")
    for label, read_tags in (("parse (tags decoded on first use)", False), ("parse + decode all tags", True)):
        rate = throughput(lines, _ours(read_tags))
        print(f"{label}: {rate:,.0f} lines/s ({1e6 / rate:.2f} µs per line, best of 3 passes)")
    print(f"peak memory, streaming (messages discarded): {peak_memory(lines, keep=False) / 1e6:.2f} MB")
    kept = peak_memory(lines, keep=True)
    print(f"peak memory, all {len(lines):,} messages kept: {kept / 1e6:.1f} MB "
          f"({kept / len(lines):,.0f} bytes per message)")


if __name__ == "__main__":
    main()
