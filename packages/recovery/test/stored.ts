/**
 * Tests read what a store holds straight from its tables: every entry of
 * every stored segment, decoded (src/segments.ts has the layout).
 */
import { DISCARDED } from "@weir/core"
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import pg from "pg"
import { decodeSegment } from "../src/segments.js"

/** One stored entry; `state` is undefined for a discard tombstone. */
export interface StoredEntry {
  readonly stepId: string
  readonly key: string
  readonly epoch: number
  readonly discarded: boolean
  readonly state: unknown
}

interface SegmentRow {
  readonly step_id: string
  readonly snap_epoch: number | string
  readonly data: Buffer
}

const entriesOf = (rows: ReadonlyArray<SegmentRow>): Array<StoredEntry> => {
  const out: Array<StoredEntry> = []
  for (const r of rows) {
    decodeSegment(r.step_id, r.data, (key, state) => {
      const discarded = state === DISCARDED
      out.push({ stepId: r.step_id, key, epoch: Number(r.snap_epoch), discarded, state: discarded ? undefined : state })
    })
  }
  return out.sort((a, b) => a.stepId.localeCompare(b.stepId) || a.key.localeCompare(b.key) || a.epoch - b.epoch)
}

/** Every entry the embedded store in `dir` holds, sorted by step, key and epoch. */
export const sqliteEntries = (dir: string): Array<StoredEntry> => {
  const rows: Array<SegmentRow> = []
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".sqlite3"))) {
    const db = new Database(path.join(dir, f), { readonly: true })
    try {
      rows.push(...(db.prepare("SELECT step_id, snap_epoch, data FROM segs").all() as Array<SegmentRow>))
    } finally {
      db.close()
    }
  }
  return entriesOf(rows)
}

/** Every entry the PostgreSQL store in `schema` holds, sorted by step, key and epoch. */
export const postgresEntries = async (url: string, schema: string): Promise<Array<StoredEntry>> => {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    return entriesOf((await c.query(`SELECT step_id, snap_epoch, data FROM "${schema}".segs`)).rows as Array<SegmentRow>)
  } finally {
    await c.end()
  }
}
