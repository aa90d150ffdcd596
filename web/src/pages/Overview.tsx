// The cluster at a glance: GPUs total, allocated and used; running and
// pending workloads; allocation by project; allocation against use over
// time; and the workloads that have waited longest, with why.
import { useEffect, useMemo, useState } from "react";
import { Card, Grid, Group, SegmentedControl, SimpleGrid, Table, Text, Title } from "@mantine/core";
import { Link } from "react-router-dom";
import { Chart } from "../components/Chart";
import { ErrorNote } from "../components/ErrorNote";
import { duration, gpus, waitMs } from "../format";
import { useAuth } from "../auth";
import { useNodes, useNow, useProjects, useQueues } from "../hooks";
import { pairs, RANGES, useUsage } from "../usage";
import { useWorkloads } from "../watch";

function Stat({ label, value, note, testId }: { label: string; value: string; note?: string; testId: string }) {
  return (
    <Card withBorder padding="md">
      <Text size="xs" tt="uppercase" c="dimmed" fw={600}>
        {label}
      </Text>
      <Text fz={28} fw={700} data-testid={testId}>
        {value}
      </Text>
      {note && (
        <Text size="xs" c="dimmed">
          {note}
        </Text>
      )}
    </Card>
  );
}

export default function Overview() {
  const nodes = useNodes();
  const queues = useQueues();
  const mine = useProjects();
  const { me } = useAuth();
  const workloads = useWorkloads();
  const now = useNow(5000);
  const [range, setRange] = useState("1h");
  const usage = useUsage("cluster", range);
  // Marks when the first figures are on screen: the initial load the e2e test measures.
  useEffect(() => {
    if (nodes.data && performance.getEntriesByName("sluice:figures").length === 0) performance.mark("sluice:figures");
  }, [nodes.data]);

  const totals = useMemo(() => {
    let total = 0;
    let allocated = 0;
    let used: number | null = null;
    for (const n of nodes.data ?? []) {
      total += n.gpuCount;
      allocated += n.allocatedGpu;
      for (const g of n.gpus) if (g.utilization !== null) used = (used ?? 0) + g.utilization;
    }
    return { total, allocated, used };
  }, [nodes.data]);
  const items = workloads.data ?? [];
  const running = items.filter((w) => w.status.phase === "Running").length;
  const pending = items.filter((w) => w.status.phase === "Pending");
  const waiting = [...pending].sort((a, b) => Date.parse(a.status.submitted) - Date.parse(b.status.submitted)).slice(0, 8);
  // Admins see every project; others the projects they belong to.
  const visible = useMemo(() => new Set((mine.data ?? []).map((p) => p.name)), [mine.data]);
  const projects = (queues.data ?? []).filter((q) => q.kind === "project" && (me?.admin || visible.has(q.name)));

  const byProject = {
    tooltip: { trigger: "axis" },
    grid: { left: 40, right: 10, top: 30, bottom: 30 },
    legend: {},
    xAxis: { type: "category", data: projects.map((p) => p.name) },
    yAxis: { type: "value", name: "GPUs" },
    series: [
      { name: "allocated", type: "bar", data: projects.map((p) => p.allocatedGpu) },
      { name: "quota", type: "bar", data: projects.map((p) => Math.max(0, p.gpuQuota)) },
    ],
  };
  // Each point is a bucket's average, drawn flat across the bucket.
  const cluster = usage.data?.series[0];
  const overTime = {
    tooltip: { trigger: "axis" },
    legend: {},
    grid: { left: 40, right: 10, top: 30, bottom: 30 },
    xAxis: { type: "time" },
    yAxis: { type: "value", name: "GPUs" },
    series: [
      { name: "allocated", type: "line", step: "start", showSymbol: false, areaStyle: { opacity: 0.15 }, data: pairs(cluster, "allocated") },
      { name: "used", type: "line", step: "start", showSymbol: false, data: pairs(cluster, "used") },
      { name: "pending demand", type: "line", step: "start", showSymbol: false, lineStyle: { type: "dashed" }, data: pairs(cluster, "pending") },
    ],
  };
  return (
    <>
      <Title order={2} mb="sm">
        Overview
      </Title>
      <ErrorNote error={nodes.error ?? workloads.error} />
      <SimpleGrid cols={{ base: 2, md: 5 }} mb="md">
        <Stat label="GPUs" value={String(totals.total)} note={`${(nodes.data ?? []).length} ${(nodes.data ?? []).length === 1 ? "node" : "nodes"}`} testId="stat-total" />
        <Stat label="Allocated" value={gpus(totals.allocated)} note={totals.total ? `${Math.round((totals.allocated / totals.total) * 100)}% of all` : ""} testId="stat-allocated" />
        <Stat label="Actually used" value={totals.used === null ? "–" : gpus(Math.round(totals.used * 100) / 100)} note={totals.used === null ? "not measured (simulated GPUs)" : "measured utilisation"} testId="stat-used" />
        <Stat label="Running" value={String(running)} testId="stat-running" />
        <Stat label="Pending" value={String(pending.length)} testId="stat-pending" />
      </SimpleGrid>
      <Grid>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <Card withBorder>
            <Group justify="space-between">
              <Title order={4}>Allocation vs utilisation</Title>
              <SegmentedControl size="xs" value={range} onChange={setRange} data={Object.keys(RANGES)} />
            </Group>
            <Chart option={overTime} testId="chart-over-time" />
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Card withBorder>
            <Title order={4}>Allocation by project</Title>
            <Chart option={byProject} testId="chart-by-project" />
          </Card>
        </Grid.Col>
      </Grid>
      <Card withBorder mt="md">
        <Title order={4} mb="xs">
          Longest waiting
        </Title>
        {waiting.length === 0 ? (
          <Text c="dimmed">Nothing is waiting.</Text>
        ) : (
          <Table data-testid="longest-waiting">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Workload</Table.Th>
                <Table.Th>Waiting</Table.Th>
                <Table.Th>Queue</Table.Th>
                <Table.Th>Why</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {waiting.map((w) => (
                <Table.Tr key={w.id}>
                  <Table.Td>
                    <Link to={`/workloads/${encodeURIComponent(w.project)}/${encodeURIComponent(w.name)}`}>
                      {w.project}/{w.name}
                    </Link>
                  </Table.Td>
                  <Table.Td>{duration(waitMs(w.status.submitted, undefined, now))}</Table.Td>
                  <Table.Td>{w.status.queuePosition || ""}</Table.Td>
                  <Table.Td>{w.status.reason}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
    </>
  );
}
