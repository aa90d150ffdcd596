// Workloads as server state: one list query, kept live by the server's
// watch (GET /api/v1/workloads?watch=true), whose events are folded into
// the query's cache a few times a second. The list is also refetched now
// and then, since queue positions and measured use change without events.
import { useEffect } from "react";
import { useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { api, authHeaders, type Workload } from "./api";
import { readStream, SseParser } from "./sse";

export const WORKLOADS = ["workloads"] as const;

export const workloadsQuery = {
  queryKey: WORKLOADS,
  queryFn: async () => (await api<{ items: Workload[] }>("/api/v1/workloads")).items,
};

export function useWorkloads() {
  return useQuery({ ...workloadsQuery, refetchInterval: 15_000 });
}

// Applies watch events to the cached list.
export function applyEvents(list: Workload[] | undefined, events: { type: string; workload: Workload }[]): Workload[] {
  const byId = new Map<number, Workload>((list ?? []).map((w) => [w.id, w]));
  for (const { type, workload } of events) {
    if (type === "DELETED") byId.delete(workload.id);
    else byId.set(workload.id, workload);
  }
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

async function watchOnce(client: QueryClient, signal: AbortSignal) {
  const res = await fetch("/api/v1/workloads?watch=true", { headers: authHeaders(), signal });
  if (!res.ok) throw new Error(`watch: ${res.status}`);
  const parser = new SseParser();
  let pending: { type: string; workload: Workload }[] = [];
  let first = true;
  const flush = () => {
    if (!pending.length) return;
    const batch = pending;
    pending = [];
    // The first events are an ADDED for every workload: they replace the list.
    const base = first ? [] : client.getQueryData<Workload[]>(WORKLOADS);
    first = false;
    client.setQueryData<Workload[]>(WORKLOADS, applyEvents(base, batch));
  };
  const timer = setInterval(flush, 250);
  try {
    await readStream(res, (text) => {
      for (const e of parser.push(text)) pending.push({ type: e.type, workload: JSON.parse(e.data) });
    });
  } finally {
    clearInterval(timer);
    flush();
  }
}

// Keeps the workload list live while mounted; reconnects after errors.
export function useWorkloadWatch(enabled: boolean) {
  const client = useQueryClient();
  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    (async () => {
      while (!abort.signal.aborted) {
        try {
          await watchOnce(client, abort.signal);
        } catch {
          // reconnect below
        }
        if (abort.signal.aborted) return;
        await new Promise((r) => setTimeout(r, 2000));
      }
    })();
    return () => abort.abort();
  }, [client, enabled]);
}
