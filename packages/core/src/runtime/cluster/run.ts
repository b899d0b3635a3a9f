/**
 * A scale-out run: this process's share of a flow run by many processes on
 * many hosts. The processes join one group of the {@link ClusterLink} (a
 * Kafka consumer group); the group deals the P key groups out among them,
 * and deals again when a process joins, leaves or dies. Each change of the
 * deal ends this process's *generation* — its last epoch is committed, its
 * sources and sinks close — and starts a new one with the key groups it
 * holds now, their state and positions loaded from the shared store.
 *
 * Key groups given to this process are *acquired* in the store first: that
 * raises their incarnation and so fences out a previous holder that is
 * still running somewhere without knowing it lost them (cut off from the
 * network, say) — its next commit is refused and its work of that epoch
 * never counts.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Cause from "effect/Cause"
import { hostname } from "node:os"
import type { Dataflow } from "../../Dataflow.js"
import { WeirRecoveryError, WeirRuntimeError } from "../../errors.js"
import type { WeirClock } from "../clock.js"
import type { RunObserver } from "../observability.js"
import type { Plan } from "../plan.js"
import { RuntimeMetrics, StepSpanSampling } from "../observability.js"
import * as Option from "effect/Option"
import type { RunEnvironment } from "../wiring.js"
import { ClusterExecution, type GenerationEnd, isTransient, linkError } from "./execution.js"
import type { ClusterLink, ClusterLinkConfigLike, ClusterStore, ClusterStoreConfigLike, KeyGroupRow } from "./interfaces.js"

/** How long to wait before building a generation again after the store, the link or a connector failed. */
const RETRY_AFTER_MS = 1000
/** How long such failures may go on, with no commit in between, before the run fails with the last one. */
const GIVE_UP_AFTER_MS = 5 * 60_000

export interface ScaleOutConfig {
  readonly cluster: ClusterLinkConfigLike
  readonly store: ClusterStoreConfigLike
  readonly group: string | undefined
  readonly keyGroups: number | undefined
  readonly epochIntervalMs: number
  readonly clock: WeirClock
  readonly observe: RunObserver | undefined
}

interface Generation {
  readonly execution: ClusterExecution
  readonly scope: Scope.Closeable
  readonly fiber: Fiber.Fiber<GenerationEnd, WeirRuntimeError | WeirRecoveryError>
}

/** The store's configuration, if it can be shared by the processes of a scale-out run. */
export const asClusterStore = (recovery: unknown): ClusterStoreConfigLike | undefined =>
  typeof recovery === "object" && recovery !== null &&
    typeof (recovery as ClusterStoreConfigLike).openCluster === "function"
    ? (recovery as ClusterStoreConfigLike)
    : undefined

/** Run this process's share of `flow` until interrupted (or the flow fails). */
export const runScaleOut = (
  flow: Dataflow,
  plan: Plan,
  config: ScaleOutConfig
): Effect.Effect<void, WeirRuntimeError | WeirRecoveryError> =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* config.store.openCluster({ flowId: flow.id, keyGroups: config.keyGroups })
    const groupId = config.group ?? `weir.${flow.id}`
    const link = yield* config.cluster.openLink({ flowId: flow.id, groupId, keyGroups: store.keyGroups })
    if (link.keyGroups !== store.keyGroups) {
      return yield* Effect.fail(
        new WeirRuntimeError({
          message: `the exchange topic has ${link.keyGroups} partitions but the store has ${store.keyGroups} key groups; ` +
            "they must match: delete the topic (it is rebuilt) or use the store it was made for"
        })
      )
    }
    const context = yield* Effect.context<never>()
    const env = {
      clock: config.clock,
      context,
      tracer: yield* Effect.tracer,
      stepSpanSampling: yield* StepSpanSampling,
      metrics: yield* RuntimeMetrics,
      parentSpan: Option.getOrUndefined(yield* Effect.option(Effect.currentSpan))
    }
    const member = new Member(plan, config, store, link, env)
    const runPromise = Effect.runPromiseWith(context)
    yield* Effect.addFinalizer(() => member.stopGeneration(true).pipe(Effect.ignore))
    yield* Effect.promise(() =>
      link.join({
        assigned: (kgs) => runPromise(member.serially(member.onAssigned(kgs))),
        revoked: (kgs, lost) => runPromise(member.serially(member.onRevoked(kgs, lost)))
      })
    )
    yield* Effect.logInfo(
      `flow '${flow.id}' joined group '${groupId}' on ${config.cluster.description} (${store.keyGroups} key groups)`
    )
    return yield* member.supervise()
  }))

