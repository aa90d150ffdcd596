// The usage history (GET /api/v1/usage) as chart data.
import { useQuery } from "@tanstack/react-query";
import { api, type UsageSeries } from "./api";

export const RANGES: Record<string, { span: number; step: string }> = {
  "15m": { span: 15 * 60_000, step: "10s" },
  "1h": { span: 3_600_000, step: "1m" },
  "24h": { span: 24 * 3_600_000, step: "10m" },
  "7d": { span: 7 * 24 * 3_600_000, step: "1h" },
  "30d": { span: 30 * 24 * 3_600_000, step: "6h" },
};

export function useUsage(scope: "cluster" | "projects" | "gpus", range: string) {
  return useQuery({
    queryKey: ["usage", scope, range],
    queryFn: () => {
      const r = RANGES[range];
      const from = new Date(Date.now() - r.span).toISOString();
      return api<UsageSeries>(`/api/v1/usage?scope=${scope}&from=${from}&step=${r.step}`);
    },
    refetchInterval: 10_000,
  });
}

// [time, value] pairs for one field of one series, for ECharts' time axis.
export function pairs(series: UsageSeries["series"][number] | undefined, field: "allocated" | "used" | "pending"): [number, number | null][] {
  return (series?.points ?? []).map((p) => [p.t, p[field]]);
}
