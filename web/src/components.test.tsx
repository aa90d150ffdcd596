import { describe, expect, it, beforeEach } from "vitest";
import { screen, waitFor, fireEvent } from "@testing-library/react";
import { storeToken } from "./api";
import { GpuCard } from "./pages/GpuMap";
import { SubmitForm } from "./pages/SubmitForm";
import { WorkloadTable } from "./pages/Workloads";
import { curveOption, SweepTrials, type Sweep } from "./pages/Sweeps";
import { mockFetch, renderWithProviders, workload } from "./test-utils";

beforeEach(() => storeToken(""));

describe("WorkloadTable", () => {
  it("puts only the rows on screen into the DOM, even for 10,000 workloads", () => {
    const items = Array.from({ length: 10_000 }, (_, i) => workload(i + 1));
    const t0 = performance.now();
    renderWithProviders(<WorkloadTable items={items} now={Date.parse("2026-12-01T10:05:00Z")} />);
    const took = performance.now() - t0;
    const rows = screen.getAllByRole("row");
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(100);
    expect(screen.getByTestId("workload-table")).toHaveAttribute("aria-rowcount", "10000");
    expect(screen.getByTestId("row-vision-w1")).toHaveTextContent("5m");
    expect(took).toBeLessThan(2000);
  });
});

describe("GpuCard", () => {
  it("draws a GPU as the shares its workloads hold", () => {
    const shares = ["a", "b", "c", "d"].map((n) => ({ workload: `vision/${n}`, gpuFraction: 0.25, usedGpuMemory: "1Gi" }));
    renderWithProviders(
      <GpuCard node="n" gpu={{ index: 0, model: "H100", memory: "80Gi", allocated: 1, utilization: 0.5, workloads: shares.map((s) => s.workload), shares, mig: [] }} />,
    );
    const drawn = screen.getAllByTestId("share");
    expect(drawn.map((s) => s.getAttribute("data-workload"))).toEqual(["vision/a", "vision/b", "vision/c", "vision/d"]);
    expect(screen.getByText(/Memory used 4 GiB of 80 GiB allowed/)).toBeInTheDocument();
    expect(screen.getByText("Utilisation 50%")).toBeInTheDocument();
  });
});

describe("SubmitForm", () => {
  it("shows the server's own message beside the field as the user types", async () => {
    storeToken("t");
    const dryRuns: unknown[] = [];
    mockFetch({
      "/api/v1/whoami": { user: "alice", admin: false, projects: [] },
      "/api/v1/projects/vision/workloads?dryRun=true": (_url: string, init?: RequestInit) => {
        const body = JSON.parse(String(init?.body));
        dryRuns.push(body);
        return body.gpu === 1.5
          ? { status: 400, body: { error: { code: 400, message: "body.gpu: expected a whole number of GPUs or a fraction, got 1.5" } } }
          : { status: 200, body: { valid: true, warnings: [] } };
      },
      "/api/v1/projects": { items: [{ name: "vision", members: [{ user: "alice", role: "member" }] }] },
    });
    renderWithProviders(<SubmitForm />);
    const name = await screen.findByLabelText(/Name/);
    await waitFor(() => expect(screen.getByTestId("project")).toHaveValue("vision"));
    fireEvent.change(name, { target: { value: "train" } });
    fireEvent.change(screen.getByLabelText(/Command/), { target: { value: "sleep 5" } });
    await waitFor(() => expect(screen.getByTestId("check-state")).toHaveTextContent("The server accepts"));
    fireEvent.change(screen.getByTestId("gpu"), { target: { value: "1.5" } });
    await waitFor(() => expect(screen.getByText(/expected a whole number of GPUs or a fraction, got 1.5/)).toBeInTheDocument());
    expect(screen.getByTestId("submit")).toBeDisabled();
    expect(dryRuns.at(-1)).toMatchObject({ name: "train", command: ["sleep", "5"], gpu: 1.5 });
  });
});

