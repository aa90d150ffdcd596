// Every workload the caller can see, filtered by project, phase and type,
// in a virtualised table: only the rows on screen are in the DOM, so it
// scrolls smoothly with tens of thousands.
import { useMemo, useRef, useState } from "react";
import { Button, Group, Select, Text, TextInput, Title } from "@mantine/core";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useNavigate } from "react-router-dom";
import type { Workload } from "../api";
import { ErrorNote } from "../components/ErrorNote";
import { PhaseBadge } from "../components/PhaseBadge";
import { useNow } from "../hooks";
import { ageMs, duration, gpus, waitMs } from "../format";
import { useWorkloads } from "../watch";
import classes from "./Workloads.module.css";

export interface Filters {
  project: string | null;
  phase: string | null;
  type: string | null;
  text: string;
}

export function filterWorkloads(items: Workload[], f: Filters): Workload[] {
  const text = f.text.trim().toLowerCase();
  return items.filter(
    (w) =>
      (!f.project || w.project === f.project) &&
      (!f.phase || w.status.phase === f.phase) &&
      (!f.type || w.spec.priorityClass === f.type) &&
      (!text || w.name.toLowerCase().includes(text) || w.user.toLowerCase().includes(text)),
  );
}

export type SortKey = "name" | "project" | "type" | "phase" | "gpus" | "used" | "wait" | "age" | "queue" | "reason";
export interface Sort {
  key: SortKey;
  descending: boolean;
}

const COLUMNS: { key: SortKey; label: string }[] = [
  { key: "name", label: "Name" },
  { key: "project", label: "Project" },
  { key: "type", label: "Type" },
  { key: "phase", label: "Phase" },
  { key: "gpus", label: "GPUs" },
  { key: "used", label: "Used" },
  { key: "wait", label: "Wait" },
  { key: "age", label: "Age" },
  { key: "queue", label: "Queue" },
  { key: "reason", label: "Why it waits" },
];

// The value a column sorts by; unknown use sorts lowest.
function sortValue(w: Workload, key: SortKey, now: number): number | string {
  switch (key) {
    case "name": return w.name;
    case "project": return w.project;
    case "type": return w.spec.priorityClass;
    case "phase": return w.status.phase;
    case "gpus": return w.status.allocatedGpu;
    case "used": return w.status.usedGpu ?? -1;
    case "wait": return waitMs(w.status.submitted, w.status.started, now);
    case "age": return ageMs(w.status.submitted, now);
    case "queue": return w.status.queuePosition || Number.MAX_SAFE_INTEGER;
    case "reason": return w.status.reason;
  }
}

// Sorted by one column, ties in submission order; a new array.
export function sortWorkloads(items: Workload[], sort: Sort | null, now: number): Workload[] {
  if (!sort) return items;
  const sign = sort.descending ? -1 : 1;
  return [...items].sort((a, b) => {
    const x = sortValue(a, sort.key, now);
    const y = sortValue(b, sort.key, now);
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return c !== 0 ? sign * c : a.id - b.id;
  });
}

export function WorkloadTable({ items, now, sort, onSort }: { items: Workload[]; now: number; sort?: Sort | null; onSort?: (s: Sort) => void }) {
  const parent = useRef<HTMLDivElement>(null);
  const navigate = useNavigate();
  const rows = useVirtualizer({
    count: items.length,
    getScrollElement: () => parent.current,
    estimateSize: () => 36,
    overscan: 12,
    initialRect: { width: 1000, height: 600 },
  });
  return (
    <div className={classes.table} role="table" aria-rowcount={items.length} data-testid="workload-table">
      <div className={`${classes.row} ${classes.head}`} role="row">
        {COLUMNS.map((c) => (
          <div
            key={c.key}
            role="columnheader"
            aria-sort={sort?.key === c.key ? (sort.descending ? "descending" : "ascending") : "none"}
            className={onSort ? classes.sortable : undefined}
            onClick={() => onSort?.({ key: c.key, descending: sort?.key === c.key ? !sort.descending : false })}
          >
            {c.label}
            {sort?.key === c.key ? (sort.descending ? " ▼" : " ▲") : ""}
          </div>
        ))}
      </div>
      <div ref={parent} className={classes.body}>
        <div style={{ height: rows.getTotalSize(), position: "relative" }}>
          {rows.getVirtualItems().map((v) => {
            const w = items[v.index];
            return (
              <div
                key={w.id}
                role="row"
                data-testid={`row-${w.project}-${w.name}`}
                className={classes.row}
                style={{ position: "absolute", top: 0, left: 0, right: 0, height: v.size, transform: `translateY(${v.start}px)` }}
                onClick={() => navigate(`/workloads/${encodeURIComponent(w.project)}/${encodeURIComponent(w.name)}`)}
              >
                <div className={classes.name}>{w.name}</div>
                <div>{w.project}</div>
                <div>{w.spec.priorityClass}</div>
                <div>
                  <PhaseBadge phase={w.status.phase} releasing={w.status.releasing} />
                </div>
                <div>{gpus(w.status.allocatedGpu)}</div>
                <div>{gpus(w.status.usedGpu)}</div>
                <div>{duration(waitMs(w.status.submitted, w.status.started, now))}</div>
                <div>{duration(ageMs(w.status.submitted, now))}</div>
                <div>{w.status.queuePosition || ""}</div>
                <div className={classes.reason} title={w.status.reason}>
                  {w.status.reason}
                </div>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

export function WorkloadsPage() {
  const { data, error } = useWorkloads();
  const now = useNow(5000);
  const navigate = useNavigate();
  const [filters, setFilters] = useState<Filters>({ project: null, phase: null, type: null, text: "" });
  const items = useMemo(() => data ?? [], [data]);
  const projects = useMemo(() => [...new Set(items.map((w) => w.project))].sort(), [items]);
  const [sort, setSort] = useState<Sort | null>(null);
  const shown = useMemo(() => sortWorkloads(filterWorkloads(items, filters), sort, now), [items, filters, sort, now]);
  return (
    <>
      <Group justify="space-between" mb="sm">
        <Title order={2}>Workloads</Title>
        <Button onClick={() => navigate("/workloads/new")} data-testid="new-workload">
          Submit a workload
        </Button>
      </Group>
      <ErrorNote error={error} />
      <Group mb="sm" align="end">
        <Select label="Project" placeholder="all" data={projects} value={filters.project} clearable searchable
          onChange={(v) => setFilters({ ...filters, project: v })} data-testid="filter-project" />
        <Select label="Phase" placeholder="all" data={["Pending", "Running", "Succeeded", "Failed", "Suspended"]} value={filters.phase} clearable
          onChange={(v) => setFilters({ ...filters, phase: v })} data-testid="filter-phase" />
        <Select label="Type" placeholder="all" data={["train", "build", "build-preemptible", "inference"]} value={filters.type} clearable
          onChange={(v) => setFilters({ ...filters, type: v })} data-testid="filter-type" />
        <TextInput label="Name or user" value={filters.text} onChange={(e) => setFilters({ ...filters, text: e.currentTarget.value })} />
        <Text size="sm" c="dimmed" data-testid="count">
          {shown.length} of {items.length}
        </Text>
      </Group>
      <WorkloadTable items={shown} now={now} sort={sort} onSort={setSort} />
    </>
  );
}
