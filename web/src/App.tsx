// The app's frame: sign-in until there is a token, then the navigation and
// the pages. The chart library loads on demand (see components/Chart.tsx).
import { lazy, Suspense, useEffect } from "react";
import { AppShell, Badge, Button, Center, Group, Loader, NavLink, Text, Title } from "@mantine/core";
import { Link, Navigate, Route, Routes, useLocation } from "react-router-dom";
import { useAuth } from "./auth";
import { useWorkloadWatch } from "./watch";
import { SignIn } from "./pages/SignIn";
import Overview from "./pages/Overview";

// The first page comes with the app; the others load when first opened,
// or in the background a second after sign-in.
const pages = {
  workloads: () => import("./pages/Workloads"),
  detail: () => import("./pages/WorkloadDetail"),
  submit: () => import("./pages/SubmitForm"),
  gpus: () => import("./pages/GpuMap"),
  projects: () => import("./pages/Projects"),
  chargeback: () => import("./pages/Chargeback"),
  sweeps: () => import("./pages/Sweeps"),
  workspaces: () => import("./pages/Workspaces"),
};
const WorkloadsPage = lazy(() => pages.workloads().then((m) => ({ default: m.WorkloadsPage })));
const WorkloadDetail = lazy(() => pages.detail().then((m) => ({ default: m.WorkloadDetail })));
const SubmitForm = lazy(() => pages.submit().then((m) => ({ default: m.SubmitForm })));
const GpuMap = lazy(() => pages.gpus().then((m) => ({ default: m.GpuMap })));
const Projects = lazy(pages.projects);
const ChargebackPage = lazy(pages.chargeback);
const SweepList = lazy(() => pages.sweeps().then((m) => ({ default: m.SweepList })));
const SweepDetail = lazy(() => pages.sweeps().then((m) => ({ default: m.SweepDetail })));
const WorkspacesPage = lazy(() => pages.workspaces().then((m) => ({ default: m.WorkspacesPage })));

function preloadPages() {
  for (const load of Object.values(pages)) void load();
}

const NAV = [
  { to: "/", label: "Overview" },
  { to: "/workloads", label: "Workloads" },
  { to: "/sweeps", label: "Sweeps" },
  { to: "/workspaces", label: "Workspaces" },
  { to: "/projects", label: "Projects and quotas" },
  { to: "/gpus", label: "GPU map" },
  { to: "/chargeback", label: "Consumption" },
];

export function App() {
  const { me, checking, signOut } = useAuth();
  const location = useLocation();
  useWorkloadWatch(me !== null);
  useEffect(() => {
    if (!me) return;
    const t = setTimeout(preloadPages, 1000);
    return () => clearTimeout(t);
  }, [me]);
  if (checking) {
    return (
      <Center h="100vh">
        <Loader />
      </Center>
    );
  }
  if (!me) return <SignIn />;
  const active = (to: string) => (to === "/" ? location.pathname === "/" : location.pathname.startsWith(to));
  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 210, breakpoint: 0 }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Title order={3}>sluice</Title>
          <Group gap="sm">
            <Text size="sm" data-testid="whoami">
              {me.user}
            </Text>
            <Badge variant="light" color={me.admin ? "red" : "blue"}>
              {me.admin ? "admin" : "member"}
            </Badge>
            <Button size="xs" variant="subtle" onClick={signOut}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        {NAV.map((n) => (
          <NavLink key={n.to} component={Link} to={n.to} label={n.label} active={active(n.to)} />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Suspense fallback={<Loader />}>
          <Routes>
            <Route path="/" element={<Overview />} />
            <Route path="/workloads" element={<WorkloadsPage />} />
            <Route path="/workloads/new" element={<SubmitForm />} />
            <Route path="/workloads/:project/:name" element={<WorkloadDetail />} />
            <Route path="/workspaces" element={<WorkspacesPage />} />
            <Route path="/projects" element={<Projects />} />
            <Route path="/gpus" element={<GpuMap />} />
            <Route path="/chargeback" element={<ChargebackPage />} />
            <Route path="/sweeps" element={<SweepList />} />
            <Route path="/sweeps/:project/:name" element={<SweepDetail />} />
            <Route path="*" element={<Navigate to="/" replace />} />
          </Routes>
        </Suspense>
      </AppShell.Main>
    </AppShell>
  );
}
