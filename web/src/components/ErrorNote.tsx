import { Alert } from "@mantine/core";

// The server's refusal or error, as it said it.
export function ErrorNote({ error, title = "The server refused" }: { error: unknown; title?: string }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <Alert color="red" title={title} data-testid="error">
      {message}
    </Alert>
  );
}
