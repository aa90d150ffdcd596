// Submitting a workload. As the user types, the form asks the server to
// check the request (POST ...?dryRun=true) and shows the server's own
// messages beside the fields they name.
import { useEffect, useMemo, useState } from "react";
import { Alert, Button, Card, Group, SegmentedControl, Select, Stack, Switch, Text, TextInput, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router-dom";
import { api, ApiError, enc, type Workload } from "../api";
import { useAuth } from "../auth";
import { useProjects } from "../hooks";
import { fieldErrors, INITIAL, requestBody, type FieldErrors, type GpuMode, type SubmitValues } from "../submit";
import { WORKLOADS } from "../watch";

function canSubmit(members: unknown, user: string): boolean {
  if (!Array.isArray(members)) return false;
  return members.some((m: { user: string; role: string }) => m.user === user && m.role === "member");
}

export function SubmitForm() {
  const { me } = useAuth();
  const navigate = useNavigate();
  const client = useQueryClient();
  const projects = useProjects();
  const [v, setV] = useState<SubmitValues>(INITIAL);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [warnings, setWarnings] = useState<string[]>([]);
  const [checked, setChecked] = useState(false);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof SubmitValues>(k: K, value: SubmitValues[K]) => setV((old) => ({ ...old, [k]: value }));

  const choices = useMemo(
    () => (projects.data ?? []).filter((p) => me?.admin || canSubmit(p.members, me?.user ?? "")).map((p) => p.name),
    [projects.data, me],
  );
  useEffect(() => {
    if (!v.project && choices.length) set("project", choices[0]);
  }, [choices, v.project]);

  // Validate through the server, 300 ms after the last keystroke.
  const body = useMemo(() => requestBody(v), [v]);
  useEffect(() => {
    if (!v.project || (!v.name && !v.command)) return;
    setChecked(false);
    const t = setTimeout(async () => {
      try {
        const r = await api<{ warnings: string[] }>(`/api/v1/projects/${enc(v.project!)}/workloads?dryRun=true`, {
          method: "POST",
          body,
        });
        setErrors({});
        setWarnings(r.warnings);
      } catch (e) {
        setWarnings([]);
        setErrors(e instanceof ApiError ? fieldErrors(e.message) : { form: String(e) });
      } finally {
        setChecked(true);
      }
    }, 300);
    return () => clearTimeout(t);
  }, [body, v.project, v.name, v.command]);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!v.project) return;
    setBusy(true);
    try {
      const w = await api<Workload>(`/api/v1/projects/${enc(v.project)}/workloads`, { method: "POST", body });
      await client.invalidateQueries({ queryKey: WORKLOADS });
      navigate(`/workloads/${enc(w.project)}/${enc(w.name)}`);
    } catch (err) {
      setErrors(err instanceof ApiError ? fieldErrors(err.message) : { form: String(err) });
    } finally {
      setBusy(false);
    }
  };
  const hasErrors = Object.keys(errors).length > 0;
  return (
    <Card withBorder maw={720}>
      <form onSubmit={submit}>
        <Stack>
          <Title order={2}>Submit a workload</Title>
          <Group grow>
            <TextInput label="Name" value={v.name} onChange={(e) => set("name", e.currentTarget.value)} error={errors.name} data-testid="name" required />
            <Select label="Project" data={choices} value={v.project} onChange={(p) => set("project", p)} error={errors.project} data-testid="project"
              allowDeselect={false} nothingFoundMessage="You are not a member of any project" />
          </Group>
          <TextInput label="Command" description="As in a shell: python train.py --lr 3e-4 (quotes group words)" value={v.command}
            onChange={(e) => set("command", e.currentTarget.value)} error={errors.command} data-testid="command" required />
          <div>
            <Text size="sm" fw={500} mb={4}>
              GPUs
            </Text>
            <SegmentedControl value={v.gpuMode} onChange={(m) => set("gpuMode", m as GpuMode)} data-testid="gpu-mode"
              data={[{ value: "whole", label: "Whole GPUs" }, { value: "fraction", label: "Fraction" }, { value: "memory", label: "GPU memory" }, { value: "none", label: "None" }]} />
          </div>
          <Group grow>
            {v.gpuMode === "whole" && <TextInput label="GPUs" value={v.gpu} onChange={(e) => set("gpu", e.currentTarget.value)} error={errors.gpu} data-testid="gpu" />}
            {v.gpuMode === "fraction" && <TextInput label="Fraction of each GPU" placeholder="0.25" value={v.gpu} onChange={(e) => set("gpu", e.currentTarget.value)} error={errors.gpu} data-testid="gpu" />}
            {v.gpuMode === "memory" && <TextInput label="GPU memory per device" placeholder="20Gi" value={v.gpuMemory} onChange={(e) => set("gpuMemory", e.currentTarget.value)} error={errors.gpuMemory} data-testid="gpu-memory" />}
            {(v.gpuMode === "fraction" || v.gpuMode === "memory") && <TextInput label="Devices" value={v.gpuDevices} onChange={(e) => set("gpuDevices", e.currentTarget.value)} error={errors.gpuDevices} data-testid="gpu-devices" />}
            <TextInput label="Pods" value={v.pods} onChange={(e) => set("pods", e.currentTarget.value)} error={errors.pods} data-testid="pods" />
          </Group>
          <Group>
            <Switch label="Interactive (build class: not preempted by default)" checked={v.interactive} data-testid="interactive"
              onChange={(e) => { const on = e.currentTarget.checked; setV((o) => ({ ...o, interactive: on, preemptible: !on })); }} error={errors.interactive} />
            <Switch label="Preemptible" checked={v.preemptible} onChange={(e) => set("preemptible", e.currentTarget.checked)} error={errors.preemptible} data-testid="preemptible" />
          </Group>
          {errors.form && <Alert color="red" data-testid="form-error" style={{ whiteSpace: "pre-line" }}>{errors.form}</Alert>}
          {warnings.map((w) => <Alert key={w} color="yellow" data-testid="warning">{w}</Alert>)}
          <Group justify="space-between">
            <Text size="sm" c={hasErrors ? "red" : "dimmed"} data-testid="check-state">
              {!checked ? "" : hasErrors ? "The server refuses this request as it is." : "The server accepts this request."}
            </Text>
            <Button type="submit" loading={busy} disabled={!v.project || hasErrors} data-testid="submit">
              Submit
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}
