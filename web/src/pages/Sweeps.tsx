// Hyperparameter sweeps (docs/sweeps.md): the list, and one sweep's page
// with its best trial, the budget left, the trials table and the metric
// against step for every trial.
import { useMemo } from "react";
import { Badge, Card, Group, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router-dom";
import { api } from "../api";
import { Chart } from "../components/Chart";
import { ErrorNote } from "../components/ErrorNote";

export type SweepState = "Running" | "Succeeded" | "Failed" | "Stopped";
export type TrialState = "Pending" | "Running" | "Succeeded" | "Failed" | "EarlyStopped" | "Stopped";

export interface Trial {
  index: number;
  parameters: Record<string, number | string | boolean>;
  state: TrialState;
  workload: string | null;
  best: number | null;
  last: number | null;
  steps: number;
  restarts: number;
  message: string;
  history?: { step: number; time: string; metrics: Record<string, number> }[];
}

export interface Sweep {
  id: number;
  name: string;
  project: string;
  user: string;
  state: SweepState;
  metric: { name: string; goal: "minimize" | "maximize" };
  spec: { method: string; budget: { maxTrials: number; parallelism: number; maxFailures: number }; earlyStopping: { type: string } };
  seed: number;
  status: {
    message: string;
    trialsCreated: number;
    inFlight: number;
    peakInFlight: number;
    failures: number;
    budgetLeft: { trials: number; failures: number };
  };
  best: { trial: number; parameters: Record<string, number | string | boolean>; value: number; workload: string } | null;
  trials?: Trial[];
}

const STATE_COLOURS: Record<string, string> = {
  Pending: "yellow",
  Running: "green",
  Succeeded: "gray",
  Failed: "red",
  EarlyStopped: "violet",
  Stopped: "orange",
};

function StateBadge({ state }: { state: string }) {
  return (
    <Badge color={STATE_COLOURS[state] ?? "gray"} variant="light" data-testid="sweep-state">
      {state}
    </Badge>
  );
}

export function value(v: number | string | boolean | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
  return String(v);
}

export function paramsText(p: Record<string, number | string | boolean>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(" ");
}

// The chart: one line per trial, the sweep's metric against step.
export function curveOption(sweep: Sweep) {
  const metric = sweep.metric.name;
  return {
    tooltip: { trigger: "item" },
    legend: { type: "scroll", top: 0 },
    grid: { top: 36, left: 50, right: 20, bottom: 30 },
    xAxis: { type: "value", name: "step", minInterval: 1 },
    yAxis: { type: "value", name: metric, scale: true },
    series: (sweep.trials ?? []).map((t) => ({
      name: `#${t.index}`,
      type: "line",
      showSymbol: false,
      lineStyle: { width: sweep.best?.trial === t.index ? 3 : 1 },
      data: (t.history ?? []).filter((h) => metric in h.metrics).map((h) => [h.step, h.metrics[metric]]),
    })),
  };
}

export function SweepTrials({ sweep }: { sweep: Sweep }) {
  return (
    <Table striped data-testid="trials-table">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>#</Table.Th>
          <Table.Th>State</Table.Th>
          <Table.Th>Parameters</Table.Th>
          <Table.Th>Last</Table.Th>
          <Table.Th>Best</Table.Th>
          <Table.Th>Steps</Table.Th>
          <Table.Th>Restarts</Table.Th>
          <Table.Th>Workload</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {(sweep.trials ?? []).map((t) => (
          <Table.Tr key={t.index} data-testid={`trial-${t.index}`} fw={sweep.best?.trial === t.index ? 700 : undefined}>
            <Table.Td>{t.index}</Table.Td>
            <Table.Td title={t.message}>
              <StateBadge state={t.state} />
            </Table.Td>
            <Table.Td>{paramsText(t.parameters)}</Table.Td>
            <Table.Td>{value(t.last)}</Table.Td>
            <Table.Td>{value(t.best)}</Table.Td>
            <Table.Td>{t.steps}</Table.Td>
            <Table.Td>{t.restarts}</Table.Td>
            <Table.Td>{t.workload ? <Link to={`/workloads/${sweep.project}/${t.workload}`}>{t.workload}</Link> : "–"}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

export function SweepDetail() {
  const { project = "", name = "" } = useParams();
  const q = useQuery({
    queryKey: ["sweep", project, name],
    queryFn: () => api<Sweep>(`/api/v1/projects/${encodeURIComponent(project)}/sweeps/${encodeURIComponent(name)}`),
    refetchInterval: 2_000,
  });
  const option = useMemo(() => (q.data ? curveOption(q.data) : null), [q.data]);
  if (q.error) return <ErrorNote error={q.error} />;
  const s = q.data;
  if (!s) return null;
  return (
    <Stack>
      <Group>
        <Title order={2}>
          Sweep {s.project}/{s.name}
        </Title>
        <StateBadge state={s.state} />
      </Group>
      {s.status.message && <Text c="dimmed">{s.status.message}</Text>}
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <Card withBorder data-testid="sweep-best">
          <Text size="sm" c="dimmed">
            Best {s.metric.name} ({s.metric.goal})
          </Text>
          {s.best ? (
            <>
              <Text size="xl" fw={700}>
                {value(s.best.value)}
              </Text>
              <Text size="sm">
                trial {s.best.trial}: {paramsText(s.best.parameters)}
              </Text>
            </>
          ) : (
            <Text>none yet</Text>
          )}
        </Card>
        <Card withBorder data-testid="sweep-budget">
          <Text size="sm" c="dimmed">
            Trials
          </Text>
          <Text size="xl" fw={700}>
            {s.status.trialsCreated} / {s.spec.budget.maxTrials}
          </Text>
          <Text size="sm">
            {s.status.budgetLeft.trials} left, {s.status.inFlight} in flight (at most {s.spec.budget.parallelism})
          </Text>
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            Search
          </Text>
          <Text size="xl" fw={700}>
            {s.spec.method}
          </Text>
          <Text size="sm">
            early stopping {s.spec.earlyStopping.type}; {s.status.failures} failed ({s.status.budgetLeft.failures} more allowed)
          </Text>
        </Card>
      </SimpleGrid>
      <Card withBorder>
        <Text fw={600} mb="xs">
          {s.metric.name} against step, per trial
        </Text>
        {option && <Chart option={option} height={320} testId="chart-sweep-curves" />}
      </Card>
      <SweepTrials sweep={s} />
    </Stack>
  );
}

export function SweepList() {
  const q = useQuery({
    queryKey: ["sweeps"],
    queryFn: async () => (await api<{ items: Sweep[] }>("/api/v1/sweeps")).items,
    refetchInterval: 3_000,
  });
  if (q.error) return <ErrorNote error={q.error} />;
  const items = q.data ?? [];
  return (
    <Stack>
      <Title order={2}>Sweeps</Title>
      {items.length === 0 ? (
        <Text c="dimmed">No sweeps. Submit one with `sluice sweep submit -f sweep.yaml`.</Text>
      ) : (
        <Table striped data-testid="sweeps-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Project</Table.Th>
              <Table.Th>Name</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Method</Table.Th>
              <Table.Th>Trials</Table.Th>
              <Table.Th>In flight</Table.Th>
              <Table.Th>Best</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((s) => (
              <Table.Tr key={s.id} data-testid={`sweep-${s.project}-${s.name}`}>
                <Table.Td>{s.project}</Table.Td>
                <Table.Td>
                  <Link to={`/sweeps/${s.project}/${s.name}`}>{s.name}</Link>
                </Table.Td>
                <Table.Td>
                  <StateBadge state={s.state} />
                </Table.Td>
                <Table.Td>{s.spec.method}</Table.Td>
                <Table.Td>
                  {s.status.trialsCreated} / {s.spec.budget.maxTrials}
                </Table.Td>
                <Table.Td>
                  {s.status.inFlight} / {s.spec.budget.parallelism}
                </Table.Td>
                <Table.Td>{s.best ? `${value(s.best.value)} (${paramsText(s.best.parameters)})` : "–"}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
