"""The Bytewax 0.21.1 side of Weir's Nexmark benchmark.

    python nexmark.py <events.csv> <query> <out.txt>

Reads and parses the whole CSV (one event per line, see README.md) before timing, then runs
<query> (q0, q1, q2, q3 or q7) as a Bytewax dataflow with ``run_main`` over an in-memory
``TestingSource(events, batch_size=1024)``, timing only ``run_main``. Writes the results to
<out.txt> in canonical form (one comma-joined line per result, sorted; for q0 the count alone)
and prints one JSON line to stdout:
{"query", "events", "seconds", "events_per_s", "results"}.
"""

from __future__ import annotations

import json
import math
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple, Union

import bytewax.operators as op
import bytewax.operators.windowing as win
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import TestingSink, TestingSource, run_main


class Person(NamedTuple):
    id: int
    name: str
    email_address: str
    credit_card: str
    city: str
    state: str
    date_time: int  # epoch ms


class Auction(NamedTuple):
    id: int
    item_name: str
    description: str
    initial_bid: int
    reserve: int
    date_time: int  # epoch ms
    expires: int  # epoch ms
    seller: int
    category: int


class Bid(NamedTuple):
    auction: int
    bidder: int
    price: int
    channel: str
    url: str
    date_time: int  # epoch ms


Event = Union[Person, Auction, Bid]

BATCH_SIZE = 1024
# q7's tumbling windows: 10 s, aligned to 2026-01-01T00:00:00Z.
WINDOW_ALIGN = datetime(2026, 1, 1, tzinfo=timezone.utc)
WINDOW_ALIGN_MS = int(WINDOW_ALIGN.timestamp() * 1000)
WINDOW_LENGTH_MS = 10_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
Q3_STATES = frozenset(("OR", "ID", "CA"))


class InputError(Exception):
    """A line of the events file that isn't a Nexmark event in the expected format."""


def _int(field: str, what: str, path: str, lineno: int) -> int:
    try:
        return int(field)
    except ValueError:
        raise InputError(
            f"parse events: {path}:{lineno}: {what} must be an integer, got {field!r} (a str); "
            "fix the generator's output"
        ) from None


def parse_events(path: str) -> List[Event]:
    """Parses every line of ``path`` into Person / Auction / Bid tuples."""
    events: List[Event] = []
    append = events.append
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line:
                continue
            p = line.split(",")
            kind = p[0]
            if kind == "B" and len(p) == 7:
                append(Bid(_int(p[1], "bid.auction", path, lineno), _int(p[2], "bid.bidder", path, lineno),
                           _int(p[3], "bid.price", path, lineno), p[4], p[5],
                           _int(p[6], "bid.dateTime", path, lineno)))
            elif kind == "P" and len(p) == 8:
                append(Person(_int(p[1], "person.id", path, lineno), p[2], p[3], p[4], p[5], p[6],
                              _int(p[7], "person.dateTime", path, lineno)))
            elif kind == "A" and len(p) == 10:
                append(Auction(_int(p[1], "auction.id", path, lineno), p[2], p[3],
                               _int(p[4], "auction.initialBid", path, lineno),
                               _int(p[5], "auction.reserve", path, lineno),
                               _int(p[6], "auction.dateTime", path, lineno),
                               _int(p[7], "auction.expires", path, lineno),
                               _int(p[8], "auction.seller", path, lineno),
                               _int(p[9], "auction.category", path, lineno)))
            else:
                expected = {"P": 8, "A": 10, "B": 7}.get(kind)
                why = (f"a {kind!r} line needs {expected} comma-separated fields, got {len(p)}"
                       if expected else f"the first field must be P, A or B, got {kind!r}")
                raise InputError(f"parse events: {path}:{lineno}: {why}; fix the generator's output")
    return events


class _CountPartition(StatelessSinkPartition):
    def __init__(self, counter: List[int]) -> None:
        self._counter = counter

    def write_batch(self, items: List[object]) -> None:
        self._counter[0] += len(items)


class CountSink(DynamicSink):
    """A sink that only counts what it receives (q0), into ``counter[0]``."""

    def __init__(self, counter: List[int]) -> None:
        self._counter = counter

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _CountPartition:
        return _CountPartition(self._counter)


# Each builder adds the query's steps after `src` and returns the stream of result tuples.

def q0(src: op.Stream) -> op.Stream:
    return op.map("pass", src, lambda e: e)


def q1(src: op.Stream) -> op.Stream:
    bids = op.filter("bids", src, lambda e: type(e) is Bid)
    return op.map("to_euro", bids, lambda b: (b.auction, b.bidder, math.floor(b.price * 0.908),
                                               b.channel, b.url, b.date_time))


def q2(src: op.Stream) -> op.Stream:
    picked = op.filter("pick", src, lambda e: type(e) is Bid and e.auction % 123 == 0)
    return op.map("project", picked, lambda b: (b.auction, b.price))


