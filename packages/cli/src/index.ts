/**
 * `weir`: the command line, also usable as a library (parse a command line,
 * load a dataflow from `<file>[:<export>]`, or run `main` in-process).
 *
 * @since 0.1.0
 */
export {
  type Command,
  type Environment,
  HELP,
  type HelpCommand,
  LOG_LEVELS,
  type LogLevel,
  parseCommandLine,
  type RecoveryInitCommand,
  type RunCommand,
  UsageError,
  type VersionCommand,
  type VisualizeCommand
} from "./args.js"
export { CliError, type CliContext, FlowLoadError } from "./io.js"
export { type FlowTarget, loadFlow, type LoadOptions, type ModuleImporter, parseTarget } from "./load.js"
export { main, type MainOptions, version } from "./main.js"
