/**
 * Loading the user's TypeScript flow modules, the same way in the `weir`
 * CLI and in each worker thread.
 *
 * @since 0.2.0
 */
import { register } from "node:module"

/** A TypeScript file name. */
export const TYPESCRIPT_FILE = /\.(?:[cm]?ts|tsx)$/

/**
 * A resolve hook, run before tsx's, that has Node load every TypeScript file of
 * the user's own (`.ts` or `.tsx`, outside `node_modules`) as an ES module,
 * whatever the `"type"` of its package.json says. Without it, in a package
 * without `"type": "module"` (npm's default), tsx hands a `.ts` file to Node's
 * CommonJS loader, which finds `import` statements in it and fails with
 * "Cannot require() ES Module … in a cycle". tsx marks a TypeScript file it
 * takes for CommonJS, imported from an ES module, with a query (partly inside
 * the path, as `%3F…`): the hook drops it.
 */
const TYPESCRIPT_AS_ESM_HOOK = `export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context)
  if (!resolved.url.startsWith("file:")) return resolved
  const url = new URL(resolved.url)
  if (url.search.includes("tsx-")) {
    const query = url.pathname.search(/%3f/i)
    if (query !== -1) url.pathname = url.pathname.slice(0, query)
    url.search = ""
  }
  if (!/\\.tsx?$/.test(url.pathname) || url.pathname.includes("/node_modules/")) return resolved
  return { ...resolved, url: url.href, format: "module" }
}`

let registered = false

/**
 * Registers tsx's loader hooks in this thread (once), so `.ts` files and their
 * `.js`-suffixed relative imports resolve, and then the hook that makes them
 * ES modules even in a CommonJS package. `tsx` is the caller's `tsx/esm/api`
 * (so that it resolves from the caller's package); without it, it is imported
 * from here, which fails when `tsx` is not installed.
 *
 * @internal for the `weir` CLI and the worker-thread entry
 * @example
 * ```ts
 * declare const flowFile: string   // e.g. the absolute path of the user's `flow.ts`
 * await registerTypeScript()
 * const mod: unknown = await import(flowFile)
 * ```
 */
export const registerTypeScript = async (tsx?: { readonly register: () => unknown }): Promise<void> => {
  if (registered) return
  const api = tsx ?? ((await import("tsx/esm/api" as string)) as { readonly register: () => unknown })
  api.register()
  // Hooks registered later run first: this one sees what tsx resolved.
  register(`data:text/javascript,${encodeURIComponent(TYPESCRIPT_AS_ESM_HOOK)}`)
  registered = true
}
