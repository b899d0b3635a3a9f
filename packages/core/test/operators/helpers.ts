/**
 * Helpers for the operator tests: the Bytewax suite's shape — flow "test_df",
 * a `TestingSource` (batch size 1 unless told), a `TestingSink`, `runMain` —
 * and the Bytewax test logics (`BaseTestLogic`, `KeepLastLogic`). The
 * recovery package's flow tests run the same flows and logics against its
 * real stores, importing them from here.
 */
import {
  currentTime,
  Dataflow,
  type KeyedStream,
  op,
  runMain,
  type RunOptions,
  StatefulLogic,
  type Stream,
  WeirRuntimeError
} from "@weir/core"
import { TestingSink, TestingSource, type TestingSourceItem } from "@weir/testing"
import { expect } from "vitest"

/** input → `body` → output in flow "test_df"; `out` fills when the flow runs. */
export const flowOf = <X, Y>(
  inp: ReadonlyArray<TestingSourceItem<X>>,
  body: (s: Stream<X>) => Stream<Y>,
  batchSize = 1
): { readonly flow: Dataflow; readonly out: Array<Y> } => {
  const flow = new Dataflow("test_df")
  const out: Array<Y> = []
  body(op.input("inp", flow, new TestingSource(inp, batchSize))).then(op.output, "out", new TestingSink(out))
  return { flow, out }
}

/** Runs {@link flowOf} once and returns what reached the sink. */
export const runOf = async <X, Y>(
  inp: ReadonlyArray<TestingSourceItem<X>>,
  body: (s: Stream<X>) => Stream<Y>,
  options?: RunOptions & { readonly batchSize?: number }
): Promise<Array<Y>> => {
  const { flow, out } = flowOf(inp, body, options?.batchSize)
  await runMain(flow, options)
  return out
}

/** Runs `flow`, expecting a `WeirRuntimeError` whose cause's message matches `cause`. */
export const failsWith = async (flow: Dataflow, cause: RegExp | string): Promise<WeirRuntimeError> => {
  const err = await runMain(flow).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(WeirRuntimeError)
  const inner = (err as WeirRuntimeError).cause
  expect(inner).toBeInstanceOf(Error)
  if (typeof cause === "string") expect((inner as Error).message).toContain(cause)
  else expect((inner as Error).message).toMatch(cause)
  return err as WeirRuntimeError
}

/** Keys every item "ALL", as the Bytewax tests do. */
export const keyAll = <X>(s: Stream<X>): KeyedStream<X> => op.keyOn("key", s, () => "ALL")

/** `n` consecutive integers from 0. */
export const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)

type Pair = readonly [string, string]

/** The flags of a {@link testLogic}: which calls discard the key's logic, and whether an item asks to be notified now. */
export interface TestLogicFlags {
  readonly discardAfterItem?: boolean
  readonly discardAfterNotify?: boolean
  readonly discardAfterEof?: boolean
  readonly itemTriggersNotify?: boolean
}

/** A class {@link testLogic} returns: built with the key's state. */
export type TestLogic = new (state: string) => StatefulLogic<number, Pair, string>

/** Bytewax's BaseTestLogic: state "NEW" (or the resumed one), then "ITEM", "NOTIFY" or "EOF"; each call emits [old, new]. */
export const testLogic = (flags: TestLogicFlags): TestLogic =>
  class BaseTestLogic extends StatefulLogic<number, Pair, string> {
    private notifyAtTime: Date | undefined = undefined
    constructor(private state: string) {
      super()
    }
    private move(to: string, discard: boolean | undefined): readonly [Array<Pair>, boolean] {
      const old = this.state
      this.state = to
      return [[[old, to]], discard === true]
    }
    onItem() {
      if (flags.itemTriggersNotify) this.notifyAtTime = currentTime()
      return this.move("ITEM", flags.discardAfterItem)
    }
    override onNotify() {
      this.notifyAtTime = undefined
      return this.move("NOTIFY", flags.discardAfterNotify)
    }
    override onEof() {
      return this.move("EOF", flags.discardAfterEof)
    }
    override notifyAt() {
      return this.notifyAtTime
    }
    snapshot() {
      return this.state
    }
  }

/** Every item keyed "ALL" into `op.stateful("stateful", …)` running `Logic`, new keys in state "NEW". */
export const testLogicStep = (Logic: TestLogic) => (s: Stream<number>): KeyedStream<Pair> =>
  op.stateful("stateful", keyAll(s), (resume: string | undefined) => new Logic(resume ?? "NEW"))

/** Bytewax's KeepLastLogic: emits [previous, value]; discards when the value is "DISCARD". */
export class KeepLast extends StatefulLogic<string, readonly [string | undefined, string], string | undefined> {
  constructor(private last: string | undefined) {
    super()
  }
  onItem(value: string) {
    const old = this.last
    this.last = value
    return [[[old, value] as const], value === "DISCARD"] as const
  }
  snapshot() {
    return this.last
  }
}

/** `op.stateful("keep_last", …)` with a {@link KeepLast} per key. */
export const keepLast = (s: KeyedStream<string>): KeyedStream<readonly [string | undefined, string]> =>
  op.stateful("keep_last", s, (resume: string | undefined) => new KeepLast(resume))
