/**
 * librdkafka error codes and names, and the error info items carry.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import { createRequire } from "node:module"
import type { LibrdKafkaError } from "@confluentinc/kafka-javascript"
import type { KafkaErrorInfo } from "../messages.js"

/** librdkafka's error codes by name (`ERR__PARTITION_EOF` → -191, …). */
export const CODES: Readonly<Record<string, number>> = RdKafka.CODES.ERRORS as unknown as Record<string, number>

const NAMES = new Map<number, string>()
for (const [name, code] of Object.entries(CODES)) if (!NAMES.has(code)) NAMES.set(code, name)

/** The symbolic name of a librdkafka error code. */
export const errorName = (code: number): string => NAMES.get(code) ?? `ERR_${code}`

export const ERR = {
  PARTITION_EOF: -191,
  TRANSPORT: -195,
  ALL_BROKERS_DOWN: -187,
  TIMED_OUT: -185,
  QUEUE_FULL: -184,
  FATAL: -150,
  KEY_DESERIALIZATION: -160,
  VALUE_DESERIALIZATION: -159,
  UNKNOWN_TOPIC_OR_PART: 3
} as const

/** The error info of an error the client reported. */
export const infoOfLibrdKafkaError = (e: LibrdKafkaError | Error | unknown): KafkaErrorInfo => {
  const r = (typeof e === "object" && e !== null ? e : {}) as Partial<LibrdKafkaError>
  const code = typeof r.code === "number" ? r.code : -196
  return {
    code,
    name: errorName(code),
    message: typeof r.message === "string" ? r.message : String(e),
    fatal: r.isFatal === true,
    retriable: r.isRetriable === true
  }
}

/** librdkafka's text for each code, as `err2str` gives it ("Local: All broker connections are down"). */
let texts: Map<number, string> | undefined
/** The same texts the way the client turns them into error events' messages ("all broker connections are down") → code. */
let codesByEventText: Map<string, number> | undefined

const loadTexts = (): void => {
  texts = new Map()
  codesByEventText = new Map()
  try {
    // The client's own error factory knows librdkafka's texts; its events carry only the text, not the code.
    const { create } = createRequire(import.meta.url)("@confluentinc/kafka-javascript/lib/error.js") as {
      create(code: number): { message: string }
    }
    for (const code of Object.values(CODES)) {
      const text = create(code).message
      texts.set(code, text)
      const parts = text.split(": ")
      const eventText = (parts.length > 1 ? parts[1]! : text).toLowerCase()
      if (!codesByEventText.has(eventText)) codesByEventText.set(eventText, code)
    }
  } catch {
    // Without the texts, event errors keep code -1 (ERR_UNKNOWN) and their message.
  }
}

/**
 * The error info of an `event.error` the client emitted. Such events carry only
 * librdkafka's text, lower-cased; the code is found from it.
 */
export const infoOfClientEvent = (e: LibrdKafkaError): KafkaErrorInfo => {
  if (typeof e.code === "number" && e.code !== -1) return infoOfLibrdKafkaError(e)
  if (codesByEventText === undefined) loadTexts()
  const code = codesByEventText!.get(String(e.message).toLowerCase()) ?? -1
  return {
    code,
    name: errorName(code),
    message: texts!.get(code) ?? String(e.message),
    fatal: e.isFatal === true,
    retriable: e.isRetriable === true
  }
}

/** A one-line description of an error the client reported. */
export const describeClientError = (e: unknown): string => describeInfo(infoOfLibrdKafkaError(e))

export const describeInfo = (info: KafkaErrorInfo): string => `${info.message} (${info.name})`
