import { useEffect, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, type NodeInfo, type Project, type QueueInfo } from "./api";

// The current time, refreshed every `ms`, for ages and waits.
export function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export const nodesQuery = {
  queryKey: ["nodes"],
  queryFn: async () => (await api<{ items: NodeInfo[] }>("/api/v1/nodes")).items,
};

export function useNodes() {
  return useQuery({ ...nodesQuery, refetchInterval: 3_000 });
}

export function useQueues() {
  return useQuery({
    queryKey: ["queues"],
    queryFn: async () => (await api<{ items: QueueInfo[] }>("/api/v1/queues")).items,
    refetchInterval: 5_000,
  });
}

export function useProjects() {
  return useQuery({
    queryKey: ["projects"],
    queryFn: async () => (await api<{ items: Project[] }>("/api/v1/projects")).items,
  });
}
