import { useState } from "react";
import { Button, Center, Paper, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { useAuth } from "../auth";

export function SignIn() {
  const { signIn } = useAuth();
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      await signIn(token.trim());
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Center h="100vh" bg="gray.0">
      <Paper withBorder shadow="sm" p="xl" w={460}>
        <form onSubmit={submit}>
          <Stack>
            <Title order={2}>Sign in to sluice</Title>
            <Text size="sm" c="dimmed">
              Paste an API token: yours from <code>sluice token create</code>, or the admin token in the server's
              data directory (<code>DATA_DIR/admin-token</code>).
            </Text>
            <PasswordInput
              label="Token"
              value={token}
              onChange={(e) => setToken(e.currentTarget.value)}
              error={error || undefined}
              data-testid="token"
              autoFocus
            />
            <Button type="submit" loading={busy} disabled={!token.trim()}>
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
