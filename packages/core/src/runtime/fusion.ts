/**
 * Fusion: a chain of per-item `flatMapBatch` steps (map, filter, filterMap,
 * keyOn, …) where each feeds only the next runs as one loop over the batch,
 * with no intermediate arrays. The loop is generated once per chain so that
 * every stage's call site sees one function (V8 can inline it).
 */
import type { ItemStage } from "../internal/kernel.js"
import type { Plan } from "./plan.js"
import { stepError } from "./async.js"
import type { Emit, RuntimeStep } from "./steps.js"

/** Chains of at least two fusable steps, as plan step indices, head first. */
export const fusableChains = (plan: Plan): Array<Array<number>> => {
  const stageOf = (i: number): ItemStage | undefined => {
    const k = plan.steps[i]!.kernel
    return k.kind === "flatMapBatch" ? k.stage : undefined
  }
  /** The single fusable consumer of step i's output, if that is all that reads it. */
  const nextOf = (i: number): number | undefined => {
    const out = plan.steps[i]!.outputs[0]
    if (out === undefined) return undefined
    const consumers = plan.consumers[out.stream]!
    if (consumers.length !== 1) return undefined
    const c = consumers[0]!
    const next = plan.steps[c.step]!
    if (stageOf(c.step) === undefined || next.exchange !== "none" || next.inputs[c.port]!.length !== 1) return undefined
    return c.step
  }
  const hasPrev = new Set<number>()
  for (let i = 0; i < plan.steps.length; i++) {
    if (stageOf(i) === undefined) continue
    const n = nextOf(i)
    if (n !== undefined) hasPrev.add(n)
  }
  const chains: Array<Array<number>> = []
  for (let i = 0; i < plan.steps.length; i++) {
    if (stageOf(i) === undefined || hasPrev.has(i)) continue
    const chain = [i]
    for (let n = nextOf(i); n !== undefined; n = nextOf(n)) chain.push(n)
    if (chain.length >= 2) chains.push(chain)
  }
  return chains
}

type Fused = (batch: Array<unknown>) => Array<unknown>

const compile = (stages: ReadonlyArray<ItemStage>, stepIds: ReadonlyArray<string>): Fused => {
  const lines: Array<string> = []
  stages.forEach((st, k) => {
    lines.push(`s = ${k};`)
    if (st.kind === "map") lines.push(`x = f${k}(x);`)
    else if (st.kind === "filter") lines.push(`if (f${k}(x) !== true) continue;`)
    else lines.push(`{ const y = f${k}(x); if (y === undefined || y === null) continue; x = y; }`)
  })
  const params = stages.map((_, k) => `f${k}`)
  const source = `
    return function fused(batch) {
      const out = new Array(batch.length);
      let n = 0;
      let s = 0;
      try {
        for (let i = 0; i < batch.length; i++) {
          let x = batch[i];
          ${lines.join("\n          ")}
          out[n++] = x;
        }
      } catch (e) {
        throw fail(s, e);
      }
      out.length = n;
      return out;
    }`
  const fail = (s: number, e: unknown) => stepError("mapper", stepIds[s]!, e)
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function("fail", ...params, source) as (...args: Array<unknown>) => Fused
  return factory(fail, ...stages.map((st) => st.fn))
}

/** Runs a fused chain: pushes into the head, emits what the tail would. */
export class FusedStep implements RuntimeStep {
  private readonly run: Fused
  constructor(
    readonly stepId: string,
    stages: ReadonlyArray<ItemStage>,
    stepIds: ReadonlyArray<string>,
    private readonly emit: Emit
  ) {
    this.run = compile(stages, stepIds)
  }
  push(_port: number, batch: Array<unknown>): void {
    const out = this.run(batch)
    if (out.length > 0) this.emit(out)
  }
  eof(): void {}
}
