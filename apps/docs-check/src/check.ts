/**
 * Type-checking documentation blocks against the workspace packages, all in
 * one `ts.Program` (one virtual file per block). The rules — what a fragment
 * sees, what a module sees — are described in `test/docs.test.ts`.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { collectBlocks, type DocBlock, isOptedOut } from "./extract.js"
import { AMBIENT_PRELUDE, EFFECT_IMPORTS } from "./prelude.js"

/**
 * A compiler diagnostic, placed in the documentation file.
 *
 * @since 0.1.0
 */
export interface BlockDiagnostic {
  /** The 1-based line in the documentation file (`0` when the diagnostic is in the prelude). */
  readonly line: number
  /** The 1-based column in the block's code. */
  readonly column: number
  /** The TypeScript error code (`2304` is "Cannot find name"). */
  readonly code: number
  readonly message: string
}

/**
 * What checking one block found.
 *
 * @since 0.1.0
 */
export interface BlockResult {
  readonly block: DocBlock
  /** `module`: the block has imports and is checked as it stands; `fragment`: it got the prelude; `nocheck`: opted out. */
  readonly mode: "module" | "fragment" | "nocheck"
  readonly diagnostics: ReadonlyArray<BlockDiagnostic>
  /** The virtual file the block was checked as (prelude included): for debugging. */
  readonly source: string
}

/**
 * Every block's result, plus problems with the compiler setup itself.
 *
 * @since 0.1.0
 */
export interface CheckReport {
  readonly results: ReadonlyArray<BlockResult>
  /** Option and global diagnostics: when not empty, nothing else can be trusted. */
  readonly setupErrors: ReadonlyArray<string>
}

/**
 * `file:line` of a block, as failures are reported.
 *
 * @since 0.1.0
 */
export const where = (block: Pick<DocBlock, "file" | "line">): string => `${block.file}:${block.line}`

/**
 * The multi-line report of a failing block: `file:line` of each diagnostic,
 * its code and message.
 *
 * @since 0.1.0
 */
export const formatFailure = (result: BlockResult): string =>
  [
    `${where(result.block)} (${result.block.kind} ${result.mode}):`,
    ...result.diagnostics.map((d) =>
      d.line === 0
        ? `  (prelude) TS${d.code}: ${d.message}`
        : `  ${result.block.file}:${d.line}:${d.column} TS${d.code}: ${d.message.replaceAll("\n", "\n    ")}`
    )
  ].join("\n")

/** The package name of each workspace (`packages/cli` is published as `weir`). */
const packageNameOf = (root: string, workspace: string): string | undefined => {
  if (workspace === "" || !workspace.startsWith("packages/")) return undefined
  try {
    return (JSON.parse(readFileSync(join(root, workspace, "package.json"), "utf8")) as { name?: string }).name
  } catch {
    return undefined
  }
}

const compilerOptionsOf = (root: string): ts.CompilerOptions => {
  const configPath = join(root, "tsconfig.base.json")
  const config = ts.readConfigFile(configPath, ts.sys.readFile)
  if (config.error !== undefined) {
    throw new Error(`docs-check: cannot read ${configPath}: ${ts.flattenDiagnosticMessageText(config.error.messageText, "\n")}`)
  }
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, undefined, configPath)
  return {
    ...parsed.options,
    noEmit: true,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    incremental: false,
    composite: false
  }
}

interface Parsed {
  readonly isModule: boolean
  readonly declared: ReadonlySet<string>
}

/** Whether a block has import lines of its own, and the names it declares at top level. */
const parseBlock = (code: string): Parsed => {
  const sf = ts.createSourceFile("block.ts", code, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS)
  const declared = new Set<string>()
  const addBinding = (name: ts.BindingName) => {
    if (ts.isIdentifier(name)) declared.add(name.text)
    else for (const element of name.elements) if (!ts.isOmittedExpression(element)) addBinding(element.name)
  }
  let isModule = false
  for (const statement of sf.statements) {
    if (ts.isImportDeclaration(statement)) isModule = true
    else if (ts.isImportEqualsDeclaration(statement) && ts.isExternalModuleReference(statement.moduleReference)) isModule = true
    else if (ts.isVariableStatement(statement)) for (const d of statement.declarationList.declarations) addBinding(d.name)
    else if (
      (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) || ts.isEnumDeclaration(statement) || ts.isModuleDeclaration(statement)) &&
      statement.name !== undefined && ts.isIdentifier(statement.name)
    ) declared.add(statement.name.text)
  }
  return { isModule, declared }
}

