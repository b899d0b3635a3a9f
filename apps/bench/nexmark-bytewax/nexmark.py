"""The Bytewax 0.21.1 side of Weir's Nexmark benchmark.

    python nexmark.py <events.csv> <query> <out.txt>

Reads and parses the whole CSV (one event per line, see README.md) before timing, then runs
<query> (one of QUERIES) as a Bytewax dataflow with ``run_main`` over an in-memory
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


# q4 and q6: an auction's closing price is its highest bid before `expires` in the 10 s window it was
# created in (see README.md).

# (window start in epoch ms, the auction, the price)
Closing = Tuple[int, Auction, int]


def _event_ts(e: Union[Auction, Bid]) -> datetime:
    return EPOCH + timedelta(milliseconds=e.date_time)


def _window_start_ts(c: Closing) -> datetime:
    return EPOCH + timedelta(milliseconds=c[0])


def _priced(row: Tuple[int, Tuple[Optional[Auction], Optional[Bid]]]) -> Optional[Closing]:
    window_id, (auction, bid) = row
    if auction is None or bid is None or bid.date_time >= auction.expires:
        return None
    return (WINDOW_ALIGN_MS + window_id * WINDOW_LENGTH_MS, auction, bid.price)


_FROZEN = WINDOW_ALIGN
_CLOSING_WINDOWER = win.TumblingWindower(length=timedelta(milliseconds=WINDOW_LENGTH_MS), align_to=WINDOW_ALIGN)
# As q7's: frozen system time, no wake-ups, so a key's watermark is the highest date_time it has
# seen and its windows close on the events alone (an auction's when one of its bids of a later
# window comes, else at EOF).
_JOIN_CLOCK = win.EventClock(_event_ts, wait_for_system_duration=timedelta(0),
                             now_getter=lambda: _FROZEN, to_system_utc=lambda _ts: None)
# The join's rows of an early window can come after rows of later ones (at EOF, in key order), so
# the later stages never close a window before EOF: an infinite wait (the watermark stays at the
# beginning of time) and no wake-ups.
_AT_WINDOW_START = win.EventClock(_window_start_ts, wait_for_system_duration=timedelta.max,
                                  now_getter=lambda: _FROZEN, to_system_utc=lambda _ts: None)


def _closing_prices(src: op.Stream, late: List[object]) -> op.Stream:
    """Auctions (by id) and bids (by auction) joined per 10 s window, then the highest price per auction."""
    auctions = op.key_on("auction_id", op.filter("auctions", src, lambda e: type(e) is Auction), lambda a: str(a.id))
    bids = op.key_on("bid_auction", op.filter("bids", src, lambda e: type(e) is Bid), lambda b: str(b.auction))
    # Every bid is kept (product) and the rows come when the window closes (final).
    joined = win.join_window("join", _JOIN_CLOCK, _CLOSING_WINDOWER, auctions, bids,
                             insert_mode="product", emit_mode="final")
    op.output("join_late", joined.late, TestingSink(late))
    priced = op.filter_map_value("priced", joined.down, _priced)
    closing = win.max_window("closing", priced, _AT_WINDOW_START, _CLOSING_WINDOWER, by=lambda c: c[2])
    return op.map("closed", closing.down, lambda kv: kv[1][1])


def _averages(keyed: op.KeyedStream) -> op.Stream:
    """Per key per window: the count and the integer sum of the closing prices, then (start, key, count, sum / count)."""
    sums = win.fold_window("sum", keyed, _AT_WINDOW_START, _CLOSING_WINDOWER, lambda: (0, 0),
                           lambda acc, c: (acc[0] + 1, acc[1] + c[2]),
                           lambda a, b: (a[0] + b[0], a[1] + b[1]))
    return op.map("average", sums.down, lambda kv: (WINDOW_ALIGN_MS + kv[1][0] * WINDOW_LENGTH_MS, int(kv[0]),
                                                    kv[1][1][0], kv[1][1][1] / kv[1][1][0]))


def q4(src: op.Stream, late: List[object]) -> op.Stream:
    return _averages(op.key_on("category", _closing_prices(src, late), lambda c: str(c[1].category)))


def q6(src: op.Stream, late: List[object]) -> op.Stream:
    return _averages(op.key_on("seller", _closing_prices(src, late), lambda c: str(c[1].seller)))


# q5, q8 and q11 use q4's frozen event clock (_JOIN_CLOCK): a key's watermark is the highest
# date_time it has seen (wait 0), and a key's events never go back in time, so none is late.

Q5_SLIDE_MS = 2_000
_Q5_WINDOWER = win.SlidingWindower(length=timedelta(milliseconds=10_000), offset=timedelta(milliseconds=Q5_SLIDE_MS),
                                   align_to=WINDOW_ALIGN)
Q8_WINDOW_MS = 10_000
_Q8_WINDOWER = win.TumblingWindower(length=timedelta(milliseconds=Q8_WINDOW_MS), align_to=WINDOW_ALIGN)
_Q11_GAP = timedelta(milliseconds=10_000)

# (window id, auction, bids)
HotCount = Tuple[int, int, int]


def _q5_top(a: HotCount, b: HotCount) -> HotCount:
    """The count with more bids, on ties the smaller auction id (associative and commutative, as
    ``reduce_final``'s pre-aggregation needs)."""
    return b if b[2] > a[2] or (b[2] == a[2] and b[1] < a[1]) else a


def q5(src: op.Stream, late: List[object]) -> op.Stream:
    bids = op.filter("bids", src, lambda e: type(e) is Bid)
    counts = win.count_window("count", bids, _JOIN_CLOCK, _Q5_WINDOWER, lambda b: str(b.auction))
    op.output("count_late", counts.late, TestingSink(late))
    # Each auction's windows close on its own watermark (mostly at EOF: an auction gets bids for
    # about 2 s), so a window's counts are complete only at EOF: the top per window by reduce_final.
    by_window = op.map("by_window", counts.down, lambda kv: (str(kv[1][0]), (kv[1][0], int(kv[0]), kv[1][1])))
    top = op.reduce_final("top", by_window, _q5_top)
    return op.map("row", top, lambda kv: (WINDOW_ALIGN_MS + kv[1][0] * Q5_SLIDE_MS, kv[1][1], kv[1][2]))


def _q8_row(kv: Tuple[str, Tuple[int, Tuple[Optional[Person], Optional[Auction]]]]) -> Optional[tuple]:
    _person_id, (window_id, (person, auction)) = kv
    if person is None or auction is None:
        return None
    return (person.id, person.name, WINDOW_ALIGN_MS + window_id * Q8_WINDOW_MS)


def q8(src: op.Stream, late: List[object]) -> op.Stream:
    persons = op.key_on("person_id", op.filter("persons", src, lambda e: type(e) is Person), lambda p: str(p.id))
    auctions = op.key_on("seller", op.filter("auctions", src, lambda e: type(e) is Auction), lambda a: str(a.seller))
    joined = win.join_window("join", _JOIN_CLOCK, _Q8_WINDOWER, persons, auctions,
                             insert_mode="last", emit_mode="final")
    op.output("join_late", joined.late, TestingSink(late))
    return op.filter_map("new_users", joined.down, _q8_row)


def _ms(t: datetime) -> int:
    return (t - EPOCH) // timedelta(milliseconds=1)


def q11(src: op.Stream, late: List[object]) -> op.Stream:
    bids = op.filter("bids", src, lambda e: type(e) is Bid)
    sessions = win.count_window("count", bids, _JOIN_CLOCK, win.SessionWindower(gap=_Q11_GAP), lambda b: str(b.bidder))
    op.output("count_late", sessions.late, TestingSink(late))
    # A session's count (down) and its metadata (meta: open_time and close_time are its first and
    # last bid's time) joined by bidder and window id; each side comes once, when the session closes.
    counts = op.map("count_by_session", sessions.down, lambda kv: (f"{kv[0]}:{kv[1][0]}", kv[1][1]))
    spans = op.map("meta_by_session", sessions.meta,
                   lambda kv: (f"{kv[0]}:{kv[1][0]}", (int(kv[0]), _ms(kv[1][1].open_time), _ms(kv[1][1].close_time))))
    joined = op.join("with_meta", counts, spans)
    return op.map("row", joined, lambda kv: (kv[1][1][0], kv[1][1][1], kv[1][1][2], kv[1][0]))


QUERIES = ("q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q11")


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
    elif query == "q4":
        op.output("out", q4(src, late), TestingSink(results))
    elif query == "q5":
        op.output("out", q5(src, late), TestingSink(results))
    elif query == "q6":
        op.output("out", q6(src, late), TestingSink(results))
    elif query == "q7":
        op.output("out", q7(src, late), TestingSink(results))
    elif query == "q8":
        op.output("out", q8(src, late), TestingSink(results))
    elif query == "q11":
        op.output("out", q11(src, late), TestingSink(results))
    else:
        raise ValueError(f"run query: unknown query {query!r}; use one of {', '.join(QUERIES)}")

    start = time.perf_counter()
    run_main(flow)
    seconds = time.perf_counter() - start

    if late:
        print(f"nexmark.py: warning: {query} dropped {len(late)} late events (events out of dateTime order)",
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
