/**
 * What the coordinator (the thread that called `runCluster`) and its worker
 * threads say to each other. Worker threads talk to each other directly over
 * a full mesh of `MessagePort`s (`../exchange.ts`); everything here goes over
 * a worker's `parentPort`.
 *
 * The handshake: a worker imports the flow module, builds its plan and says
 * `ready` (with what the coordinator must know to restore state); the
 * coordinator opens the recovery store, loads the state each worker owns and
 * says `start`; from then on workers send one `commit` per epoch, and the
 * coordinator writes them to the store in epoch order and hands out `epoch`
 * directives (which epochs a worker may enter, and which steps snapshot in
 * full there). A run ends with `done` from every worker, or an `error`.
 */
import type { MessagePort } from "node:worker_threads"
import type { RenderedDataflow } from "../../visualize.js"
import type { MetricReading } from "../metrics.js"
import type { ThreadTracing } from "../observability.js"

/** Sent to each worker thread as its `workerData`. */
export interface WorkerData {
  readonly module: string
  readonly exportName: string
  readonly args: ReadonlyArray<unknown> | undefined
  readonly worker: number
  readonly workers: number
  readonly epochIntervalMs: number
  readonly tracking: boolean
  /** `ports[p]`: the channel to worker `p` (undefined for itself). */
  readonly ports: ReadonlyArray<MessagePort | undefined>
  /** How the thread sets tracing up, if the run is traced. */
  readonly tracing: ThreadTracing | undefined
  readonly stepSpanSampling: number
}

/** A step's snapshots of one epoch, as sent from a worker: states are encoded, tombstones listed. */
export interface WireSnapshots {
  readonly stepId: string
  readonly full: boolean
  readonly keys: ReadonlyArray<string>
  /** `codec.ts`-encoded states (`undefined` where a key was discarded). */
  readonly states: ArrayBuffer
  /** Indices of discarded keys. */
  readonly discarded: ReadonlyArray<number>
}

/** A serialized error, rebuilt as a `WeirRuntimeError` by the coordinator. */
export interface WireError {
  readonly message: string
  readonly stepId: string | undefined
  readonly name: string | undefined
  readonly causeName: string | undefined
  readonly causeMessage: string | undefined
  readonly causeStack: string | undefined
  /** The error is a `WeirRecoveryError` (of the store), kept as such. */
  readonly recovery: boolean
}

export type FromWorker =
  | {
    readonly t: "ready"
    readonly flowId: string
    /** Ids of the stateful steps (whose keys are restored to their owners). */
    readonly stateful: ReadonlyArray<string>
    /** Ids of partitioned sources and sinks (whose partition states go to every worker). */
    readonly partitioned: ReadonlyArray<string>
    /** Ids of transactional sinks (whose outbox entries go to the worker `writer mod workers`). */
    readonly transactional: ReadonlyArray<string>
    /** The dataflow, as `toJSON` renders it. */
    readonly graph: RenderedDataflow
  }
  /** The thread's counters and gauges (cumulative), now and then. */
  | { readonly t: "metrics"; readonly readings: ReadonlyArray<MetricReading> }
  /** Every step of the worker passed `epoch`; its inputs read `itemsIn` items in it. */
  | { readonly t: "epoch"; readonly epoch: number; readonly itemsIn: number }
  | {
    readonly t: "commit"
    readonly epoch: number
    /** Something changed in the epoch (a commit where no worker changed anything is skipped). */
    readonly dirty: boolean
    /** The last commit of the run. */
    readonly final: boolean
    readonly steps: ReadonlyArray<WireSnapshots>
    /** Per stateful step: keys held after the epoch. */
    readonly live: ReadonlyArray<readonly [stepId: string, live: number]>
  }
  | { readonly t: "done" }
  /** A source aborted the run (`AbortExecution`). */
  | { readonly t: "abort" }
  | { readonly t: "error"; readonly error: WireError }
  | { readonly t: "stopped" }

export type ToWorker =
  | {
    readonly t: "start"
    readonly epoch: number
    /** Per step id: its resume states, `codec.ts`-encoded `[key, state]` pairs (a stateful step's: the keys this worker owns). */
    readonly states: ReadonlyArray<readonly [stepId: string, pairs: ArrayBuffer]>
  }
  /** Epoch `epoch` may be entered; these stateful steps snapshot in full when it closes. */
  | { readonly t: "epoch"; readonly epoch: number; readonly full: ReadonlyArray<string> }
  /** Every worker's commit of every epoch up to `epoch` is written: transactional sinks may publish them. */
  | { readonly t: "committed"; readonly epoch: number }
  /** Stop now: close everything and say `stopped`. */
  | { readonly t: "stop" }