def _q3_key(e: Event) -> Optional[Tuple[str, Event]]:
    t = type(e)
    if t is Person:
        return (str(e.id), e) if e.state in Q3_STATES else None
    if t is Auction:
        return (str(e.seller), e) if e.category == 10 else None
    return None


# State per person id: (the person once seen, else None; auctions waiting for that person).
Q3State = Tuple[Optional[Person], List[Auction]]


def _q3_join(state: Optional[Q3State], e: Event) -> Tuple[Q3State, List[tuple]]:
    person, waiting = state if state is not None else (None, [])
    if type(e) is Person:
        # Auctions that arrived first are matched now; later ones are matched as they arrive.
        out = [(e.name, e.city, e.state, a.id) for a in waiting]
        return (e, []), out
    if person is not None:
        return (person, waiting), [(person.name, person.city, person.state, e.id)]
    waiting.append(e)
    return (None, waiting), []


def q3(src: op.Stream) -> op.Stream:
    keyed = op.filter_map("key_by_person", src, _q3_key)
    joined = op.stateful_flat_map("join", keyed, _q3_join)
    return op.key_rm("unkey", joined)


def _q7_ts(b: Bid) -> datetime:
    return EPOCH + timedelta(milliseconds=b.date_time)


def q7(src: op.Stream, late: List[object]) -> op.Stream:
    bids = op.filter("bids", src, lambda e: type(e) is Bid)
    # One key: the highest bid of a window is over all bids.
    keyed = op.key_on("one_key", bids, lambda _b: "all")
    # The clock's system time is frozen and no wake-ups are scheduled, so the watermark is exactly
    # the highest dateTime seen (wait 0) and windows close on the events alone (and at EOF). With
    # the default wall-clock now_getter, the watermark creeps forward between batches and bids
    # sharing the last millisecond of the previous batch turn late nondeterministically.
    frozen = WINDOW_ALIGN
    clock = win.EventClock(_q7_ts, wait_for_system_duration=timedelta(0),
                           now_getter=lambda: frozen, to_system_utc=lambda _ts: None)
    windower = win.TumblingWindower(length=timedelta(milliseconds=WINDOW_LENGTH_MS), align_to=WINDOW_ALIGN)
    # max_window keeps the accumulated value on ties (Python's max returns its first argument),
    # and reduces in arrival order, so ties go to the first bid that arrived.
    out = win.max_window("max_bid", keyed, clock, windower, by=lambda b: b.price)
    op.output("late_out", out.late, TestingSink(late))
    return op.map("shape", out.down, lambda kv: (WINDOW_ALIGN_MS + kv[1][0] * WINDOW_LENGTH_MS,
                                                  kv[1][1].auction, kv[1][1].price, kv[1][1].bidder))


QUERIES = ("q0", "q1", "q2", "q3", "q7")


def run(events: List[Event], query: str) -> Tuple[float, List[str], int]:
    """Builds and runs ``query`` over ``events``; returns (seconds of run_main, canonical lines, results)."""
    flow = Dataflow(f"nexmark_{query}")
    src = op.input("events", flow, TestingSource(events, batch_size=BATCH_SIZE))
    results: List[tuple] = []
    counter = [0]
    late: List[object] = []
    if query == "q0":
        op.output("count", q0(src), CountSink(counter))
    elif query == "q1":
        op.output("out", q1(src), TestingSink(results))
    elif query == "q2":
        op.output("out", q2(src), TestingSink(results))
    elif query == "q3":
        op.output("out", q3(src), TestingSink(results))
    elif query == "q7":
        op.output("out", q7(src, late), TestingSink(results))
    else:
        raise ValueError(f"run query: unknown query {query!r}; use one of {', '.join(QUERIES)}")

    start = time.perf_counter()
    run_main(flow)
    seconds = time.perf_counter() - start

    if late:
        print(f"nexmark.py: warning: {query} dropped {len(late)} late bids (events out of dateTime order)",
              file=sys.stderr)
    if query == "q0":
        return seconds, [str(counter[0])], counter[0]
    lines = sorted(",".join(str(f) for f in r) for r in results)
    return seconds, lines, len(results)


def main(argv: List[str]) -> int:
    if len(argv) != 4 or argv[2] not in QUERIES:
        print(f"usage: python nexmark.py <events.csv> <{'|'.join(QUERIES)}> <out.txt>", file=sys.stderr)
        return 2
    path, query, out_path = argv[1], argv[2], argv[3]
    try:
        events = parse_events(path)
    except InputError as e:
        print(str(e), file=sys.stderr)
        return 1
    seconds, lines, n_results = run(events, query)
    with open(out_path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line)
            f.write("\n")
    print(json.dumps({
        "query": query,
        "events": len(events),
        "seconds": seconds,
        "events_per_s": len(events) / seconds if seconds > 0 else None,
        "results": n_results,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
