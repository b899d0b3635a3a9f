/** Loading a flow module (in a worker thread, or on the calling thread to look at the flow first). */
import { type Dataflow, isDataflow, typeName } from "../../Dataflow.js"
import { WeirRuntimeError } from "../../errors.js"
import { registerTypeScript, TYPESCRIPT_FILE } from "../typescript.js"

/**
 * Import a flow module and return the Dataflow its export holds (calling the
 * export with `args` if it is a function, awaiting a promise). `where` names
 * the thread, for messages ("worker 2", "the calling thread").
 */
export const loadFlowModule = async (
  module: string,
  exportName: string,
  args: ReadonlyArray<unknown> | undefined,
  where: string
): Promise<Dataflow> => {
  if (TYPESCRIPT_FILE.test(module) && !import.meta.url.endsWith(".ts")) {
    try {
      // As the weir CLI does: tsx, and the user's .ts files as ES modules even in a CommonJS package.
      await registerTypeScript()
    } catch (e) {
      throw new WeirRuntimeError({
        message: `can't load the TypeScript flow module '${module}' in ${where}: tsx is not installed ` +
          `(${e instanceof Error ? e.message : String(e)}); install it (\`npm install tsx\`) or point at compiled JavaScript`,
        cause: e
      })
    }
  }
  let mod: Record<string, unknown>
  try {
    mod = (await import(module)) as Record<string, unknown>
  } catch (e) {
    throw new WeirRuntimeError({ message: `error loading the flow module '${module}' in ${where}: ${String(e)}`, cause: e })
  }
  if (!(exportName in mod) || mod[exportName] === undefined) {
    const names = Object.keys(mod).filter((k) => mod[k] !== undefined).sort()
    throw new WeirRuntimeError({
      message: `the flow module '${module}' has no export named '${exportName}' (${
        names.length === 0 ? "it has no exports" : `its exports are: ${names.join(", ")}`
      }); name the export holding the Dataflow with \`export\``
    })
  }
  let value: unknown = mod[exportName]
  if (typeof value === "function") value = await (value as (...a: ReadonlyArray<unknown>) => unknown)(...(args ?? []))
  if (!isDataflow(value)) {
    throw new WeirRuntimeError({
      message: `the export '${exportName}' of '${module}' is not a Dataflow (nor a function returning one): got a \`${
        typeName(value)
      }\`. If it is a Dataflow, it comes from another copy of @weir/core than this one: install a single version`
    })
  }
  return value
}