describe("Sweep page", () => {
  const sweep: Sweep = {
    id: 1,
    name: "lr-search",
    project: "vision",
    user: "alice",
    state: "Running",
    metric: { name: "loss", goal: "minimize" },
    spec: { method: "bayes", budget: { maxTrials: 24, parallelism: 4, maxFailures: 3 }, earlyStopping: { type: "asha" } },
    seed: 7,
    status: { message: "", trialsCreated: 2, inFlight: 1, peakInFlight: 2, failures: 0, budgetLeft: { trials: 22, failures: 3 } },
    best: { trial: 1, parameters: { lr: 0.01, x: 0.3 }, value: 0.05, workload: "lr-search-1" },
    trials: [
      { index: 0, parameters: { lr: 0.0001, x: -1 }, state: "EarlyStopped", workload: "lr-search-0", best: 1.2, last: 1.3, steps: 2, restarts: 0, message: "",
        history: [{ step: 1, time: "", metrics: { loss: 1.3 } }, { step: 2, time: "", metrics: { loss: 1.2 } }] },
      { index: 1, parameters: { lr: 0.01, x: 0.3 }, state: "Running", workload: "lr-search-1", best: 0.05, last: 0.05, steps: 3, restarts: 1, message: "",
        history: [{ step: 1, time: "", metrics: { loss: 0.5 } }, { step: 3, time: "", metrics: { loss: 0.05, acc: 1 } }] },
    ],
  };
  it("lists every trial with its parameters, state, last and best metric, steps", () => {
    renderWithProviders(<SweepTrials sweep={sweep} />);
    expect(screen.getByTestId("trial-0")).toHaveTextContent("EarlyStopped");
    expect(screen.getByTestId("trial-0")).toHaveTextContent("lr=0.0001 x=-1");
    expect(screen.getByTestId("trial-1")).toHaveTextContent("0.05");
    expect(screen.getByTestId("trial-1")).toHaveTextContent("lr-search-1");
  });
  it("draws the metric against step, one line per trial", () => {
    const o = curveOption(sweep);
    expect(o.series.map((s) => s.name)).toEqual(["#0", "#1"]);
    expect(o.series[1].data).toEqual([[1, 0.5], [3, 0.05]]);
    expect(o.series[1].lineStyle.width).toBeGreaterThan(o.series[0].lineStyle.width);
  });
});

describe("WorkspacesPage", () => {
  it("greys out GPU sizes that cannot start now, says why, and shows idle ones", async () => {
    storeToken("t");
    const created: unknown[] = [];
    mockFetch({
      "/api/v1/whoami": { user: "alice", admin: false, projects: [] },
      "/api/v1/workspaces": {
        items: [
          { id: 1, name: "nb", project: "vision", user: "alice", kind: "jupyter", phase: "Running", url: "http://s/ws/vision/nb/", workingDir: "/d",
            gpu: 0.25, allocatedGpu: 0.25, usedGpu: 0, stopping: false, message: "", reason: "", queuePosition: 0,
            idle: { lastActive: "2026-12-01T10:00:00Z", idleFor: "25m0s", suspendsAt: "2026-12-01T12:00:00Z", idle: true } },
          { id: 2, name: "old", project: "vision", user: "alice", kind: "jupyter", phase: "Suspended", url: "http://s/ws/vision/old/", workingDir: "/d",
            allocatedGpu: 0, usedGpu: null, stopping: false, message: "suspended: idle for 2h", reason: "", queuePosition: 0, idle: null },
        ],
      },
      "/api/v1/projects/vision/workspaces": (_url: string, init?: RequestInit) => {
        created.push(JSON.parse(String(init?.body)));
        return { status: 201, body: {} };
      },
      "/api/v1/projects": { items: [{ name: "vision", members: [{ user: "alice", role: "member" }] }] },
      "/api/v1/queues": { items: [{ name: "vision", kind: "project", gpuQuota: 1, allocatedGpu: 0.25 }] },
      "/api/v1/nodes": {
        items: [{ name: "n", gpuCount: 2, gpuModel: "H100", allocatedGpu: 0.25, simulated: true,
          gpus: [0.25, 0].map((a, i) => ({ index: i, model: "H100", memory: "80Gi", allocated: a, utilization: null, workloads: [], shares: [], mig: [] })) }],
      },
    });
    const { WorkspacesPage } = await import("./pages/Workspaces");
    renderWithProviders(<WorkspacesPage />);
    expect(await screen.findByTestId("ws-idle")).toHaveTextContent("Idle 25m0s");
    expect(screen.getByText("suspended: idle for 2h")).toBeInTheDocument();
    expect(screen.getByTestId("ws-start")).toBeInTheDocument();
    // 0.75 of the quota is left: 1 GPU and more cannot start, and the form says why.
    await waitFor(() => expect(screen.getByTestId("ws-gpu-why")).toHaveTextContent("1 GPU: the project's quota is 1 GPU and 0.25 are in use"));
    expect(screen.getByLabelText("1 GPU")).toBeDisabled();
    expect(screen.getByLabelText("0.5 GPU")).not.toBeDisabled();
    fireEvent.change(screen.getByTestId("ws-name"), { target: { value: "exp" } });
    fireEvent.click(screen.getByLabelText("0.5 GPU"));
    fireEvent.click(screen.getByTestId("ws-create"));
    await waitFor(() => expect(created).toEqual([{ name: "exp", jupyter: true, gpu: 0.5 }]));
  });
});
