/**
 * librdkafka error codes and names, and the error info items carry.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import { createRequire } from "node:module"
import type { LibrdKafkaError } from "@confluentinc/kafka-javascript"
import {
  KafkaConfigError,
  KafkaConnectionError,
  type KafkaConnectorError,
  KafkaMetadataError,
  KafkaTopicNotFoundError
} from "../errors.js"
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
  UNKNOWN_TOPIC: -188,
  UNKNOWN_TOPIC_OR_PART: 3
} as const

/** `true` for librdkafka's "this topic does not exist" codes. */
export const isUnknownTopic = (code: number): boolean => code === ERR.UNKNOWN_TOPIC || code === ERR.UNKNOWN_TOPIC_OR_PART

/** The error info of an error the client reported. */
export const infoOfLibrdKafkaError = (e: LibrdKafkaError | Error | unknown): KafkaErrorInfo => {
  const r = (typeof e === "object" && e !== null ? e : {}) as Partial<LibrdKafkaError>
  const code = typeof r.code === "number" ? r.code : -196
  return {
    code,
    name: errorName(code),
    message: typeof r.message === "string" ? canonicalText(code, r.message) : e instanceof Error ? String(e) : "unknown error",
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

/**
 * The client reports some errors with librdkafka's text lower-cased and its
 * prefix cut ("broker transport failure"): give those their full text back
 * ("Local: Broker transport failure").
 */
const canonicalText = (code: number, message: string): string => {
  if (texts === undefined) loadTexts()
  const text = texts!.get(code)
  if (text === undefined) return message
  const parts = text.split(": ")
  const eventText = (parts.length > 1 ? parts[1]! : text).toLowerCase()
  return message === eventText ? text : message
}

/** A one-line description of an error the client reported: its text and code name. */
export const describeClientError = (e: unknown): string => describeInfo(infoOfLibrdKafkaError(e))

export const describeInfo = (info: KafkaErrorInfo): string => `${info.message} (${info.name})`

/** The cause to keep for an error the client reported: itself when it is an `Error`, else an `Error` with its description (it may be a plain `{ message, code }`). */
export const causeOf = (e: unknown): Error => e instanceof Error ? e : new Error(describeClientError(e))

/** Where an error happened: the brokers, and the topic and partition when known. */
export interface Where {
  readonly brokers: ReadonlyArray<string>
  readonly topic?: string | undefined
  readonly partition?: number | undefined
}

/** `brokers 127.0.0.1:9092, 127.0.0.1:9093` */
export const brokersText = (brokers: ReadonlyArray<string>): string =>
  `${brokers.length === 1 ? "broker" : "brokers"} ${brokers.join(", ")}`

/** An error's text and code name for use inside parentheses: `"Local: Timed out", ERR__TIMED_OUT`. */
export const quoteInfo = (info: KafkaErrorInfo): string => `"${info.message}", ${info.name}`

/** How long a request waited: in all, the connection set-up timeout in force, and the request's own share; the last error event seen. */
export interface Timing {
  readonly waitMs: number
  readonly setupTimeoutMs: number
  readonly requestMs: number
  readonly lastEvent?: KafkaErrorInfo | undefined
}

/** Brokers that did not answer within `waitMs`, why, and what to check. */
export const unanswered = (
  brokers: ReadonlyArray<string> | undefined,
  info: KafkaErrorInfo,
  timing: Timing
): string => {
  const last = timing.lastEvent === undefined || timing.lastEvent.code === info.code
    ? ""
    : `; librdkafka last reported ${quoteInfo(timing.lastEvent)}`
  return `no answer${brokers === undefined ? "" : ` from ${brokersText(brokers)}`} within ${timing.waitMs} ms (${
    quoteInfo(info)
  }${last}). Check that the broker addresses are right and that a Kafka broker is up at them; ` +
    `the connection timeout is socket.connection.setup.timeout.ms = ${timing.setupTimeoutMs} ms, plus ${timing.requestMs} ms ` +
    `for the first request (raise it in addConfig to wait longer)`
}

/** `true` for the codes of brokers that did not answer. */
export const isUnanswered = (code: number): boolean =>
  code === ERR.TIMED_OUT || code === ERR.TRANSPORT || code === ERR.ALL_BROKERS_DOWN

/** The advice for a topic that does not exist. */
export const topicHint = (topic: string, brokers: ReadonlyArray<string>): string =>
  `the topic does not exist on ${brokersText(brokers)}: create topic '${topic}', or check the topic name`

/** The error for a client librdkafka would not create (a bad `addConfig`). */
export const configError = (client: string, where: Where, e: unknown): KafkaConfigError =>
  new KafkaConfigError(
    `librdkafka refused the configuration of the Kafka ${client} for ${brokersText(where.brokers)}: ${
      e instanceof Error ? e.message : describeClientError(e)
    }; check addConfig`,
    { ...where, cause: causeOf(e) }
  )

/**
 * The error for a request about `what` that failed: the topic does not exist,
 * the brokers did not answer (`timedOut`), or something else.
 */
export const requestError = (
  what: string,
  where: Where,
  e: unknown,
  timing: Timing
): KafkaConnectorError => {
  const info = infoOfLibrdKafkaError(e)
  const details = { ...where, info, cause: causeOf(e) }
  if (where.topic !== undefined && isUnknownTopic(info.code)) {
    return new KafkaTopicNotFoundError(`${what}: ${describeInfo(info)}: ${topicHint(where.topic, where.brokers)}`, details)
  }
  if (isUnanswered(info.code)) return new KafkaConnectionError(`${what}: ${unanswered(where.brokers, info, timing)}`, details)
  return new KafkaMetadataError(`${what}: ${describeInfo(info)} (from ${brokersText(where.brokers)})`, details)
}
