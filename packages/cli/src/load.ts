/**
 * Loading a dataflow from `<file>[:<export>]`, the way `weir run` and
 * `weir visualize` name one: resolve the file against the working directory,
 * import it (TypeScript through tsx, as an ES module), take the export
 * (default `flow`), and call it when it is a function.
 *
 * @since 0.1.0
 */
import { existsSync, statSync } from "node:fs"
import { isAbsolute, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { type Dataflow, isDataflow, registerTypeScript, TYPESCRIPT_FILE, typeName } from "@weir/core"
import { FlowLoadError } from "./io.js"

export { FlowLoadError } from "./io.js"

/**
 * A parsed `<file>[:<export>]`.
 *
 * @since 0.1.0
 */
export interface FlowTarget {
  /** The file, as written. */
  readonly file: string
  /** The export holding the dataflow. Default `"flow"`. */
  readonly exportName: string
  /** Arguments of a call form (`getFlow("out.txt")`); `undefined` when the export is named without parentheses. */
  readonly args: ReadonlyArray<unknown> | undefined
}

const EXPORT_EXPRESSION = /^([A-Za-z_$][\w$]*)(?:\s*\(([\s\S]*)\))?\s*$/

/**
 * Split `<file>[:<export>]`. The export may be a call with literal arguments
 * (JSON values, or strings in single quotes): `flows.ts:getFlow('out.txt', 2)`.
 * A colon is only taken as the separator when what follows it is such an
 * expression, so Windows drive letters and URLs in arguments are safe.
 *
 * @example
 * ```ts
 * parseTarget("examples/basic.ts")                    // { file: "examples/basic.ts", exportName: "flow", args: undefined }
 * parseTarget("examples/basic.ts:getFlow('out.txt')")  // { file: "examples/basic.ts", exportName: "getFlow", args: ["out.txt"] }
 * ```
 * @since 0.1.0
 */
export const parseTarget = (spec: string): FlowTarget => {
  for (let i = spec.indexOf(":"); i !== -1; i = spec.indexOf(":", i + 1)) {
    const match = EXPORT_EXPRESSION.exec(spec.slice(i + 1))
    if (match === null || i === 0) continue
    const args = match[2] === undefined ? undefined : parseLiteralArgs(match[2], spec)
    return { file: spec.slice(0, i), exportName: match[1], args }
  }
  return { file: spec, exportName: "flow", args: undefined }
}

/** Literal arguments: JSON, with single-quoted strings allowed as in Python. */
const parseLiteralArgs = (text: string, spec: string): ReadonlyArray<unknown> => {
  if (text.trim() === "") return []
  let json = ""
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === "\"") {
      // Copy a double-quoted string as it is.
      let j = i + 1
      while (j < text.length && text[j] !== "\"") j += text[j] === "\\" ? 2 : 1
      json += text.slice(i, j + 1)
      i = j
    } else if (c === "'") {
      let j = i + 1
      let body = ""
      for (; j < text.length && text[j] !== "'"; j++) {
        if (text[j] === "\\" && text[j + 1] === "'") {
          body += "'"
          j++
        } else if (text[j] === "\"") body += "\\\""
        else body += text[j]
      }
      json += `"${body}"`
      i = j
    } else json += c
  }
  try {
    const args: unknown = JSON.parse(`[${json}]`)
    return args as ReadonlyArray<unknown>
  } catch {
    throw new FlowLoadError(
      `cannot parse the arguments in '${spec}': only literal values are allowed (strings, numbers, ` +
        "true, false, null, arrays and objects in JSON)"
    )
  }
}

/**
 * How modules are imported. The default is Node's `import()`, with tsx
 * registered first for TypeScript files; tests pass their own.
 */
export type ModuleImporter = (url: string) => Promise<Record<string, unknown>>

/** Import with tsx registered first for TypeScript files. */
const importWithTsx: ModuleImporter = async (url) => {
  if (TYPESCRIPT_FILE.test(url)) await registerTypeScript(await import("tsx/esm/api"))
  return (await import(url)) as Record<string, unknown>
}

/**
 * Parse `<file>[:<export>]` and find the file, without importing it (worker
 * threads import it themselves). Fails with a {@link FlowLoadError} when the
 * file is missing, is a directory, or is a `.cts` file.
 *
 * @example
 * ```ts
 * const { path, target } = locateFlow("flows.ts:make(2)", "/srv/app")  // path: "/srv/app/flows.ts"
 * ```
 * @since 0.2.0
 */
export const locateFlow = (spec: string, cwd: string = process.cwd()): { readonly path: string; readonly target: FlowTarget } => {
  const target = parseTarget(spec)
  const path = isAbsolute(target.file) ? target.file : resolve(cwd, target.file)
  if (!existsSync(path)) {
    throw new FlowLoadError(`cannot find dataflow file '${target.file}' (looked for ${path})`)
  }
  if (statSync(path).isDirectory()) {
    throw new FlowLoadError(`'${target.file}' is a directory; name the module file, e.g. '${target.file}/index.ts'`)
  }
  if (path.endsWith(".cts")) {
    throw new FlowLoadError(
      `'${target.file}' is CommonJS TypeScript (.cts), which weir does not load: rename it to .ts or .mts ` +
        "(weir loads TypeScript flow files as ES modules, with or without \"type\": \"module\" in package.json), " +
        "or compile it to a .js or .cjs file"
    )
  }
  return { path, target }
}

