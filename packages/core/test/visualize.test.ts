import { Dataflow, op, type RenderedOperator, type RenderedPort, toJSON, toMermaid } from "@weir/core"
import { TestingSink, TestingSource } from "@weir/testing"
import { describe, expect, it } from "vitest"

const port = (portId: string, fromPortIds: Array<string> = [], fromStreamIds: Array<string> = fromPortIds): RenderedPort => ({
  typ: "RenderedPort",
  portName: portId.slice(portId.lastIndexOf(".") + 1),
  portId,
  fromPortIds,
  fromStreamIds
})

const step = (
  opType: string,
  stepId: string,
  ports: { inp?: Array<RenderedPort>; out?: Array<RenderedPort>; substeps?: Array<RenderedOperator> }
): RenderedOperator => ({
  typ: "RenderedOperator",
  opType,
  stepName: stepId.slice(stepId.lastIndexOf(".") + 1),
  stepId,
  inpPorts: ports.inp ?? [],
  outPorts: ports.out ?? [],
  substeps: ports.substeps ?? []
})

/** A `map` step as the tree shows it: a composite over one `flatMapBatch` kernel step. */
const mapStep = (stepId: string, upstream: string): RenderedOperator =>
  step("map", stepId, {
    inp: [port(`${stepId}.up`, [upstream])],
    out: [port(`${stepId}.down`, [`${stepId}.flatMapBatch.down`])],
    substeps: [
      step("flatMapBatch", `${stepId}.flatMapBatch`, {
        inp: [port(`${stepId}.flatMapBatch.up`, [`${stepId}.up`], [upstream])],
        out: [port(`${stepId}.flatMapBatch.down`)]
      })
    ]
  })

const linearFlow = (): Dataflow => {
  const flow = new Dataflow("test_df")
  const s = op.input("inp", flow, new TestingSource([1, 2, 3]))
  const t = op.map("add_one", s, (x: number) => x + 1)
  op.output("out", t, new TestingSink<number>([]))
  return flow
}

const nonlinearFlow = (): Dataflow => {
  const flow = new Dataflow("test_df")
  const nums = op.input("nums", flow, new TestingSource([1, 2, 3]))
  const ones = op.map("add_one", nums, (x: number) => x + 1)
  const twos = op.map("add_two", nums, (x: number) => x + 2)
  op.output("out_one", ones, new TestingSink<number>([]))
  op.output("out_two", twos, new TestingSink<number>([]))
  return flow
}

const multistreamFlow = (): Dataflow => {
  const flow = new Dataflow("test_df")
  const ones = op.input("ones", flow, new TestingSource([2, 3, 4]))
  const twos = op.input("twos", flow, new TestingSource([3, 4, 5]))
  const s = op.merge("merge", ones, twos)
  op.output("out", s, new TestingSink<number>([]))
  return flow
}

