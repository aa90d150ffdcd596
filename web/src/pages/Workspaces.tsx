// Workspaces: JupyterLab (or a web app) on a share of a GPU. Create one
// with a GPU size (sizes that cannot start now are greyed out, with why),
// open it in a new tab (a one-use link signs the tab in), stop and start
// it, and see which are idle. See docs/workspaces.md.
import { useEffect, useMemo, useState } from "react";
import { Badge, Button, Card, Group, SegmentedControl, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, enc } from "../api";
import { useAuth } from "../auth";
import { ErrorNote } from "../components/ErrorNote";
import { PhaseBadge } from "../components/PhaseBadge";
import { useNodes, useProjects, useQueues } from "../hooks";
import { sizeOptions, stateText, type Workspace } from "../workspaces";

const WORKSPACES = ["workspaces"];

function canAct(members: unknown, user: string): boolean {
  if (!Array.isArray(members)) return false;
  return members.some((m: { user: string; role: string }) => m.user === user && m.role === "member");
}

function CreateWorkspace({ projects }: { projects: string[] }) {
  const client = useQueryClient();
  const nodes = useNodes();
  const queues = useQueues();
  const [name, setName] = useState("");
  const [project, setProject] = useState<string | null>(null);
  const [kind, setKind] = useState("jupyter");
  const [command, setCommand] = useState("");
  const [port, setPort] = useState("");
  const [size, setSize] = useState("0.25");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!project && projects.length) setProject(projects[0]);
  }, [projects, project]);
  const queue = queues.data?.find((q) => q.kind === "project" && q.name === project);
  const options = useMemo(() => sizeOptions(nodes.data ?? [], queue), [nodes.data, queue]);
  const chosen = options.find((o) => o.value === size);
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!project) return;
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { name };
      if (kind === "jupyter") body.jupyter = true;
      else {
        body.command = ["sh", "-c", command];
        body.port = Number(port);
      }
      if (Number(size) > 0) body.gpu = Number(size);
      await api(`/api/v1/projects/${enc(project)}/workspaces`, { method: "POST", body });
      setName("");
      // The sizes left change with it.
      await Promise.all([WORKSPACES, ["queues"], ["nodes"]].map((queryKey) => client.invalidateQueries({ queryKey })));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card withBorder maw={760}>
      <form onSubmit={create}>
        <Stack>
          <Title order={3}>New workspace</Title>
          <Group grow>
            <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} data-testid="ws-name" required />
            <Select label="Project" data={projects} value={project} onChange={setProject} allowDeselect={false} data-testid="ws-project"
              nothingFoundMessage="You are not a member of any project" />
          </Group>
          <SegmentedControl value={kind} onChange={setKind} data={[{ value: "jupyter", label: "JupyterLab" }, { value: "command", label: "Another web app" }]} />
          {kind === "command" && (
            <Group grow>
              <TextInput label="Command" description="Serves HTTP on 127.0.0.1:PORT (code-server, tensorboard, ...)" value={command}
                onChange={(e) => setCommand(e.currentTarget.value)} required />
              <TextInput label="Port" value={port} onChange={(e) => setPort(e.currentTarget.value)} required />
            </Group>
          )}
          <div>
            <Text size="sm" fw={500} mb={4}>
              GPU
            </Text>
            <SegmentedControl value={size} onChange={setSize} data-testid="ws-gpu"
              data={options.map((o) => ({ value: o.value, label: o.label, disabled: o.disabled }))} />
            {options.filter((o) => o.disabled).length > 0 && (
              <Stack gap={2} mt={6} data-testid="ws-gpu-why">
                {options.filter((o) => o.disabled).map((o) => (
                  <Text key={o.value} size="xs" c="dimmed">
                    {o.label}: {o.why}
                  </Text>
                ))}
              </Stack>
            )}
          </div>
          <ErrorNote error={error} />
          <Group justify="flex-end">
            <Button type="submit" loading={busy} disabled={!project || !name || chosen?.disabled} data-testid="ws-create">
              Create
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function Row({ w, mayAct }: { w: Workspace; mayAct: boolean }) {
  const client = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const path = `/api/v1/projects/${enc(w.project)}/workspaces/${enc(w.name)}`;
  const act = async (what: "stop" | "start" | "delete") => {
    setError(null);
    try {
      await api(what === "delete" ? path : `${path}/${what}`, { method: what === "delete" ? "DELETE" : "POST" });
      await client.invalidateQueries({ queryKey: WORKSPACES });
    } catch (err) {
      setError(err);
    }
  };
  // The tab opens now (a browser lets a click open it), the link follows.
  const open = async () => {
    const tab = window.open("", "_blank");
    try {
      const r = await api<{ openUrl: string }>(`${path}/open`, { method: "POST" });
      if (tab) tab.location.href = r.openUrl;
      else window.location.href = r.openUrl;
    } catch (err) {
      tab?.close();
      setError(err);
    }
  };
  const running = w.phase === "Running" && !w.stopping;
  const active = w.phase === "Running" || w.phase === "Pending";
  return (
    <Table.Tr data-testid="ws-row">
      <Table.Td>{w.name}</Table.Td>
      <Table.Td>{w.project}</Table.Td>
      <Table.Td>{w.kind === "jupyter" ? "JupyterLab" : "web app"}</Table.Td>
      <Table.Td>
        <Group gap={4}>
          <PhaseBadge phase={w.phase} releasing={w.stopping} />
          {w.phase === "Running" && w.idle?.idle && (
            <Badge color="gray" variant="outline" data-testid="ws-idle" title={w.idle.suspendsAt ? `suspended at ${w.idle.suspendsAt} if nothing happens` : undefined}>
              {stateText(w)}
            </Badge>
          )}
        </Group>
      </Table.Td>
      <Table.Td>{w.gpuMemory ?? (w.gpu ?? 0)}</Table.Td>
      <Table.Td>
        <Text size="xs">{w.phase === "Pending" ? `#${w.queuePosition} ${w.reason}` : w.message}</Text>
        {error ? <ErrorNote error={error} /> : null}
      </Table.Td>
      <Table.Td>
        {mayAct && (
          <Group gap={4} wrap="nowrap">
            <Button size="xs" disabled={!running} onClick={open} data-testid="ws-open">
              Open
            </Button>
            {active ? (
              <Button size="xs" variant="light" disabled={w.stopping} onClick={() => act("stop")} data-testid="ws-stop">
                Stop
              </Button>
            ) : (
              <Button size="xs" variant="light" onClick={() => act("start")} data-testid="ws-start">
                Start
              </Button>
            )}
            <Button size="xs" variant="subtle" color="red" onClick={() => act("delete")}>
              Delete
            </Button>
          </Group>
        )}
      </Table.Td>
    </Table.Tr>
  );
}

export function WorkspacesPage() {
  const { me } = useAuth();
  const projects = useProjects();
  const list = useQuery({
    queryKey: WORKSPACES,
    queryFn: async () => (await api<{ items: Workspace[] }>("/api/v1/workspaces")).items,
    refetchInterval: 3_000,
  });
  const mine = useMemo(
    () => (projects.data ?? []).filter((p) => me?.admin || canAct(p.members, me?.user ?? "")).map((p) => p.name),
    [projects.data, me],
  );
  return (
    <Stack>
      <Title order={2}>Workspaces</Title>
      <ErrorNote error={list.error} title="Could not load the workspaces" />
      <Table striped data-testid="ws-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Project</Table.Th>
            <Table.Th>Kind</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>GPU</Table.Th>
            <Table.Th>Why</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(list.data ?? []).map((w) => (
            <Row key={w.id} w={w} mayAct={mine.includes(w.project)} />
          ))}
        </Table.Tbody>
      </Table>
      {list.data && list.data.length === 0 && <Text c="dimmed">No workspaces yet.</Text>}
      {mine.length > 0 && <CreateWorkspace projects={mine} />}
    </Stack>
  );
}
