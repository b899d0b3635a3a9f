/**
 * `@weir/testing`: sources, sinks and clocks for testing Weir dataflows.
 *
 * @since 0.1.0
 */
export { TestingSource, type TestingSourceItem } from "./TestingSource.js"
export { TestingSink } from "./TestingSink.js"
export { PacedSource, type PacedSourceOptions } from "./PacedSource.js"
export { TimeTestingGetter, VirtualClock } from "./time.js"
export { InMemoryRecovery } from "./recovery.js"
export { ffwdIter, pollNextBatch, PollTimeoutError } from "./helpers.js"
export { clusterMain, runMain } from "@weir/core"
