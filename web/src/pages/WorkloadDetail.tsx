// One workload: what it asked for, where it runs (which GPUs, which
// fraction), its events, its live log, and delete.
import { useEffect, useRef, useState } from "react";
import { Button, Card, Code, Grid, Group, Modal, ScrollArea, Stack, Table, Text, Timeline, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate, useParams } from "react-router-dom";
import { api, authHeaders, enc, type Workload } from "../api";
import { ErrorNote } from "../components/ErrorNote";
import { PhaseBadge } from "../components/PhaseBadge";
import { duration, gpus, waitMs } from "../format";
import { useNow } from "../hooks";
import { readStream } from "../sse";
import { useWorkloads, WORKLOADS } from "../watch";

interface WorkloadEvent {
  time: string;
  kind: string;
  message: string;
}

// Follows a pod's log while the workload runs (GET .../logs?follow=true).
function useLog(project: string, name: string, pod: number, phase: string | undefined) {
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  useEffect(() => {
    if (!phase || phase === "Pending") return;
    const abort = new AbortController();
    setText("");
    setError("");
    (async () => {
      const res = await fetch(`/api/v1/projects/${enc(project)}/workloads/${enc(name)}/logs?follow=true&pod=${pod}`, {
        headers: authHeaders(),
        signal: abort.signal,
      });
      if (!res.ok) {
        const body = await res.text();
        try {
          setError(JSON.parse(body).error.message);
        } catch {
          setError(body);
        }
        return;
      }
      await readStream(res, (chunk) => setText((t) => (t + chunk).slice(-200_000)));
    })().catch(() => {});
    return () => abort.abort();
  }, [project, name, pod, phase === "Pending" ? "Pending" : phase ? "started" : undefined]); // eslint-disable-line
  return { text, error };
}