/**
 * `true` when a block is a complete module: it has `import` lines of its own (it is then
 * checked as written, and a README's is also run).
 *
 * @example
 * ```ts
 * isModuleBlock({ lines: ['import { op } from "@weir/core"', "op"] }) // true
 * ```
 * @since 0.1.0
 */
export const isModuleBlock = (block: Pick<DocBlock, "lines">): boolean => parseBlock(block.lines.join("\n")).isModule

interface ExportedName {
  readonly name: string
  readonly isValue: boolean
}

/**
 * Checks `blocks` of the repository at `root`. Fragments' virtual files live
 * in `virtualDir` (never written), which must be inside an ESM
 * (`"type": "module"`) package of the workspace so that top-level `await`
 * and the workspace's `node_modules` resolve as for a user's file.
 *
 * @example
 * ```ts
 * const report = checkBlocks(root, collectBlocks(root), join(root, "apps/docs-check/blocks"))
 * report.results.filter((r) => r.diagnostics.length > 0).map(formatFailure)
 * ```
 * @since 0.1.0
 */
export const checkBlocks = (root: string, blocks: ReadonlyArray<DocBlock>, virtualDir: string): CheckReport => {
  const options = compilerOptionsOf(root)
  const virtual = new Map<string, string>()
  const host = ts.createCompilerHost(options, true)
  const cache = new Map<string, ts.SourceFile | undefined>()
  const realGetSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const text = virtual.get(fileName)
    if (text !== undefined) return ts.createSourceFile(fileName, text, languageVersion, true, ts.ScriptKind.TS)
    if (!cache.has(fileName)) cache.set(fileName, realGetSourceFile(fileName, languageVersion, onError, shouldCreate))
    return cache.get(fileName)
  }
  const realFileExists = host.fileExists.bind(host)
  host.fileExists = (fileName) => virtual.has(fileName) || realFileExists(fileName)
  const realReadFile = host.readFile.bind(host)
  host.readFile = (fileName) => virtual.get(fileName) ?? realReadFile(fileName)

  const toPosix = (path: string) => path.split("\\").join("/")
  const specifierOfFile = (file: string) => {
    const spec = toPosix(relative(virtualDir, join(root, file))).replace(/\.ts$/, ".js")
    return spec.startsWith(".") ? spec : `./${spec}`
  }

  const parsed = blocks.map((block) => parseBlock(block.lines.join("\n")))
  /** The modules whose exports a fragment sees, most specific first. */
  const modulesOf = (block: DocBlock): Array<string> => {
    const specs: Array<string> = []
    if (block.kind === "tsdoc") specs.push(specifierOfFile(block.file))
    const own = packageNameOf(root, block.workspace)
    if (own !== undefined) specs.push(own)
    specs.push("@weir/core", "@weir/testing")
    return [...new Set(specs)]
  }
  const fragmentModules = new Map<DocBlock, Array<string>>()
  blocks.forEach((block, i) => {
    if (!isOptedOut(block) && !parsed[i].isModule) fragmentModules.set(block, modulesOf(block))
  })

  // Pass 1: the exports of every module a fragment imports from.
  const probePath = join(virtualDir, "__probe__.ts")
  const specs = [...new Set([...fragmentModules.values()].flat())]
  virtual.set(probePath, specs.map((spec, i) => `import * as __m${i} from ${JSON.stringify(spec)}\n`).join(""))
  const probe = ts.createProgram([probePath], options, host)
  const checker = probe.getTypeChecker()
  const exportsOf = new Map<string, Array<ExportedName>>()
  const setupErrors: Array<string> = []
  const probeFile = probe.getSourceFile(probePath)!
  probeFile.statements.forEach((statement, i) => {
    const spec = specs[i]
    const moduleSymbol = ts.isImportDeclaration(statement) ? checker.getSymbolAtLocation(statement.moduleSpecifier) : undefined
    if (moduleSymbol === undefined) {
      setupErrors.push(`cannot resolve ${spec} from ${toPosix(relative(root, virtualDir))}`)
      exportsOf.set(spec, [])
      return
    }
    exportsOf.set(
      spec,
      checker.getExportsOfModule(moduleSymbol)
        .filter((s) => s.name !== "default")
        .map((s) => {
          const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s
          return { name: s.name, isValue: (target.flags & ts.SymbolFlags.Value) !== 0 }
        })
    )
  })

  // Pass 2: every block, one virtual file each, in one program.
  interface Entry {
    readonly block: DocBlock
    readonly mode: BlockResult["mode"]
    readonly path: string
    readonly headerLines: number
    readonly source: string
  }
  const entries: Array<Entry> = []
  blocks.forEach((block, i) => {
    const code = block.lines.join("\n")
    const path = join(virtualDir, `${block.file.replace(/[^\w]/g, "_")}_L${block.line}.ts`)
    if (isOptedOut(block)) {
      entries.push({ block, mode: "nocheck", path, headerLines: 0, source: code })
      return
    }
    const modules = fragmentModules.get(block)
    if (modules === undefined) {
      entries.push({ block, mode: "module", path, headerLines: 0, source: code })
      virtual.set(path, code)
      return
    }
    const taken = new Set(parsed[i].declared)
    const header: Array<string> = []
    for (const spec of modules) {
      const names = (exportsOf.get(spec) ?? []).filter((e) => !taken.has(e.name))
      names.forEach((e) => taken.add(e.name))
      const values = names.filter((e) => e.isValue).map((e) => e.name)
      const types = names.filter((e) => !e.isValue).map((e) => e.name)
      if (values.length > 0) header.push(`import { ${values.join(", ")} } from ${JSON.stringify(spec)}`)
      if (types.length > 0) header.push(`import type { ${types.join(", ")} } from ${JSON.stringify(spec)}`)
    }
    const effect = EFFECT_IMPORTS.filter((name) => !taken.has(name))
    effect.forEach((name) => taken.add(name))
    if (effect.length > 0) header.push(`import { ${effect.join(", ")} } from "effect"`)
    for (const ambient of AMBIENT_PRELUDE) {
      if (!taken.has(ambient.name)) header.push(ambient.declaration)
    }
    header.push("export {}")
    const source = `${header.join("\n")}\n${code}`
    entries.push({ block, mode: "fragment", path, headerLines: header.length, source })
    virtual.set(path, source)
  })

  const program = ts.createProgram([...entries.filter((e) => e.mode !== "nocheck").map((e) => e.path)], options, host, probe)
  for (const d of [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]) {
    setupErrors.push(ts.flattenDiagnosticMessageText(d.messageText, "\n"))
  }
  const results = entries.map((entry): BlockResult => {
    if (entry.mode === "nocheck") return { block: entry.block, mode: entry.mode, diagnostics: [], source: entry.source }
    const sf = program.getSourceFile(entry.path)
    if (sf === undefined) {
      return {
        block: entry.block,
        mode: entry.mode,
        diagnostics: [{ line: entry.block.line, column: 1, code: 0, message: "the block's virtual file is not in the program" }],
        source: entry.source
      }
    }
    const diagnostics = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)].map((d) => {
      const { line, character } = sf.getLineAndCharacterOfPosition(d.start ?? 0)
      const inBlock = line - entry.headerLines
      return {
        line: inBlock < 0 ? 0 : entry.block.line + inBlock,
        column: character + 1,
        code: d.code,
        message: ts.flattenDiagnosticMessageText(d.messageText, "\n")
      }
    })
    return { block: entry.block, mode: entry.mode, diagnostics, source: entry.source }
  })
  return { results, setupErrors }
}

/**
 * The directory of this package (`apps/docs-check`), where fragments'
 * virtual files are placed.
 *
 * @since 0.1.0
 */
export const packageDir: string = dirname(dirname(fileURLToPath(import.meta.url)))

/**
 * The repository root (two levels above {@link packageDir}).
 *
 * @since 0.1.0
 */
export const repositoryRoot: string = join(packageDir, "..", "..")

/**
 * Collects and checks every documentation block of the repository, with the
 * virtual files in `apps/docs-check/blocks/`.
 *
 * @example
 * ```ts
 * const report = checkRepository()
 * ```
 * @since 0.1.0
 */
export const checkRepository = (root: string = repositoryRoot): CheckReport & { readonly blocks: ReadonlyArray<DocBlock> } => {
  const blocks = collectBlocks(root)
  return { blocks, ...checkBlocks(root, blocks, join(root, "apps", "docs-check", "blocks")) }
}
