// Departments and their projects with quota, limit, over-quota weight, fair
// share and allocation, a chart of quota against fair share against
// allocation, and members. Admins edit quotas and members here; others see
// their own projects.
import { useMemo, useState } from "react";
import { ActionIcon, Badge, Button, Card, Group, Modal, NumberInput, SegmentedControl, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { api, enc, type Project, type QueueInfo } from "../api";
import { useAuth } from "../auth";
import { Chart } from "../components/Chart";
import { ErrorNote } from "../components/ErrorNote";
import { gpus, mib } from "../format";
import { useProjects, useQueues } from "../hooks";

type Member = { user: string; role: string };

type ResourceKey = "gpu" | "cpu" | "memory";
const UNITS: Record<ResourceKey, string> = { gpu: "GPUs", cpu: "CPU cores", memory: "memory (GiB)" };

// A resource amount as a number in the chart's unit (memory in GiB); -1 unlimited.
export function amount(v: number | string | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "number") return v;
  const m = mib(v);
  return m === null ? null : m / 1024;
}

function limitText(v: number | string | null | undefined) {
  const n = amount(v);
  if (n === null) return "–";
  return n < 0 ? "∞" : gpus(Math.round(n * 100) / 100);
}

// The quota editor of one queue (a department or a project).
// The request body's form of an amount: memory (typed in GiB) in MiB, like "65536Mi"; -1 as is.
function wire(resource: ResourceKey, v: number | string): number | string {
  const n = Number(v);
  return resource === "memory" && n >= 0 ? `${Math.round(n * 1024)}Mi` : n;
}

function EditQueue({ queue, project, resource, onClose }: { queue: QueueInfo; project?: Project; resource: ResourceKey; onClose: () => void }) {
  const client = useQueryClient();
  const current = queue.resources[resource];
  const [quota, setQuota] = useState<number | string>(amount(current.quota) ?? -1);
  const [limit, setLimit] = useState<number | string>(amount(current.limit) ?? -1);
  const [weight, setWeight] = useState<number | string>(current.overQuotaWeight);
  const [members, setMembers] = useState<Member[]>((project?.members as Member[] | undefined) ?? []);
  const [newUser, setNewUser] = useState("");
  const [newRole, setNewRole] = useState<string | null>("member");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const path = queue.kind === "project" ? `/api/v1/projects/${enc(queue.name)}` : `/api/v1/departments/${enc(queue.name)}`;
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = {
        [resource]: { quota: wire(resource, quota), limit: wire(resource, limit), overQuotaWeight: Number(weight) },
      };
      if (queue.kind === "project") body.members = members;
      await api(path, { method: "PATCH", body });
      await Promise.all([client.invalidateQueries({ queryKey: ["queues"] }), client.invalidateQueries({ queryKey: ["projects"] })]);
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack>
      <Group grow>
        <NumberInput label={`Quota (${UNITS[resource]})`} description="-1: unlimited" value={quota} onChange={setQuota} min={-1} step={0.5} decimalScale={3} data-testid="edit-quota" />
        <NumberInput label={`Limit (${UNITS[resource]})`} description="-1: no limit" value={limit} onChange={setLimit} min={-1} step={0.5} decimalScale={3} data-testid="edit-limit" />
        <NumberInput label="Over-quota weight" value={weight} onChange={setWeight} min={0} step={0.5} decimalScale={3} data-testid="edit-weight" />
      </Group>
      {queue.kind === "project" && (
        <>
          <Text fw={500}>Members</Text>
          {members.map((m) => (
            <Group key={m.user} justify="space-between">
              <Text>
                {m.user} <Badge variant="light">{m.role}</Badge>
              </Text>
              <ActionIcon variant="subtle" color="red" aria-label={`remove ${m.user}`} onClick={() => setMembers(members.filter((x) => x.user !== m.user))}>
                ×
              </ActionIcon>
            </Group>
          ))}
          <Group align="end">
            <TextInput label="User" value={newUser} onChange={(e) => setNewUser(e.currentTarget.value)} data-testid="member-user" />
            <Select label="Role" data={["member", "viewer"]} value={newRole} onChange={setNewRole} w={120} allowDeselect={false} />
            <Button variant="default" disabled={!newUser.trim()} data-testid="member-add"
              onClick={() => {
                setMembers([...members.filter((x) => x.user !== newUser.trim()), { user: newUser.trim(), role: newRole ?? "member" }]);
                setNewUser("");
              }}>
              Add
            </Button>
          </Group>
        </>
      )}
      <ErrorNote error={error} />
      <Group justify="end">
        <Button variant="default" onClick={onClose}>
          Cancel
        </Button>
        <Button onClick={save} loading={busy} data-testid="edit-save">
          Save
        </Button>
      </Group>
    </Stack>
  );
}

