// Workspaces (docs/workspaces.md): the API's view of one, and which GPU
// sizes could start now. A workspace is never preempted, so it runs only
// within its project's quota and only where a device (or a node's devices)
// is free: a size that fails either is offered greyed out, with why.
import type { NodeInfo, Phase, QueueInfo } from "./api";

export interface Workspace {
  id: number;
  name: string;
  project: string;
  user: string;
  kind: "jupyter" | "command";
  phase: Phase;
  url: string;
  workingDir: string;
  gpu?: number;
  gpuMemory?: string;
  gpuDevices?: number;
  allocatedGpu: number;
  usedGpu: number | null;
  stopping: boolean;
  message: string;
  reason: string;
  queuePosition: number;
  started?: string;
  idle: { lastActive: string; idleFor: string; suspendsAt: string | null; idle: boolean } | null;
}

export const GPU_SIZES = [0, 0.25, 0.5, 1, 2, 4, 8];

export interface SizeOption {
  value: string;
  label: string;
  disabled: boolean;
  why: string;
}

const EPS = 1e-9;

// Why a workspace of `size` GPUs (a fraction of one device, or whole
// devices) cannot start now in the project of `queue`, or "" when it can.
export function whyNot(size: number, nodes: NodeInfo[], queue: QueueInfo | undefined): string {
  if (size === 0) return "";
  if (queue && queue.gpuQuota >= 0 && queue.allocatedGpu + size > queue.gpuQuota + EPS) {
    const left = Math.max(0, queue.gpuQuota - queue.allocatedGpu);
    return `the project's quota is ${queue.gpuQuota} GPU and ${queue.allocatedGpu} are in use (${+left.toFixed(3)} left); workspaces are never preempted, so they run only within quota`;
  }
  if (size < 1) {
    const fits = nodes.some((n) => n.gpus.some((g) => g.allocated + size <= 1 + EPS));
    return fits ? "" : `no GPU has ${size} free now`;
  }
  const most = Math.max(0, ...nodes.map((n) => n.gpus.filter((g) => g.allocated <= EPS).length));
  return most >= size ? "" : `no node has ${size} free GPUs now (at most ${most})`;
}

export function sizeOptions(nodes: NodeInfo[], queue: QueueInfo | undefined): SizeOption[] {
  return GPU_SIZES.map((s) => {
    const why = whyNot(s, nodes, queue);
    const label = s === 0 ? "No GPU" : s < 1 ? `${s} GPU` : `${s} GPU${s > 1 ? "s" : ""}`;
    return { value: String(s), label, disabled: why !== "", why };
  });
}

// What the list shows as its state: stopping, idle for how long, or the phase.
export function stateText(w: Workspace): string {
  if (w.stopping) return "Stopping";
  if (w.phase === "Running" && w.idle?.idle) return `Idle ${w.idle.idleFor}`;
  return w.phase;
}