describe("toJSON", () => {
  it("renders a linear flow: composite ports point into the kernel substep", () => {
    const rendered = toJSON(linearFlow())
    expect(rendered).toEqual({
      typ: "RenderedDataflow",
      flowId: "test_df",
      substeps: [
        step("input", "test_df.inp", { out: [port("test_df.inp.down")] }),
        mapStep("test_df.add_one", "test_df.inp.down"),
        step("output", "test_df.out", {
          inp: [port("test_df.out.up", ["test_df.add_one.down"], ["test_df.add_one.flatMapBatch.down"])]
        })
      ]
    })
    // Spelled out once, for the fields the helpers compute.
    const map = rendered.substeps[1]
    expect(map.outPorts[0].fromPortIds).toEqual(["test_df.add_one.flatMapBatch.down"])
    expect(map.substeps[0].inpPorts[0]).toEqual({
      typ: "RenderedPort",
      portName: "up",
      portId: "test_df.add_one.flatMapBatch.up",
      fromPortIds: ["test_df.add_one.up"],
      fromStreamIds: ["test_df.inp.down"]
    })
  })

  it("renders a fan-out: one input feeding two maps and two outputs", () => {
    expect(toJSON(nonlinearFlow())).toEqual({
      typ: "RenderedDataflow",
      flowId: "test_df",
      substeps: [
        step("input", "test_df.nums", { out: [port("test_df.nums.down")] }),
        mapStep("test_df.add_one", "test_df.nums.down"),
        mapStep("test_df.add_two", "test_df.nums.down"),
        step("output", "test_df.out_one", {
          inp: [port("test_df.out_one.up", ["test_df.add_one.down"], ["test_df.add_one.flatMapBatch.down"])]
        }),
        step("output", "test_df.out_two", {
          inp: [port("test_df.out_two.up", ["test_df.add_two.down"], ["test_df.add_two.flatMapBatch.down"])]
        })
      ]
    })
  })

  it("lists every stream of a multi-stream input port", () => {
    expect(toJSON(multistreamFlow())).toEqual({
      typ: "RenderedDataflow",
      flowId: "test_df",
      substeps: [
        step("input", "test_df.ones", { out: [port("test_df.ones.down")] }),
        step("input", "test_df.twos", { out: [port("test_df.twos.down")] }),
        step("merge", "test_df.merge", {
          inp: [port("test_df.merge.ups", ["test_df.ones.down", "test_df.twos.down"])],
          out: [port("test_df.merge.down")]
        }),
        step("output", "test_df.out", { inp: [port("test_df.out.up", ["test_df.merge.down"])] })
      ]
    })
  })

  it("is plain data that survives JSON.stringify", () => {
    const rendered = toJSON(linearFlow())
    expect(JSON.parse(JSON.stringify(rendered))).toEqual(rendered)
  })
})

describe("toMermaid", () => {
  it("renders a linear flow", () => {
    expect(toMermaid(linearFlow())).toBe(
      [
        "flowchart TD",
        "subgraph \"test_df (Dataflow)\"",
        "test_df.inp[\"inp (input)\"]",
        "test_df.add_one[\"add_one (map)\"]",
        "test_df.inp -- \"down → up\" --> test_df.add_one",
        "test_df.out[\"out (output)\"]",
        "test_df.add_one -- \"down → up\" --> test_df.out",
        "end"
      ].join("\n")
    )
  })

  it("renders a fan-out: each node followed by its incoming edges", () => {
    expect(toMermaid(nonlinearFlow())).toBe(
      [
        "flowchart TD",
        "subgraph \"test_df (Dataflow)\"",
        "test_df.nums[\"nums (input)\"]",
        "test_df.add_one[\"add_one (map)\"]",
        "test_df.nums -- \"down → up\" --> test_df.add_one",
        "test_df.add_two[\"add_two (map)\"]",
        "test_df.nums -- \"down → up\" --> test_df.add_two",
        "test_df.out_one[\"out_one (output)\"]",
        "test_df.add_one -- \"down → up\" --> test_df.out_one",
        "test_df.out_two[\"out_two (output)\"]",
        "test_df.add_two -- \"down → up\" --> test_df.out_two",
        "end"
      ].join("\n")
    )
  })

  it("draws one edge per stream of a multi-stream port", () => {
    expect(toMermaid(multistreamFlow())).toBe(
      [
        "flowchart TD",
        "subgraph \"test_df (Dataflow)\"",
        "test_df.ones[\"ones (input)\"]",
        "test_df.twos[\"twos (input)\"]",
        "test_df.merge[\"merge (merge)\"]",
        "test_df.ones -- \"down → ups\" --> test_df.merge",
        "test_df.twos -- \"down → ups\" --> test_df.merge",
        "test_df.out[\"out (output)\"]",
        "test_df.merge -- \"down → up\" --> test_df.out",
        "end"
      ].join("\n")
    )
  })

  it("labels branch outputs with their port names", () => {
    const flow = new Dataflow("test_df")
    const nums = op.input("nums", flow, new TestingSource([1, 2, 3]))
    const { trues, falses } = op.branch("even", nums, (x: number) => x % 2 === 0)
    op.output("evens", trues, new TestingSink<number>([]))
    op.output("odds", falses, new TestingSink<number>([]))
    expect(toMermaid(flow).split("\n")).toContain("test_df.even -- \"trues → up\" --> test_df.evens")
    expect(toMermaid(flow).split("\n")).toContain("test_df.even -- \"falses → up\" --> test_df.odds")
  })
})
