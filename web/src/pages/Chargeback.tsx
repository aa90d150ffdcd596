// GPU-hours allocated and used per department and project over a date
// range, efficiency, cost at the admin-set price, idle allocations, and the
// same report as CSV (from the server, so its totals are the API's).
import { useState } from "react";
import { Alert, Button, Card, Group, NumberInput, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, authHeaders, type Chargeback, type ChargebackRow } from "../api";
import { ErrorNote } from "../components/ErrorNote";
import { money, percent } from "../format";

function day(offset: number): string {
  const d = new Date(Date.now() + offset * 86_400_000);
  return d.toISOString().slice(0, 10);
}

export function rangeQuery(from: string, to: string): string {
  // Whole days in UTC: from the start of `from` to the end of `to`.
  const end = new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000).toISOString();
  return `from=${from}T00:00:00Z&to=${end}`;
}

function Row({ row, label, strong, indent }: { row: ChargebackRow; label: string; strong?: boolean; indent?: boolean }) {
  return (
    <Table.Tr data-testid={`cb-${label}`} fw={strong ? 700 : undefined}>
      <Table.Td style={{ paddingLeft: indent ? 28 : 8 }}>{label}</Table.Td>
      <Table.Td>{row.allocatedGpuHours.toFixed(3)}</Table.Td>
      <Table.Td>{row.usedGpuHours === null ? "–" : row.usedGpuHours.toFixed(3)}</Table.Td>
      <Table.Td>{percent(row.efficiency)}</Table.Td>
      <Table.Td>{row.cost.toFixed(2)}</Table.Td>
    </Table.Tr>
  );
}

export default function ChargebackPage() {
  const client = useQueryClient();
  const [from, setFrom] = useState(day(-7));
  const [to, setTo] = useState(day(0));
  const [idleMinutes, setIdleMinutes] = useState<number | string>(60);
  const query = `${rangeQuery(from, to)}&idleMinutes=${Number(idleMinutes) || 60}`;
  const report = useQuery({
    queryKey: ["chargeback", query],
    queryFn: () => api<Chargeback>(`/api/v1/chargeback?${query}`),
    refetchInterval: 15_000,
  });
  const [price, setPrice] = useState<number | string>("");
  const [priceError, setPriceError] = useState<unknown>(null);
  const savePrice = async () => {
    setPriceError(null);
    try {
      await api("/api/v1/settings", { method: "PATCH", body: { gpuHourPrice: Number(price) } });
      setPrice("");
      await client.invalidateQueries({ queryKey: ["chargeback"] });
    } catch (e) {
      setPriceError(e);
    }
  };
  const exportCsv = async () => {
    const res = await fetch(`/api/v1/chargeback?${query}&format=csv`, { headers: authHeaders() });
    const blob = new Blob([await res.text()], { type: "text/csv" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `sluice-chargeback-${from}-${to}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };
  const r = report.data;
  return (
    <Stack>
      <Title order={2}>Consumption and chargeback</Title>
      <Group align="end">
        <TextInput type="date" label="From" value={from} onChange={(e) => setFrom(e.currentTarget.value)} data-testid="cb-from" />
        <TextInput type="date" label="To" value={to} onChange={(e) => setTo(e.currentTarget.value)} data-testid="cb-to" />
        <NumberInput label="Idle after (minutes)" value={idleMinutes} onChange={setIdleMinutes} min={1} max={10080} w={150} data-testid="cb-idle-minutes" />
        <Button variant="default" onClick={exportCsv} disabled={!r} data-testid="cb-export">
          Export CSV
        </Button>
      </Group>
      {report.error ? (
        <ErrorNote error={report.error} title="Not for you" />
      ) : r ? (
        <>
          <Card withBorder>
            <Group align="end">
              <Text>
                Price: <b data-testid="cb-price">{money(r.gpuHourPrice, r.currency)}</b> per GPU-hour
              </Text>
              <NumberInput placeholder="new price" value={price} onChange={setPrice} min={0} decimalScale={4} w={140} data-testid="cb-new-price" />
              <Button size="sm" onClick={savePrice} disabled={price === ""} data-testid="cb-save-price">
                Set price
              </Button>
            </Group>
            <ErrorNote error={priceError} />
          </Card>
          <Card withBorder>
            <Table data-testid="cb-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Department / project</Table.Th>
                  <Table.Th>GPU-hours allocated</Table.Th>
                  <Table.Th>GPU-hours used</Table.Th>
                  <Table.Th>Efficiency</Table.Th>
                  <Table.Th>Cost ({r.currency})</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {r.departments.map((d) => [
                  <Row key={`d-${d.name}`} row={d} label={d.name ?? "(no department)"} strong />,
                  ...d.projects.map((p) => <Row key={`p-${p.name}`} row={p} label={p.name ?? ""} indent />),
                ])}
                <Row row={r.total} label="Total" strong />
              </Table.Tbody>
            </Table>
          </Card>
          <Card withBorder>
            <Title order={4} mb="xs">
              Idle allocations
            </Title>
            <Text size="sm" c="dimmed" mb="xs">
              GPUs allocated but under 5% used for {r.idleMinutes} minutes or more.
            </Text>
            {r.idle.length === 0 ? (
              <Text>None in this range.</Text>
            ) : (
              <Table data-testid="cb-idle">
                <Table.Tbody>
                  {r.idle.map((i) => (
                    <Table.Tr key={`${i.project}-${i.from}`}>
                      <Table.Td>
                        <Alert color="orange" p={4}>
                          {i.project}
                        </Alert>
                      </Table.Td>
                      <Table.Td>
                        {new Date(i.from).toLocaleString()} – {new Date(i.to).toLocaleString()}
                      </Table.Td>
                      <Table.Td>{i.allocatedGpuHours.toFixed(3)} GPU-hours allocated</Table.Td>
                      <Table.Td>{i.usedGpuHours.toFixed(3)} used</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Card>
        </>
      ) : (
        <Text>Loading…</Text>
      )}
    </Stack>
  );
}
