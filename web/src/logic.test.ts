import { describe, expect, it } from "vitest";
import { duration, splitCommand } from "./format";
import { SseParser } from "./sse";
import { fieldErrors, INITIAL, requestBody } from "./submit";
import { applyEvents } from "./watch";
import { filterWorkloads, sortWorkloads } from "./pages/Workloads";
import { amount } from "./pages/Projects";
import { workload } from "./test-utils";

describe("splitCommand", () => {
  it("splits words and keeps quoted ones whole", () => {
    expect(splitCommand(`sh -c 'echo hello; sleep 5'`)).toEqual(["sh", "-c", "echo hello; sleep 5"]);
    expect(splitCommand(`python  train.py --name "a b" ''`)).toEqual(["python", "train.py", "--name", "a b", ""]);
    expect(splitCommand("  ")).toEqual([]);
  });
});

describe("duration", () => {
  it("reads like a person would say it", () => {
    expect(duration(42_000)).toBe("42s");
    expect(duration(5 * 60_000 + 30_000)).toBe("5m 30s");
    expect(duration(3 * 3_600_000)).toBe("3h");
    expect(duration(50 * 3_600_000)).toBe("2d 2h");
  });
});

describe("the submit form's body and the server's messages", () => {
  it("sends numbers as numbers and odd text as typed", () => {
    expect(requestBody({ ...INITIAL, name: "t", command: "sleep 1", gpuMode: "fraction", gpu: "0.25" })).toEqual({
      name: "t",
      command: ["sleep", "1"],
      pods: 1,
      priorityClass: "train",
      preemptible: true,
      gpu: 0.25,
    });
    expect(requestBody({ ...INITIAL, gpu: "two" }).gpu).toBe("two");
    expect(requestBody({ ...INITIAL, gpuMode: "memory", gpuMemory: "20Gi", gpuDevices: "2" })).toMatchObject({ gpuMemory: "20Gi", gpuDevices: 2 });
    expect(requestBody({ ...INITIAL, interactive: true }).priorityClass).toBe("interactive");
  });
  it("puts each line of a 400 beside the field it names", () => {
    const e = fieldErrors(
      'body.gpu: expected a whole number of GPUs (1, 2, 8) or a fraction between 0 and 1, got 1.5\nbody.name: expected a name\nbody.command[0]: empty\nbody: unknown field "x"',
    );
    expect(e.gpu).toMatch(/^expected a whole number/);
    expect(e.name).toBe("expected a name");
    expect(e.command).toBe("empty");
    expect(e.form).toBe('body: unknown field "x"');
  });
});

describe("SseParser", () => {
  it("joins events split across chunks", () => {
    const p = new SseParser();
    expect(p.push("event: ADDED\nda")).toEqual([]);
    expect(p.push('ta: {"id":1}\n\nevent: DELETED\ndata: {"id":2}\n\n')).toEqual([
      { type: "ADDED", data: '{"id":1}' },
      { type: "DELETED", data: '{"id":2}' },
    ]);
  });
});

describe("applyEvents", () => {
  it("adds, replaces and removes by id, in id order", () => {
    const running = { ...workload(1), status: { ...workload(1).status, phase: "Running" as const } };
    const out = applyEvents([workload(2), workload(1)], [
      { type: "MODIFIED", workload: running },
      { type: "ADDED", workload: workload(3) },
      { type: "DELETED", workload: workload(2) },
    ]);
    expect(out.map((w) => [w.id, w.status.phase])).toEqual([
      [1, "Running"],
      [3, "Pending"],
    ]);
  });
});

describe("filterWorkloads", () => {
  it("filters by project, phase, type and text", () => {
    const items = [workload(1, { project: "a" }), workload(2, { project: "b", phase: "Running" }), workload(3, { project: "b", name: "train-x" })];
    expect(filterWorkloads(items, { project: "b", phase: null, type: null, text: "" }).map((w) => w.id)).toEqual([2, 3]);
    expect(filterWorkloads(items, { project: null, phase: "Running", type: null, text: "" }).map((w) => w.id)).toEqual([2]);
    expect(filterWorkloads(items, { project: null, phase: null, type: "build", text: "" })).toEqual([]);
    expect(filterWorkloads(items, { project: null, phase: null, type: null, text: "TRAIN" }).map((w) => w.id)).toEqual([3]);
  });
});

describe("amount", () => {
  it("reads the queues view's amounts in the chart's units", () => {
    expect(amount(2.5)).toBe(2.5);
    expect(amount(-1)).toBe(-1);
    expect(amount("64Gi")).toBe(64);
    expect(amount("512Mi")).toBe(0.5);
    expect(amount(null)).toBeNull();
  });
});

describe("sortWorkloads", () => {
  it("sorts by a column either way, ties in submission order", () => {
    const a = workload(1, { name: "b" });
    const b = { ...workload(2, { name: "a" }), status: { ...workload(2).status, queuePosition: 0 } };
    const c = workload(3, { name: "c" });
    const now = Date.parse("2026-12-01T11:00:00Z");
    expect(sortWorkloads([a, b, c], { key: "name", descending: false }, now).map((w) => w.id)).toEqual([2, 1, 3]);
    expect(sortWorkloads([a, b, c], { key: "name", descending: true }, now).map((w) => w.id)).toEqual([3, 1, 2]);
    // Queue position 0 (not queued) sorts after every queued one; 1 and 3 tie.
    expect(sortWorkloads([b, c, a], { key: "queue", descending: false }, now).map((w) => w.id)).toEqual([1, 3, 2]);
    expect(sortWorkloads([a, b], null, now)).toEqual([a, b]);
  });
});