/**
 * Options of {@link loadFlow}.
 *
 * @since 0.1.0
 */
export interface LoadOptions {
  /** The directory relative paths start from. Default `process.cwd()`. */
  readonly cwd?: string
  /** How to import the module. Default: `import()`, with tsx for TypeScript. */
  readonly importModule?: ModuleImporter
}

/**
 * Load the dataflow named by `<file>[:<export>]`. The export may hold a
 * `Dataflow` or a function returning one (or a promise of one), called with the
 * literal arguments of the call form, or with none.
 *
 * TypeScript files (`.ts`, `.tsx`, `.mts`) are loaded through tsx as ES
 * modules, also in a package without `"type": "module"`; `.js` files as Node
 * would load them (CommonJS unless package.json says `"type": "module"`);
 * `.cts` files are refused, with what to rename them to.
 *
 * Fails with a {@link FlowLoadError} for a missing file, a module that throws
 * while loading (saying what to change when it is written as an ES module and
 * loaded as CommonJS, or the other way round), a missing export (the message
 * lists the exports there are), or a value that is not a `Dataflow`.
 *
 * @example
 * ```ts
 * import { loadFlow } from "weir"
 *
 * const flow = await loadFlow("apps/examples/src/wordcount.ts")          // export `flow`
 * const other = await loadFlow("flows.ts:makeFlow('out.txt')", { cwd: "/srv/app" })
 * ```
 * @since 0.1.0
 */
export const loadFlow = async (spec: string, options: LoadOptions = {}): Promise<Dataflow> => {
  const { path, target } = locateFlow(spec, options.cwd)

  const importModule = options.importModule ?? importWithTsx
  let module: Record<string, unknown>
  try {
    module = await importModule(pathToFileURL(path).href)
  } catch (e) {
    throw new FlowLoadError(`error loading '${target.file}': ${messageOf(e)}${moduleKindHint(path, e)}`, { cause: e })
  }

  const named = `'${target.file}:${target.exportName}'`
  if (!(target.exportName in module) || module[target.exportName] === undefined) {
    const names = Object.keys(module).filter((k) => module[k] !== undefined).sort()
    const there = names.length === 0 ? "it has no exports" : `its exports are: ${names.join(", ")}`
    const hint = target.exportName === "flow" ? "; name another with '<file>:<export>'" : ""
    throw new FlowLoadError(`'${target.file}' has no export named '${target.exportName}' (${there})${hint}`)
  }

  let value: unknown = module[target.exportName]
  if (typeof value === "function") {
    const call = `${target.exportName}(${target.args === undefined ? "" : "…"})`
    try {
      value = await (value as (...args: ReadonlyArray<unknown>) => unknown)(...(target.args ?? []))
    } catch (e) {
      throw new FlowLoadError(`error calling ${call} from '${target.file}': ${messageOf(e)}`, { cause: e })
    }
  } else if (target.args !== undefined) {
    throw new FlowLoadError(`${named} is a \`${typeName(value)}\`, not a function, so it can't be called with arguments`)
  }

  if (!isDataflow(value)) {
    throw new FlowLoadError(`a valid Weir dataflow was not obtained from ${named}: got a \`${typeName(value)}\`${
      looksLikeDataflow(value)
        ? ". It looks like a Dataflow from another copy of @weir/core than the one the weir command uses; " +
          "make sure a single version of @weir/core is installed"
        : ""
    }`)
  }
  return value
}

/**
 * What to change when a flow file fails to load because it is written as one
 * kind of module (ES module or CommonJS) and loaded as the other.
 */
const moduleKindHint = (path: string, e: unknown): string => {
  const message = messageOf(e)
  if (/\.(?:tsx?|mts)$/.test(path) && /\b(?:require|module|exports|__dirname|__filename) is not defined in ES module scope/.test(message)) {
    return ". weir loads TypeScript flow files as ES modules (whatever package.json's \"type\" says): use `import` " +
      "instead of require() and module.exports, and import.meta.dirname instead of __dirname"
  }
  if (path.endsWith(".js") && /Cannot use import statement outside a module|Unexpected token 'export'/.test(message)) {
    return ". The file uses ES module syntax (import/export) but Node loads it as CommonJS, because the nearest " +
      "package.json does not say \"type\": \"module\": add \"type\": \"module\" there, rename the file to .mjs " +
      "(or to .ts, which weir always loads as an ES module), or write it with require() and module.exports"
  }
  return ""
}

/** A Dataflow built with a different copy of `@weir/core` fails `instanceof`; say so rather than "not a dataflow". */
const looksLikeDataflow = (u: unknown): boolean =>
  typeName(u) === "Dataflow" && Array.isArray((u as { substeps?: unknown }).substeps)

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))
