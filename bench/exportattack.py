#!/usr/bin/env python3
"""bench/exportattack.py [SECONDS] [ROUNDS]: scrapes `kvmscope export` serves
while one address attacks it on loopback, on this machine: no attack, 200
connections each sending one byte a second, and 200 idle connections that
reconnect as soon as they are closed, alternating, ROUNDS rounds (default
3) of SECONDS of scraping each (default 8; one scrape every 0.2 s, 2 s to
answer). Prints scrapes answered per configuration, the median scrape
time and its ratio to no attack. The attackers and scraper are those of
tests/host/test-export.py, which asserts 90% under each attack."""
import importlib.util
import os
import signal
import socket
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("te", os.path.join(ROOT, "tests", "host", "test-export.py"))
te = importlib.util.module_from_spec(spec)
spec.loader.exec_module(te)


def one(mode, seconds):
    p, port = te.start("-i", "1s")
    kid = None
    if mode != "none":
        kid = os.fork()
        if kid == 0:
            stop, counts = threading.Event(), {"connects": 0}
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            te.attackers(port, 200, mode, stop, counts)
            os._exit(0)
        time.sleep(2.5)
    total, ok, times = 0, 0, []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        total += 1
        t = time.monotonic()
        data = te.request_from(port, "127.0.0.1")
        if data.startswith(b"HTTP/1.1 200"):
            ok += 1
            times.append(time.monotonic() - t)
        time.sleep(0.2)
    if kid:
        os.kill(kid, signal.SIGTERM)
        os.waitpid(kid, 0)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    return ok, total, times


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 8
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    modes = {"none": "no attack", "slow": "200 senders of a byte a second", "idle": "200 idle, reconnecting"}
    res = {m: [0, 0, []] for m in modes}
    for _ in range(rounds):
        for m in modes:
            ok, total, times = one(m, seconds)
            res[m][0] += ok
            res[m][1] += total
            res[m][2] += times
    base = statistics.median(res["none"][2]) if res["none"][2] else float("nan")
    print(f"{'configuration':34} {'answered':>12} {'median ms':>10} {'ratio':>6}")
    for m, what in modes.items():
        ok, total, times = res[m]
        med = statistics.median(times) if times else float("nan")
        print(f"{what:34} {ok:>5} of {total:<5} {med * 1e3:>10.2f} {med / base:>6.2f}")


if __name__ == "__main__":
    main()
