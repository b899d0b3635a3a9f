/**
 * `@weir/core`: dataflows, operators, sources and sinks, and the runtime.
 *
 * @since 0.1.0
 */
export {
  currentStepId,
  Dataflow,
  dataLast,
  defineOperator,
  isDataflow,
  isStream,
  OperatorTag,
  Step,
  Stream,
  typeName,
  type InputPort,
  type KeyedStream,
  type Tagged,
  type ItemOf,
  type ValueOf,
  type OperatorPorts,
  type OutputPort
} from "./Dataflow.js"
export * as op from "./operators/index.js"
export { mustBeFunction, upPort } from "./operators/checks.js"
export { StatefulBatchLogic, StatefulLogic, type LogicResult } from "./StatefulLogic.js"
export {
  AbortExecution,
  DynamicSource,
  EOF,
  FixedPartitionedSource,
  isSource,
  Retry,
  SimplePollingSource,
  Source,
  type MaybeAsync,
  type StatefulSourcePartition,
  type StatelessSourcePartition
} from "./inputs.js"
export {
  DynamicSink,
  FixedPartitionedSink,
  isSink,
  isTransactionalSink,
  Sink,
  TransactionalSink,
  type MaybeAsyncVoid,
  type TransactionalSinkPartition,
  type StatefulSinkPartition,
  type StatelessSinkPartition
} from "./outputs.js"
export { batch, batchAsync, batchGetter, batchGetterEx } from "./batching.js"
export { fromStream } from "./fromStream.js"
export { formatItem, StdOutSink } from "./connectors/stdio.js"
export { RandomMetricSource, type RandomMetricState } from "./connectors/demo.js"
export { TTLCache } from "./operators/enrich.js"
export { type StatefulOptions, ttlMillis } from "./operators/kernel.js"
export { WeirRecoveryError, WeirRuntimeError } from "./errors.js"
export { stableHash } from "./internal/hash.js"
export { clusterMain, run, runCluster, runMain, type ClusterOptions, type FlowModule, type RunOptions } from "./runtime/run.js"
export { currentTime, currentTimeMillis, systemClock, type WeirClock } from "./runtime/clock.js"
export { DISCARDED } from "./runtime/recovery.js"
export {
  type EpochClosed,
  type RunObserver,
  RuntimeMetrics,
  setDefaultLayer,
  StepSpanSampling,
  type ThreadTracing,
  ThreadTracingSpec
} from "./runtime/observability.js"
export type {
  EpochCommit,
  RecoveryConfigLike,
  RecoveryContext,
  RecoveryStore,
  ResumePoint,
  StepSnapshots
} from "./runtime/recovery.js"
export type {
  ClusterLink,
  ClusterLinkConfigLike,
  ClusterLinkHandler,
  ClusterStore,
  ClusterStoreConfigLike,
  ExchangeRecord,
  KeyGroupCommit,
  KeyGroupRow
} from "./runtime/cluster/interfaces.js"
export { toJSON, toMermaid, type RenderedDataflow, type RenderedOperator, type RenderedPort } from "./visualize.js"
/** @internal for the `weir` CLI: how flow modules written in TypeScript are loaded. */
export { registerTypeScript, TYPESCRIPT_FILE } from "./runtime/typescript.js"
