/**
 * `@weir/connectors-files`: sources that read lines of files, of every file
 * in a directory, and rows of CSV files, and sinks that write files — all
 * resumable from byte offsets, for exactly-once batch jobs.
 *
 * @since 0.1.0
 */
export { type CSVParserOptions, type CSVRow, CSVSource, type CSVSourceOptions } from "./CSVSource.js"
export { DirSink, type DirSinkOptions } from "./DirSink.js"
export { DirSource, type DirSourceOptions } from "./DirSource.js"
export { FileConnectorError } from "./FileConnectorError.js"
export { FileSink, type FileSinkOptions } from "./FileSink.js"
export { FileSource, type FileSourceOptions } from "./FileSource.js"