export default function Projects() {
  const { me } = useAuth();
  const queues = useQueues();
  const projects = useProjects();
  const [editing, setEditing] = useState<QueueInfo | null>(null);
  const [resource, setResource] = useState<ResourceKey>("gpu");
  const visible = useMemo(() => new Set((projects.data ?? []).map((p) => p.name)), [projects.data]);
  // Departments in order, each followed by its projects; top-level projects last.
  const rows = useMemo(() => {
    const all = queues.data ?? [];
    const mine = all.filter((q) => q.kind === "project" && (me?.admin || visible.has(q.name)));
    const out: QueueInfo[] = [];
    for (const d of all.filter((q) => q.kind === "department")) {
      const children = mine.filter((p) => p.parent === d.name);
      if (me?.admin || children.length) out.push(d, ...children);
    }
    out.push(...mine.filter((p) => !p.parent));
    return out;
  }, [queues.data, visible, me]);
  const projectRows = rows.filter((q) => q.kind === "project");
  const chart = {
    tooltip: { trigger: "axis" },
    legend: {},
    grid: { left: 40, right: 10, top: 30, bottom: 30 },
    xAxis: { type: "category", data: projectRows.map((q) => q.name) },
    yAxis: { type: "value", name: UNITS[resource] },
    series: (["quota", "fairShare", "allocated"] as const).map((field) => ({
      name: field === "fairShare" ? "fair share" : field,
      type: "bar",
      // Unlimited (-1) is drawn as nothing.
      data: projectRows.map((q) => Math.max(0, amount(q.resources[resource][field]) ?? 0)),
    })),
  };
  const membersOf = (name: string) => ((projects.data ?? []).find((p) => p.name === name)?.members as Member[] | undefined) ?? [];
  return (
    <Stack>
      <Title order={2}>Projects and quotas</Title>
      <ErrorNote error={queues.error ?? projects.error} />
      <Card withBorder>
        <Group justify="space-between">
          <Title order={4}>Quota, fair share and allocation ({UNITS[resource]})</Title>
          <SegmentedControl size="xs" value={resource} onChange={(v) => setResource(v as ResourceKey)} data-testid="resource"
            data={[{ value: "gpu", label: "GPU" }, { value: "cpu", label: "CPU" }, { value: "memory", label: "Memory" }]} />
        </Group>
        <Chart option={chart} testId="chart-quotas" />
      </Card>
      <Card withBorder>
        <Table data-testid="queue-table" highlightOnHover>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Department / project</Table.Th>
              <Table.Th>Quota ({UNITS[resource]})</Table.Th>
              <Table.Th>Limit</Table.Th>
              <Table.Th>Over-quota weight</Table.Th>
              <Table.Th>Fair share</Table.Th>
              <Table.Th>Allocated</Table.Th>
              <Table.Th>Running / pending</Table.Th>
              <Table.Th>Members</Table.Th>
              {me?.admin && <Table.Th />}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((q) => (
              <Table.Tr key={`${q.kind}-${q.name}`} data-testid={`queue-${q.name}`}>
                <Table.Td style={{ paddingLeft: q.kind === "project" && q.parent ? 28 : 8 }}>
                  <Text fw={q.kind === "department" ? 700 : 400}>{q.name}</Text>
                </Table.Td>
                <Table.Td data-testid="quota">{limitText(q.resources[resource].quota)}</Table.Td>
                <Table.Td>{limitText(q.resources[resource].limit)}</Table.Td>
                <Table.Td>{gpus(q.resources[resource].overQuotaWeight)}</Table.Td>
                <Table.Td>{limitText(q.resources[resource].fairShare)}</Table.Td>
                <Table.Td>{limitText(q.resources[resource].allocated)}</Table.Td>
                <Table.Td>
                  {q.running} / {q.pending}
                </Table.Td>
                <Table.Td>
                  {q.kind === "project" &&
                    membersOf(q.name).map((m) => (
                      <Badge key={m.user} variant="outline" mr={4} color={m.role === "viewer" ? "gray" : "blue"}>
                        {m.user}
                      </Badge>
                    ))}
                </Table.Td>
                {me?.admin && (
                  <Table.Td>
                    <Button size="compact-sm" variant="light" onClick={() => setEditing(q)} data-testid={`edit-${q.name}`}>
                      Edit
                    </Button>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        {!me?.admin && (
          <Text size="sm" c="dimmed" mt="sm">
            Only admins change quotas and members.
          </Text>
        )}
      </Card>
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={editing ? `Edit ${editing.kind} ${editing.name}: ${UNITS[resource]}` : ""} size="lg">
        {editing && (
          <EditQueue queue={editing} resource={resource} project={(projects.data ?? []).find((p) => p.name === editing.name)} onClose={() => setEditing(null)} />
        )}
      </Modal>
    </Stack>
  );
}
