#!/usr/bin/env node
// The `weir` launcher. A built package runs dist/main.js. In the repository
// (no dist/), it runs src/main.ts through tsx and resolves workspace packages
// to their TypeScript sources (the "@weir/source" export condition), so the
// command works without a build.
import { existsSync } from "node:fs"
import { register } from "node:module"

const built = new URL("../dist/main.js", import.meta.url)
let cli
let options = {}
if (existsSync(built)) {
  cli = await import(built.href)
} else {
  const { register: registerTsx } = await import("tsx/esm/api")
  registerTsx()
  // Hooks registered later run first: add the condition, then let tsx resolve.
  const addSourceCondition =
    "export async function resolve(specifier, context, next) {" +
    " const conditions = context.conditions.includes('@weir/source') ? context.conditions" +
    " : [...context.conditions, '@weir/source'];" +
    " return next(specifier, { ...context, conditions }) }"
  register(`data:text/javascript,${encodeURIComponent(addSourceCondition)}`)
  cli = await import(new URL("../src/main.ts", import.meta.url).href)
  // tsx is registered already: user modules are imported as they are.
  options = { importModule: (url) => import(url) }
}

const code = await cli.main(process.argv.slice(2), options)
process.exitCode = code
// A flow may leave timers or sockets open after it ends; don't let them keep the process alive.
setTimeout(() => process.exit(code), 1000).unref()
