// The worker entry when @weir/core runs from its TypeScript sources (in this
// repository, without a build): register tsx and the "@weir/source" export
// condition in the thread, then load the real entry. A built package starts
// its threads on dist/runtime/threads/entry.js directly.
import { register } from "node:module"

const { register: registerTsx } = await import("tsx/esm/api")
registerTsx()
const addSourceCondition = "export async function resolve(specifier, context, next) {" +
  " const conditions = context.conditions.includes('@weir/source') ? context.conditions" +
  " : [...context.conditions, '@weir/source'];" +
  " return next(specifier, { ...context, conditions }) }"
register(`data:text/javascript,${encodeURIComponent(addSourceCondition)}`)
await import(new URL("./entry.ts", import.meta.url).href)
