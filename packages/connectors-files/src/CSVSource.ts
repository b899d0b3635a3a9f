/**
 * Rows of a CSV file, keyed by its header.
 *
 * @since 0.1.0
 */
import { FixedPartitionedSource, type StatefulSourcePartition } from "@weir/core"
import type { Options as CsvParseOptions } from "csv-parse"
import * as path from "node:path"
import { FileConnectorError } from "./FileConnectorError.js"
import type { FileSourceOptions } from "./FileSource.js"
import { CsvReader } from "./internal/CsvReader.js"
import { batchSizeOf, checkInputFile, fsIdOf, openInput, partitionKey, pathOfKey, resumeOffsetOf } from "./internal/paths.js"
import { ReadProgress } from "./internal/progress.js"
import { ReaderPartition } from "./internal/ReaderPartition.js"

/** The `csv-parse` options a {@link CSVSource} passes on (it sets `columns`, `info` and the rest itself). */
const PARSER_OPTIONS = [
  "bom",
  "comment",
  "comment_no_infix",
  "delimiter",
  "escape",
  "group_columns_by_name",
  "groupColumnsByName",
  "ignore_last_delimiters",
  "ltrim",
  "max_record_size",
  "maxRecordSize",
  "quote",
  "record_delimiter",
  "recordDelimiter",
  "relax_column_count",
  "relaxColumnCount",
  "relax_column_count_less",
  "relaxColumnCountLess",
  "relax_column_count_more",
  "relaxColumnCountMore",
  "relax_quotes",
  "relaxQuotes",
  "rtrim",
  "skip_empty_lines",
  "skipEmptyLines",
  "skip_records_with_empty_values",
  "skipRecordsWithEmptyValues",
  "skip_records_with_error",
  "skipRecordsWithError",
  "trim"
] as const satisfies ReadonlyArray<keyof CsvParseOptions>

/**
 * The [`csv-parse` options](https://csv.js.org/parse/options/) that shape how
 * rows are read: `delimiter`, `quote`, `escape`, `comment`, `trim`,
 * `relax_column_count`, `skip_empty_lines`, `bom`, … Values always stay
 * strings (no `cast`), the first row is always the header (no `columns`),
 * and text is UTF-8.
 *
 * @since 0.1.0
 */
export type CSVParserOptions = Pick<CsvParseOptions, (typeof PARSER_OPTIONS)[number]>

/**
 * Options of {@link CSVSource}: `batchSize`, `getFsId`, and parser options.
 *
 * @since 0.1.0
 */
export interface CSVSourceOptions extends FileSourceOptions, CSVParserOptions {}

/** A CSV row: column name → field. */
export type CSVRow = Record<string, string>

/**
 * Reads a CSV file as rows keyed by its header: each row is a
 * `Record<string, string>` (values are never converted). Parsing follows RFC
 * 4180 — fields in double quotes may hold commas, doubled quotes and newlines
 * — through [`csv-parse`](https://csv.js.org/parse/), whose options can be
 * given alongside `batchSize`. As with Python's `csv.DictReader`, empty lines
 * are skipped (`skip_empty_lines` defaults to `true`) and a byte order mark is
 * ignored (`bom` defaults to `true`). A row with more or fewer fields than the
 * header fails the run unless `relax_column_count` is set.
 *
 * One partition, keyed `"<fsId>::<path>"`. Its snapshot is the byte offset of
 * the next row; a resumed run reads the header again, then continues there.
 *
 * @example
 * ```ts
 * import { Dataflow, op, runMain, StdOutSink } from "@weir/core"
 * import { CSVSource, type CSVRow } from "@weir/connectors-files"
 *
 * const flow = new Dataflow("metrics")
 * op.input("rows", flow, new CSVSource("metrics.csv", { delimiter: ";" }))
 *   .then(op.map, "value", (row: CSVRow) => Number(row.value))
 *   .then(op.output, "print", new StdOutSink())
 * await runMain(flow)
 * ```
 * @since 0.1.0
 */
export class CSVSource extends FixedPartitionedSource<CSVRow, number> {
  /** Rows per batch. */
  readonly batchSize: number
  private readonly getFsId: ((dir: string) => string) | undefined
  private readonly parserOptions: CsvParseOptions

  constructor(
    /** The CSV file to read. */
    readonly path: string,
    options: CSVSourceOptions = {}
  ) {
    super()
    this.batchSize = batchSizeOf(options.batchSize)
    this.getFsId = options.getFsId
    const parserOptions: Record<string, unknown> = { bom: true, skip_empty_lines: true }
    for (const key of PARSER_OPTIONS) {
      if (options[key] !== undefined) parserOptions[key] = options[key]
    }
    this.parserOptions = parserOptions as CsvParseOptions
  }

  /** The one partition, `"<fsId>::<path>"`; fails when the file does not exist or is a directory. */
  listParts(): ReadonlyArray<string> {
    checkInputFile(this.path)
    return [partitionKey(fsIdOf(this.getFsId, path.dirname(path.resolve(this.path))), this.path)]
  }

  /** Reads the header, then opens the file at the resume offset (just after the header when there is none). */
  async buildPart(stepId: string, forPart: string, resumeState: number | undefined): Promise<StatefulSourcePartition<CSVRow, number>> {
    if (pathOfKey(forPart) !== this.path) {
      throw new FileConnectorError({
        message: `partition \`${forPart}\` belongs to another file than this CSVSource's \`${this.path}\`; ` +
          "a resumed flow must read the same path",
        path: this.path
      })
    }
    const resume = resumeOffsetOf(resumeState, this.path)
    const fh = await openInput(this.path, resume)
    try {
      const header = new CsvReader<Array<string>>(fh, this.path, 0, this.parserOptions)
      while (header.queue.ready === 0 && !header.eof) {
        await header.fill()
        header.throwIfFailed()
      }
      header.stop()
      const headerEnd = header.queue.ends[0] ?? 0
      const columns = header.queue.take(1)[0] ?? []
      // No header: an empty file. Start after its end, so a file that gets a header later is read from the start.
      const start = columns.length === 0 ? 0 : Math.max(resume, headerEnd)
      const rows = new CsvReader<CSVRow>(fh, this.path, start, { ...this.parserOptions, bom: false, columns })
      if (columns.length === 0) rows.eof = true
      return new ReaderPartition(rows, this.batchSize).track(new ReadProgress(stepId, forPart, (await fh.stat()).size))
    } catch (e) {
      await fh.close()
      throw e
    }
  }
}
