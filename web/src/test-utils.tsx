// Renders a component inside the app's providers, with fetch answered by
// `routes` (path prefix -> JSON body or a function of the request).
import type { ReactNode } from "react";
import { render } from "@testing-library/react";
import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router-dom";
import { vi } from "vitest";
import { AuthProvider } from "./auth";
import { theme } from "./theme";
import type { Workload } from "./api";

export type Route = unknown | ((url: string, init?: RequestInit) => { status: number; body: unknown });

export function mockFetch(routes: Record<string, Route>) {
  const calls: { url: string; init?: RequestInit }[] = [];
  vi.stubGlobal("fetch", async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    const key = Object.keys(routes).find((k) => url.startsWith(k));
    if (key === undefined) return new Response("{}", { status: 404 });
    const r = routes[key];
    const { status, body } = typeof r === "function" ? (r as (u: string, i?: RequestInit) => { status: number; body: unknown })(url, init) : { status: 200, body: r };
    return new Response(JSON.stringify(body), { status });
  });
  return calls;
}

export function renderWithProviders(ui: ReactNode, path = "/") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <MantineProvider theme={theme}>
      <QueryClientProvider client={client}>
        <MemoryRouter initialEntries={[path]} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
          <AuthProvider>{ui}</AuthProvider>
        </MemoryRouter>
      </QueryClientProvider>
    </MantineProvider>,
  );
}

// A workload as the API shows it, Pending unless `phase` says otherwise.
export function workload(id: number, over: Partial<Workload> & { phase?: Workload["status"]["phase"] } = {}): Workload {
  return {
    id,
    name: over.name ?? `w${id}`,
    project: over.project ?? "vision",
    user: "alice",
    spec: { priorityClass: "train", preemptible: true, pods: 1, gpu: 1, command: ["sleep", "1"] },
    status: {
      phase: over.phase ?? "Pending",
      submitted: "2026-12-01T10:00:00Z",
      placement: [],
      releasing: false,
      message: "",
      allocatedGpu: 0,
      usedGpu: null,
      reason: "waiting",
      queuePosition: 1,
    },
  };
}

