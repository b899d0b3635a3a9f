/**
 * The prelude of documentation fragments (blocks without imports): the few
 * placeholder names the docs use for "your dataflow" and "some stream",
 * declared ambiently. Keep it small: a name belongs here only when it is a
 * convention across the docs, with the one type every use agrees on. An
 * example needing anything else declares it itself (`declare const x: T`)
 * or becomes a complete module with imports.
 *
 * @since 0.1.0
 */

/**
 * One ambient declaration of the prelude; it is left out of a fragment that
 * declares the name itself.
 *
 * @since 0.1.0
 */
export interface AmbientDeclaration {
  readonly name: string
  /** One line of TypeScript; `__weir` is `import type * as __weir from "@weir/core"`. */
  readonly declaration: string
}

/**
 * The placeholder names, in the order they are declared.
 *
 * @since 0.1.0
 */
export const AMBIENT_PRELUDE: ReadonlyArray<AmbientDeclaration> = [
  { name: "__weir", declaration: `import type * as __weir from "@weir/core"` },
  { name: "flow", declaration: "declare const flow: __weir.Dataflow" },
  { name: "nums", declaration: "declare const nums: __weir.Stream<number>" },
  { name: "words", declaration: "declare const words: __weir.Stream<string>" },
  { name: "lines", declaration: "declare const lines: __weir.Stream<string>" },
  { name: "keyed", declaration: "declare const keyed: __weir.KeyedStream<number>" },
  { name: "expect", declaration: `import { expect } from "vitest"` }
]

/**
 * The modules of `effect` a fragment may use without importing them.
 *
 * @since 0.1.0
 */
export const EFFECT_IMPORTS: ReadonlyArray<string> = ["Effect"]
