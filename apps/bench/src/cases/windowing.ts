/**
 * Windowing throughput: events over 1,000 keys, each key's events 1 s apart
 * (event time), EventClock with wait 0; (1) 1-minute tumbling foldWindow sum,
 * (2) 10-second session windows (each key sends 30 s bursts with 15 s of
 * silence between, so sessions close as the stream goes). Against a
 * hand-written loop bucketing the same events into the same windows with a Map.
 */
import { Dataflow, EOF, FixedPartitionedSource, op, runMain, type StatefulSourcePartition } from "@weir/core"
import { EventClock, SessionWindower, TumblingWindower, win } from "@weir/windowing"
import { BATCH, CountSink } from "../data.js"
import type { BenchCase } from "../harness.js"

interface Ev {
  readonly key: string
  readonly at: Date
  readonly value: number
}

const KEYS = Array.from({ length: 1000 }, (_, i) => `sensor-${i}`)
const BASE = Date.UTC(2024, 0, 1)

/** Event `i`: key i mod 1000; the key's n-th event is at n seconds (plus silences, for sessions). */
const secondsOf = (i: number, bursts: boolean): number => {
  const n = Math.floor(i / 1000)
  return bursts ? n + 15 * Math.floor(n / 30) : n
}
const makeBatch = (from: number, to: number, bursts: boolean): Array<Ev> => {
  const out: Array<Ev> = new Array(to - from)
  for (let i = from; i < to; i++) out[i - from] = { key: KEYS[i % 1000]!, at: new Date(BASE + secondsOf(i, bursts) * 1000), value: i & 7 }
  return out
}

/** Generates the events batch by batch (both Weir and the hand loop pay for making them). */
class EventSource extends FixedPartitionedSource<Ev, number> {
  constructor(private readonly n: number, private readonly bursts: boolean) {
    super()
  }
  listParts() {
    return ["events"]
  }
  buildPart(_s: string, _p: string, resume: number | undefined): StatefulSourcePartition<Ev, number> {
    let i = resume ?? 0
    return {
      nextBatch: () => {
        if (i >= this.n) return EOF
        const to = Math.min(this.n, i + BATCH)
        const b = makeBatch(i, to, this.bursts)
        i = to
        return b
      },
      snapshot: () => i
    }
  }
}

const weirRun = async (n: number, bursts: boolean, sessions: boolean): Promise<number> => {
  const flow = new Dataflow("bench")
  const sink = new CountSink<unknown>()
  const keyed = op.keyOn("key", op.input("inp", flow, new EventSource(n, bursts)), (e: Ev) => e.key)
  const clock = new EventClock((e: Ev) => e.at, 0)
  const windower = sessions ? new SessionWindower("10 seconds") : new TumblingWindower("1 minute", new Date(BASE))
  const out = win.foldWindow("sum", keyed, clock, windower, () => 0, (s: number, e: Ev) => s + e.value, (a, b) => a + b)
  op.output("out", out.down, sink)
  await runMain(flow)
  return sink.count
}

/** The same windows by hand: per key the open window (or session) and its sum, closed when an event passes it. */
const handRun = (n: number, bursts: boolean, sessions: boolean): number => {
  const open = new Map<string, { id: number; last: number; sum: number }>()
  let closed = 0
  for (let from = 0; from < n; from += BATCH) {
    const batch = makeBatch(from, Math.min(n, from + BATCH), bursts)
    for (let j = 0; j < batch.length; j++) {
      const e = batch[j]!
      const t = e.at.getTime()
      const w = open.get(e.key)
      if (sessions) {
        if (w !== undefined && t - w.last <= 10_000) {
          w.sum += e.value
          w.last = t
        } else {
          if (w !== undefined) closed++
          open.set(e.key, { id: 0, last: t, sum: e.value })
        }
      } else {
        const id = Math.floor((t - BASE) / 60_000)
        if (w !== undefined && w.id === id) w.sum += e.value
        else {
          if (w !== undefined) closed++
          open.set(e.key, { id, last: t, sum: e.value })
        }
      }
    }
  }
  return closed + open.size
}

const windowCase = (id: string, name: string, bursts: boolean, sessions: boolean): BenchCase => ({
  id,
  name,
  unit: "event",
  variants({ items }) {
    let expected = 0
    return [
      { name: "hand-written loop (Map of open windows)", items, run: () => void (expected = handRun(items, bursts, sessions)) },
      {
        name: "Weir win.foldWindow (runMain)",
        items,
        run: async () => {
          const got = await weirRun(items, bursts, sessions)
          if (got !== expected) throw new Error(`Weir closed ${got} windows, the hand loop ${expected}`)
        }
      }
    ]
  }
})

export const tumblingWindows = windowCase("tumbling", "windowing: 1-minute tumbling foldWindow sum, 1,000 keys, EventClock wait 0", false, false)
export const sessionWindows = windowCase("sessions", "windowing: 10-second sessions foldWindow sum, 1,000 keys, EventClock wait 0", true, true)

/** Run order: tumbling first. */
export const cases = [tumblingWindows, sessionWindows]
