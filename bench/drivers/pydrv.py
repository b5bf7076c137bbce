"""Drives Python flufl.lock for the nfslease benchmark harness.

  pydrv.py cycle PATH [N]     N lock()+unlock() cycles of one Lock (lifetime
                              15 s), prints the ns they took; without N,
                              answers a count per stdin line the same way
  pydrv.py handoff PATH HOLD_NS IDLE_NS START_NS END_NS
                              from START to END (CLOCK_MONOTONIC): lock,
                              hold, unlock, idle; prints "wait acq rel" per
                              acquisition ("wait 0 0": still waiting at
                              the end)
  pydrv.py hold PATH LIFETIME_S    locks, prints "held NS", sleeps
  pydrv.py wait PATH LIFETIME_S    prints "start NS", locks, prints "acq NS"
"""
import sys
import time
from datetime import timedelta

from flufl.lock import Lock, TimeOutError


def mono():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def sleep_until(ns):
    d = ns - mono()
    if d > 0:
        time.sleep(d / 1e9)


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "cycle":
        lock = Lock(path, lifetime=timedelta(seconds=15))

        def run(n):
            t = mono()
            for _ in range(n):
                lock.lock()
                lock.unlock()
            return mono() - t

        if len(sys.argv) > 3:
            print(run(int(sys.argv[3])))
            return
        for line in sys.stdin:
            n = int(line)
            if n <= 0:
                break
            print(run(n), flush=True)
    elif mode == "handoff":
        hold, idle, start, end = (int(x) for x in sys.argv[3:7])
        lock = Lock(path, lifetime=timedelta(seconds=15))
        recs = []
        sleep_until(start)
        while True:
            ws = mono()
            if ws >= end:
                break
            try:
                lock.lock(timeout=timedelta(seconds=(end - ws) / 1e9))
            except TimeOutError:
                recs.append((ws, 0, 0))  # still waiting at the end
                break
            acq = mono()
            sleep_until(acq + hold)
            rel = mono()
            lock.unlock()
            recs.append((ws, acq, rel))
            if idle > 0:
                sleep_until(mono() + idle)
        for r in recs:
            print(*r)
    elif mode == "hold":
        lock = Lock(path, lifetime=timedelta(seconds=float(sys.argv[3])))
        lock.lock()
        print("held", mono(), flush=True)
        while True:
            time.sleep(3600)
    elif mode == "wait":
        lock = Lock(path, lifetime=timedelta(seconds=float(sys.argv[3])))
        print("start", mono(), flush=True)
        lock.lock()
        print("acq", mono(), flush=True)
        lock.unlock()
    else:
        sys.exit("pydrv: bad mode " + mode)


if __name__ == "__main__":
    main()
