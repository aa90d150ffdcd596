// The sluice REST API (docs/api.md), called with the signed-in token. Errors
// carry the server's own message, which the UI shows as it is.

export type Phase = "Pending" | "Running" | "Succeeded" | "Failed" | "Suspended";

export interface Placement {
  node: string;
  gpus: number[];
  gpuFraction?: number;
}

export interface Workload {
  id: number;
  name: string;
  project: string;
  user: string;
  spec: {
    priorityClass: string;
    preemptible: boolean;
    pods: number;
    gpu?: number;
    gpuDevices?: number;
    gpuMemory?: string;
    command: string[];
  };
  status: {
    phase: Phase;
    submitted: string;
    started?: string;
    ended?: string;
    placement: Placement[];
    releasing: boolean;
    deleting?: boolean;
    message: string;
    allocatedGpu: number;
    usedGpu: number | null;
    usedGpuMemory?: string;
    reason: string;
    queuePosition: number;
    isolation?: string;
  };
}

export interface GpuShare {
  workload: string;
  gpuFraction: number;
  usedGpuMemory: string | null;
}

export interface NodeInfo {
  name: string;
  gpuCount: number;
  gpuModel: string;
  allocatedGpu: number;
  simulated: boolean;
  gpus: {
    index: number;
    model: string;
    memory: string | null;
    allocated: number;
    utilization: number | null;
    workloads: string[];
    shares: GpuShare[];
    mig: { uuid: string; memory: string }[];
  }[];
}

// One resource of a queue: numbers for gpu and cpu, "64Gi" for memory; -1 unlimited.
export interface QueueResourceInfo {
  quota: number | string;
  limit: number | string;
  overQuotaWeight: number;
  fairShare: number | string | null;
  allocated: number | string;
}

export interface QueueInfo {
  name: string;
  kind: "department" | "project";
  parent: string | null;
  priority: number;
  gpuQuota: number;
  gpuLimit: number;
  gpuOverQuotaWeight: number;
  fairShare: { gpu: number; cpu: number; memory: string } | null;
  allocatedGpu: number;
  running: number;
  pending: number;
  resources: Record<"gpu" | "cpu" | "memory", QueueResourceInfo>;
}

export interface Project {
  name: string;
  department?: string | null;
  members?: Record<string, string> | { user: string; role: string }[];
  [key: string]: unknown;
}

export interface WhoAmI {
  user: string;
  admin: boolean;
  [key: string]: unknown;
}

export interface UsagePoint {
  t: number;
  allocated: number | null;
  used: number | null;
  pending: number | null;
}

export interface UsageSeries {
  from: string;
  to: string;
  step: string;
  scope: string;
  series: { name: string; points: UsagePoint[] }[];
}

export interface ChargebackRow {
  name: string | null;
  allocatedGpuHours: number;
  usedGpuHours: number | null;
  efficiency: number | null;
  cost: number;
}

export interface Chargeback {
  from: string;
  to: string;
  gpuHourPrice: number;
  currency: string;
  idleMinutes: number;
  departments: (ChargebackRow & { projects: ChargebackRow[] })[];
  total: ChargebackRow;
  idle: { project: string; from: string; to: string; allocatedGpuHours: number; usedGpuHours: number }[];
}

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = "sluice.token";

export function storedToken(): string {
  return localStorage.getItem(TOKEN_KEY) ?? "";
}

export function storeToken(token: string) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

export function authHeaders(token = storedToken()): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// Calls the API; resolves with the parsed JSON (or text), rejects with an
// ApiError holding the server's message.
export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; token?: string; text?: boolean } = {},
): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? "GET",
    headers: {
      ...authHeaders(init.token),
      ...(init.body !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) {
    let message = text || res.statusText;
    try {
      message = JSON.parse(text).error.message;
    } catch {
      // not JSON: keep the text
    }
    throw new ApiError(res.status, message);
  }
  if (init.text) return text as T;
  return (text ? JSON.parse(text) : null) as T;
}

export const enc = encodeURIComponent;
