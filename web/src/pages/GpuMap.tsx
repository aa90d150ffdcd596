// Every node and GPU: each GPU drawn as its shares (which workload holds
// how much of it), with memory in use against what the shares may use and
// measured utilisation; MIG instances where the device is partitioned.
import { Badge, Card, Group, Progress, SimpleGrid, Stack, Text, Title, Tooltip } from "@mantine/core";
import type { NodeInfo } from "../api";
import { ErrorNote } from "../components/ErrorNote";
import { colourOf, gpus, memoryText, mib, percent } from "../format";
import { useNodes } from "../hooks";

type Gpu = NodeInfo["gpus"][number];

export function GpuCard({ node, gpu }: { node: string; gpu: Gpu }) {
  const total = mib(gpu.memory);
  const used = gpu.shares.reduce<number | null>((sum, s) => {
    const m = mib(s.usedGpuMemory);
    return m === null ? sum : (sum ?? 0) + m;
  }, null);
  const limit = total === null || gpu.shares.length === 0 ? null : gpu.shares.reduce((sum, s) => sum + s.gpuFraction * total, 0);
  const free = Math.max(0, 1 - gpu.allocated);
  return (
    <Card withBorder padding="sm" data-testid={`gpu-${node}-${gpu.index}`}>
      <Group justify="space-between" mb={6}>
        <Text fw={600}>GPU {gpu.index}</Text>
        <Text size="xs" c="dimmed">
          {gpu.model} · {gpu.memory ?? "memory unknown"}
        </Text>
      </Group>
      <Progress.Root size={28} radius="sm" data-testid="shares">
        {gpu.shares.map((s, i) => (
          <Tooltip key={`${s.workload}-${i}`} label={`${s.workload}: ${Math.round(s.gpuFraction * 100)}%`}>
            <Progress.Section value={s.gpuFraction * 100} color={colourOf(s.workload)} data-testid="share" data-workload={s.workload}>
              <Progress.Label>{s.workload.split("/")[1]}</Progress.Label>
            </Progress.Section>
          </Tooltip>
        ))}
        {free > 0 && <Progress.Section value={free * 100} color="gray.2" />}
      </Progress.Root>
      <Stack gap={2} mt={8}>
        <Text size="xs">
          Allocated {gpus(gpu.allocated)} · {gpu.shares.length} {gpu.shares.length === 1 ? "workload" : "workloads"}
        </Text>
        <Text size="xs">
          {limit === null
            ? `Memory: ${memoryText(total)} on the device, none allocated`
            : `Memory used ${memoryText(used)} of ${memoryText(limit)} allowed (${memoryText(total)} on the device)`}
        </Text>
        <Group gap={6}>
          <Text size="xs">Utilisation {percent(gpu.utilization)}</Text>
          {gpu.utilization !== null && <Progress value={gpu.utilization * 100} size="sm" style={{ flex: 1 }} color="teal" />}
        </Group>
        {gpu.mig.length > 0 && (
          <Group gap={4}>
            <Text size="xs">MIG instances:</Text>
            {gpu.mig.map((m) => (
              <Badge key={m.uuid} size="xs" variant="outline" title={m.uuid} data-testid="mig">
                {memoryText(mib(m.memory))}
              </Badge>
            ))}
          </Group>
        )}
      </Stack>
    </Card>
  );
}

export function GpuMap() {
  const nodes = useNodes();
  return (
    <Stack>
      <Title order={2}>GPU map</Title>
      <ErrorNote error={nodes.error} />
      {(nodes.data ?? []).map((n) => (
        <Card key={n.name} withBorder>
          <Group justify="space-between" mb="sm">
            <Group>
              <Title order={4}>{n.name}</Title>
              {n.simulated && <Badge variant="light">simulated</Badge>}
            </Group>
            <Text size="sm">
              {gpus(n.allocatedGpu)} of {n.gpuCount} GPUs allocated
            </Text>
          </Group>
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
            {n.gpus.map((g) => (
              <GpuCard key={g.index} node={n.name} gpu={g} />
            ))}
          </SimpleGrid>
        </Card>
      ))}
    </Stack>
  );
}