class Member {
  /** The key groups the group gave this process, with their rows as acquired. */
  private readonly held = new Map<number, KeyGroupRow>()
  /** Key groups found taken over: not run again until the group gives them anew. */
  private readonly fenced = new Set<number>()
  private generation: Generation | undefined = undefined
  private wanted = false
  private wake: (() => void) | undefined = undefined
  private chain: Promise<unknown> = Promise.resolve()
  private readonly owner = `${hostname()}:${process.pid}`
  private failure: WeirRuntimeError | WeirRecoveryError | undefined = undefined
  /**
   * The last generation ended without its last commit: what it sent after
   * its previous one must never count, so the next starts a new incarnation.
   */
  private needsRenew = false
  /** When generations began to fail without committing in between (transient failures). */
  private failingSince: number | undefined = undefined
  /** Offsets the link was just told to assign key groups at: no seek needed for those. */
  private readonly assignedAt = new Map<number, number>()

  constructor(
    readonly plan: Plan,
    readonly config: ScaleOutConfig,
    readonly store: ClusterStore,
    readonly link: ClusterLink,
    readonly env: RunEnvironment
  ) {}

  /** Run `effect` after every earlier membership change finished. */
  serially<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> {
    return Effect.suspend(() => {
      const before = this.chain
      let done!: () => void
      this.chain = new Promise<void>((r) => (done = r))
      return Effect.ensuring(Effect.andThen(Effect.promise(() => before), effect), Effect.sync(() => done()))
    })
  }

  onAssigned(kgs: ReadonlyArray<number>): Effect.Effect<ReadonlyMap<number, number>, WeirRecoveryError> {
    const m = this
    return Effect.gen(function*() {
      yield* m.stopGeneration(true)
      const rows = kgs.length === 0 ? [] : yield* m.store.acquire(kgs, m.owner)
      const offsets = new Map<number, number>()
      for (const r of rows) {
        m.held.set(r.keyGroup, r)
        m.fenced.delete(r.keyGroup)
        offsets.set(r.keyGroup, r.exchangeOffset)
        m.assignedAt.set(r.keyGroup, r.exchangeOffset)
      }
      if (kgs.length > 0) yield* Effect.logInfo(`key groups assigned: ${kgs.join(", ")}`)
      m.want()
      return offsets
    })
  }

  onRevoked(kgs: ReadonlyArray<number>, lost: boolean): Effect.Effect<void> {
    const m = this
    return Effect.gen(function*() {
      if (kgs.length === 0) return
      // Lost key groups are someone else's already: nothing of this epoch may be committed for them.
      yield* m.stopGeneration(!lost)
      for (const kg of kgs) {
        m.held.delete(kg)
        m.fenced.delete(kg)
        m.assignedAt.delete(kg)
      }
      yield* Effect.logInfo(`key groups ${lost ? "lost" : "revoked"}: ${kgs.join(", ")}`)
      m.want()
    })
  }

