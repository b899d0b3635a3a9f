/**
 * Consumer lag: how far each partition a `KafkaSource` reads is behind the end
 * of its Kafka partition, as a gauge the runtime (or you) can expose.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Metric from "effect/Metric"

/** The same gauge in Effect's registry (per thread: worker threads send theirs to the calling thread). */
const lagMetric = Metric.gauge("weir_kafka_consumer_lag", {
  description: "Messages a Kafka input partition is behind the end of its topic partition"
})

/**
 * One reading of the consumer-lag gauge.
 *
 * @example
 * ```ts
 * const behind: Array<ConsumerLagSample> = consumerLag.samples().filter((s) => s.lag > 10_000)
 * ```
 * @since 0.1.0
 */
export interface ConsumerLagSample {
  /** The fully-qualified id of the input step. */
  readonly stepId: string
  readonly topic: string
  readonly partition: number
  /** Messages between the next offset to read and the partition's high watermark. */
  readonly lag: number
}

const keyOf = (stepId: string, topic: string, partition: number): string => `${stepId}\u0000${topic}\u0000${partition}`

const escapeLabel = (s: string): string => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")

/**
 * A gauge of consumer lag per input step, topic and partition, named
 * `weir_kafka_consumer_lag` (Bytewax: `bytewax_kafka_consumer_lag`). Every
 * `KafkaSource` partition updates it after each batch, from the high
 * watermark its consumer last saw; a partition's reading is removed when it
 * closes.
 *
 * @example
 * ```ts
 * import { consumerLag } from "@weir/connectors-kafka"
 *
 * consumerLag.get("flow.in", "orders", 0) // e.g. 1520, or undefined before the first batch
 * process.stdout.write(consumerLag.toPrometheus())
 * // # HELP weir_kafka_consumer_lag …
 * // weir_kafka_consumer_lag{step_id="flow.in",topic="orders",partition="0"} 1520
 * ```
 * @since 0.1.0
 */
export class ConsumerLagGauge {
  readonly name = "weir_kafka_consumer_lag"
  readonly help = "Messages a Kafka input partition is behind the end of its topic partition"
  private readonly values = new Map<string, ConsumerLagSample>()

  /** Record a reading (also in Effect's metric registry, which `weir run --metrics-port` serves). */
  set(stepId: string, topic: string, partition: number, lag: number): void {
    const key = keyOf(stepId, topic, partition)
    const prev = this.values.get(key)
    if (prev !== undefined && prev.lag === lag) return
    this.values.set(key, { stepId, topic, partition, lag })
    Metric.withAttributes(lagMetric, { step_id: stepId, topic, partition: String(partition) }).updateUnsafe(lag, Context.empty())
  }

  /** The last reading for one partition, if any. */
  get(stepId: string, topic: string, partition: number): number | undefined {
    return this.values.get(keyOf(stepId, topic, partition))?.lag
  }

  /** Forget a partition's reading (its reader closed). */
  remove(stepId: string, topic: string, partition: number): void {
    this.values.delete(keyOf(stepId, topic, partition))
  }

  /** Every current reading. */
  samples(): Array<ConsumerLagSample> {
    return Array.from(this.values.values())
  }

  /** The readings in the Prometheus text exposition format. */
  toPrometheus(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`]
    for (const s of this.values.values()) {
      lines.push(
        `${this.name}{step_id="${escapeLabel(s.stepId)}",topic="${escapeLabel(s.topic)}",partition="${s.partition}"} ${s.lag}`
      )
    }
    return lines.join("\n") + "\n"
  }
}

/**
 * The process-wide consumer-lag gauge every `KafkaSource` reports to.
 *
 * @example
 * ```ts
 * for (const s of consumerLag.samples()) console.log(`${s.topic}[${s.partition}] lag ${s.lag}`)
 * ```
 * @since 0.1.0
 */
export const consumerLag: ConsumerLagGauge = new ConsumerLagGauge()
