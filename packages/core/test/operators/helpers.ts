/**
 * Helpers for the operator tests: the Bytewax suite's shape — flow "test_df",
 * a `TestingSource` (batch size 1 unless told), a `TestingSink`, `runMain`.
 */
import { Dataflow, type KeyedStream, op, runMain, type RunOptions, type Stream, WeirRuntimeError } from "@weir/core"
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
