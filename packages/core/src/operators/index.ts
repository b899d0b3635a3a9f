/**
 * Every operator, as a namespace: `import { op } from "@weir/core"` or
 * `import * as op from "@weir/core/operators"`.
 *
 * @since 0.1.0
 */
export {
  type BranchOut,
  branch,
  flatMapBatch,
  input,
  inspectDebug,
  merge,
  output,
  redistribute,
  statefulBatch,
  type StatefulOptions
} from "./kernel.js"
export {
  filter,
  filterMap,
  filterMapValue,
  filterValue,
  flatMap,
  flatMapValue,
  flatten,
  inspect,
  keyOn,
  keyRm,
  map,
  mapDictValue,
  mapValue,
  raises
} from "./stateless.js"
export {
  countFinal,
  foldFinal,
  maxFinal,
  minFinal,
  reduceFinal,
  stateful,
  statefulFlatMap,
  statefulMap
} from "./stateful.js"
export { collect, type CollectOptions, type CollectState } from "./collect.js"
export { join, type JoinEmitMode, type JoinInsertMode, type JoinOptions, type JoinRow, joinRows } from "./join.js"
export { enrichCached, TTLCache } from "./enrich.js"
