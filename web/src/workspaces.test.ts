import { describe, expect, it } from "vitest";
import type { NodeInfo, QueueInfo } from "./api";
import { sizeOptions, stateText, whyNot, type Workspace } from "./workspaces";

function node(allocated: number[]): NodeInfo {
  return {
    name: "n", gpuCount: allocated.length, gpuModel: "H100-80GB", allocatedGpu: allocated.reduce((a, b) => a + b, 0), simulated: true,
    gpus: allocated.map((a, i) => ({ index: i, model: "H100-80GB", memory: "80Gi", allocated: a, utilization: null, workloads: [], shares: [], mig: [] })),
  };
}

function queue(gpuQuota: number, allocatedGpu: number): QueueInfo {
  return { name: "p", kind: "project", gpuQuota, allocatedGpu } as QueueInfo;
}

describe("which GPU sizes a workspace can start with now", () => {
  it("offers a fraction where some device has it free", () => {
    const nodes = [node([1, 0.75, 0.5])];
    expect(whyNot(0.25, nodes, queue(4, 0))).toBe("");
    expect(whyNot(0.5, nodes, queue(4, 0))).toBe("");
    expect(whyNot(1, nodes, queue(4, 0))).toBe("no node has 1 free GPUs now (at most 0)");
  });

  it("needs whole free devices on one node for whole GPUs", () => {
    const nodes = [node([0, 0, 1, 0]), node([0, 1])];
    expect(whyNot(2, nodes, queue(-1, 0))).toBe("");
    expect(whyNot(4, nodes, queue(-1, 0))).toBe("no node has 4 free GPUs now (at most 3)");
  });

  it("stays within the project's quota, because workspaces are never preempted", () => {
    const options = sizeOptions([node([0, 0, 0, 0])], queue(1, 0.5));
    const byValue = Object.fromEntries(options.map((o) => [o.value, o]));
    expect(byValue["0"].disabled).toBe(false);
    expect(byValue["0.5"].disabled).toBe(false);
    expect(byValue["1"].disabled).toBe(true);
    expect(byValue["1"].why).toContain("quota is 1 GPU and 0.5 are in use (0.5 left)");
  });

  it("says idle or stopping before the phase", () => {
    const w = { phase: "Running", stopping: false, idle: { idle: true, idleFor: "25m0s" } } as Workspace;
    expect(stateText(w)).toBe("Idle 25m0s");
    expect(stateText({ ...w, stopping: true })).toBe("Stopping");
    expect(stateText({ ...w, idle: null })).toBe("Running");
  });
});