  private want(): void {
    this.wanted = true
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  /** Stop the running generation, with a last commit or without; never fails (a failure is logged). */
  stopGeneration(commit: boolean, only?: Generation): Effect.Effect<void> {
    const m = this
    return Effect.gen(function*() {
      const g = m.generation
      if (g === undefined || (only !== undefined && g !== only)) return
      m.generation = undefined
      g.execution.requestStop(commit)
      const exit = yield* Fiber.await(g.fiber)
      yield* Scope.close(g.scope, Exit.void)
      if (g.execution.commitsDone > 0) m.failingSince = undefined
      if (Exit.isFailure(exit)) {
        m.needsRenew = true
        const e = Cause.squash(exit.cause) as WeirRuntimeError
        const now = Date.now()
        m.failingSince ??= now
        if (!isTransient(e) || now - m.failingSince > GIVE_UP_AFTER_MS) m.failure ??= e
        else {
          yield* Effect.logWarning(
            `key groups ${g.execution.keyGroups.join(", ")} stopped on a failure; starting again from their last commit ` +
              `in ${RETRY_AFTER_MS} ms: ${e.message}`
          )
        }
      } else if (exit.value._tag === "fenced") {
        m.needsRenew = true
        m.noteFenced(exit.value.keyGroups)
        yield* Effect.logWarning(
          `key groups ${exit.value.keyGroups.join(", ")} were taken over by another process: this epoch was not committed`
        )
      } else if (!exit.value.committed) {
        m.needsRenew = true
      }
    })
  }

  private noteFenced(kgs: ReadonlyArray<number>): void {
    for (const kg of kgs) this.fenced.add(kg)
  }

  /**
   * Build generations as membership changes, and watch them; fails when the
   * flow itself fails (user code, bad data), retries when the store or the
   * link did.
   */
  supervise(): Effect.Effect<never, WeirRuntimeError | WeirRecoveryError> {
    const m = this
    return Effect.gen(function*() {
      for (;;) {
        if (m.failure !== undefined) return yield* Effect.fail(m.failure)
        if (!m.wanted) {
          yield* Effect.callback<void>((resume) => {
            m.wake = () => resume(Effect.void)
            return Effect.sync(() => {
              m.wake = undefined
            })
          })
          continue
        }
        m.wanted = false
        const started = yield* m.serially(m.startGeneration())
        if (started === "retry") {
          yield* Effect.sleep(RETRY_AFTER_MS)
          m.want()
          continue
        }
        if (started === "none") continue
        // Wait for the generation to end by itself (fenced, failed) or be replaced.
        const g = started
        const exit = yield* Fiber.await(g.fiber)
        if (m.generation !== g) continue
        // It ended by itself: fenced (those key groups wait for the group), or failed.
        yield* m.serially(m.stopGeneration(false, g))
        if (m.failure !== undefined) return yield* Effect.fail(m.failure)
        if (Exit.isFailure(exit)) yield* Effect.sleep(RETRY_AFTER_MS)
        m.want()
      }
    })
  }

  /** A generation for the key groups held now (not fenced), or why not. */
  private startGeneration(): Effect.Effect<Generation | "none" | "retry"> {
    const m = this
    return Effect.gen(function*() {
      if (m.generation !== undefined) return "none" as const
      const kgs = Array.from(m.held.keys()).filter((kg) => !m.fenced.has(kg)).sort((a, b) => a - b)
      if (kgs.length === 0) return "none" as const
      const started = performance.now()
      const scope = yield* Scope.make()
      const built = yield* Effect.exit(Effect.gen(function*() {
        if (m.needsRenew) {
          const renewed = yield* m.store.renew(kgs, kgs.map((kg) => m.held.get(kg)!.incarnation))
          for (const r of renewed) m.held.set(r.keyGroup, r)
          m.needsRenew = false
        }
        const rows = yield* m.store.rows(kgs)
        const mine = rows.filter((r) => r.incarnation === m.held.get(r.keyGroup)?.incarnation)
        if (mine.length < rows.length) {
          m.noteFenced(rows.filter((r) => !mine.includes(r)).map((r) => r.keyGroup))
        }
        if (mine.length === 0) return undefined
        const mineKgs = mine.map((r) => r.keyGroup)
        for (const r of mine) {
          // Just assigned at this offset (the link may not even have done it yet): reading starts there.
          const at = m.assignedAt.get(r.keyGroup)
          m.assignedAt.delete(r.keyGroup)
          if (at === r.exchangeOffset) continue
          yield* Effect.tryPromise({
            try: () => m.link.seek(r.keyGroup, r.exchangeOffset),
            catch: (e) => linkError("seek in", e)
          })
        }
        const states = new Map<string, Map<string, unknown>>()
        for (const s of m.plan.steps) {
          const k = s.kernel.kind
          if (k !== "statefulBatch" && k !== "input" && k !== "output") continue
          const loaded = yield* m.store.loadStates(s.stepId, mineKgs)
          if (loaded.length > 0) states.set(s.stepId, new Map(loaded))
        }
        const execution = yield* Scope.provide(scope)(ClusterExecution.make(m.plan, {
          ...m.env,
          epochIntervalMs: m.config.epochIntervalMs,
          keyGroups: m.store.keyGroups,
          rows: mine,
          states,
          store: m.store,
          link: m.link,
          observe: m.config.observe
        }))
        return execution
      }))
      if (Exit.isFailure(built)) {
        yield* Scope.close(scope, Exit.void)
        const e = Cause.squash(built.cause)
        m.failingSince ??= Date.now()
        if (!isTransient(e) || Date.now() - m.failingSince > GIVE_UP_AFTER_MS) {
          m.failure ??= e as WeirRuntimeError
          return "retry" as const
        }
        yield* Effect.logWarning(`can't start on key groups ${kgs.join(", ")} now, retrying: ${Cause.pretty(built.cause)}`)
        return "retry" as const
      }
      const execution = built.value
      if (execution === undefined) {
        yield* Scope.close(scope, Exit.void)
        return "none" as const
      }
      yield* Scope.addFinalizer(scope, Effect.sync(() => execution.requestStop(false)))
      yield* Effect.forkIn(execution.receiveLoop().pipe(Effect.ignore), scope)
      const fiber = yield* Effect.forkDetach(execution.loop())
      const g: Generation = { execution, scope, fiber }
      m.generation = g
      yield* Effect.logInfo(
        `running key groups ${execution.keyGroups.join(", ")} from epoch ${execution.epoch} ` +
          `(started in ${Math.round(performance.now() - started)} ms)`
      )
      return g
    })
  }
}