export function WorkloadDetail() {
  const { project = "", name = "" } = useParams();
  const navigate = useNavigate();
  const client = useQueryClient();
  const now = useNow(2000);
  const list = useWorkloads();
  const fromList = list.data?.find((w) => w.project === project && w.name === name);
  const detail = useQuery({
    queryKey: ["workload", project, name, fromList?.status.phase],
    queryFn: () => api<Workload>(`/api/v1/projects/${enc(project)}/workloads/${enc(name)}`),
  });
  const w = fromList ?? detail.data;
  const events = useQuery({
    queryKey: ["events", project, name, w?.status.phase, w?.status.placement.length],
    queryFn: async () =>
      (await api<{ items: WorkloadEvent[] }>(`/api/v1/projects/${enc(project)}/workloads/${enc(name)}/events`)).items,
    enabled: !!w,
  });
  const [pod, setPod] = useState(0);
  const log = useLog(project, name, pod, w?.status.phase);
  const logBox = useRef<HTMLDivElement>(null);
  useEffect(() => {
    logBox.current?.scrollTo({ top: logBox.current.scrollHeight });
  }, [log.text]);
  const [confirm, setConfirm] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>(null);

  if (!w) return detail.error ? <ErrorNote error={detail.error} /> : <Text>Loading…</Text>;
  const remove = async () => {
    try {
      await api(`/api/v1/projects/${enc(project)}/workloads/${enc(name)}`, { method: "DELETE" });
      setConfirm(false);
      await client.invalidateQueries({ queryKey: WORKLOADS });
      navigate("/workloads");
    } catch (e) {
      setDeleteError(e);
    }
  };
  const s = w.status;
  return (
    <Stack>
      <Group justify="space-between">
        <Group>
          <Title order={2} data-testid="workload-title">
            {project}/{name}
          </Title>
          <PhaseBadge phase={s.phase} releasing={s.releasing} />
        </Group>
        <Button color="red" variant="light" onClick={() => setConfirm(true)} data-testid="delete">
          Delete
        </Button>
      </Group>
      <ErrorNote error={deleteError} />
      <Grid>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Card withBorder>
            <Title order={4} mb="xs">
              Request and state
            </Title>
            <Table>
              <Table.Tbody>
                {[
                  ["Submitted by", w.user],
                  ["Type", `${w.spec.priorityClass}${w.spec.preemptible ? ", preemptible" : ""}`],
                  ["Pods", String(w.spec.pods)],
                  ["GPU request", w.spec.gpuMemory ? `${w.spec.gpuMemory} × ${w.spec.gpuDevices ?? 1}` : w.spec.gpuDevices ? `${w.spec.gpu} × ${w.spec.gpuDevices}` : gpus(w.spec.gpu ?? 0)],
                  ["Command", w.spec.command.join(" ")],
                  ["Allocated / used", `${gpus(s.allocatedGpu)} / ${gpus(s.usedGpu)} GPUs`],
                  ["GPU memory in use", s.usedGpuMemory ?? "–"],
                  ["Waited", duration(waitMs(s.submitted, s.started, now))],
                  ["Queue position", s.queuePosition ? String(s.queuePosition) : "–"],
                  ["Why it waits", s.reason || "–"],
                  ["Message", s.message || "–"],
                  ["Isolation", s.isolation ?? detail.data?.status.isolation ?? "–"],
                ].map(([k, v]) => (
                  <Table.Tr key={k}>
                    <Table.Th w={150}>{k}</Table.Th>
                    <Table.Td data-testid={`field-${k}`}>{v}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Stack>
            <Card withBorder>
              <Title order={4} mb="xs">
                Placement
              </Title>
              {s.placement.length === 0 ? (
                <Text c="dimmed">Not placed.</Text>
              ) : (
                <Table data-testid="placement">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Pod</Table.Th>
                      <Table.Th>Node</Table.Th>
                      <Table.Th>GPUs</Table.Th>
                      <Table.Th>Share of each</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {s.placement.map((p, i) => (
                      <Table.Tr key={i}>
                        <Table.Td>{i}</Table.Td>
                        <Table.Td>{p.node}</Table.Td>
                        <Table.Td>{p.gpus.join(", ") || "–"}</Table.Td>
                        <Table.Td>{p.gpuFraction === undefined ? "–" : `${Math.round(p.gpuFraction * 100)}%`}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              )}
            </Card>
            <Card withBorder>
              <Title order={4} mb="xs">
                Events
              </Title>
              <Timeline bulletSize={14} lineWidth={2} data-testid="events">
                {(events.data ?? []).map((e, i) => (
                  <Timeline.Item key={i} title={e.kind}>
                    <Text size="sm">{e.message}</Text>
                    <Text size="xs" c="dimmed">
                      {new Date(e.time).toLocaleString()}
                    </Text>
                  </Timeline.Item>
                ))}
              </Timeline>
            </Card>
          </Stack>
        </Grid.Col>
      </Grid>
      <Card withBorder>
        <Group justify="space-between" mb="xs">
          <Title order={4}>Log</Title>
          {w.spec.pods > 1 && (
            <Group gap={4}>
              {Array.from({ length: Math.min(w.spec.pods, 16) }, (_, i) => (
                <Button key={i} size="compact-xs" variant={i === pod ? "filled" : "default"} onClick={() => setPod(i)}>
                  pod {i}
                </Button>
              ))}
            </Group>
          )}
        </Group>
        {log.error ? (
          <Text c="dimmed">{log.error}</Text>
        ) : (
          <ScrollArea h={260} viewportRef={logBox}>
            <Code block data-testid="log">
              {log.text || (s.phase === "Pending" ? "The log starts when the workload runs." : "")}
            </Code>
          </ScrollArea>
        )}
      </Card>
      <Modal opened={confirm} onClose={() => setConfirm(false)} title={`Delete ${name}?`}>
        <Text mb="md">
          {s.phase === "Running" ? "Its pods are stopped (SIGTERM, then SIGKILL) and it is removed once they exit." : "It is removed at once."}
        </Text>
        <Group justify="end">
          <Button variant="default" onClick={() => setConfirm(false)}>
            Cancel
          </Button>
          <Button color="red" onClick={remove} data-testid="confirm-delete">
            Delete
          </Button>
        </Group>
      </Modal>
    </Stack>
  );
}
