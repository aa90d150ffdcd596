import { Badge } from "@mantine/core";
import type { Phase } from "../api";

const COLOURS: Record<Phase, string> = { Pending: "yellow", Running: "green", Succeeded: "gray", Failed: "red", Suspended: "indigo" };

export function PhaseBadge({ phase, releasing }: { phase: Phase; releasing?: boolean }) {
  return (
    <Badge color={releasing ? "orange" : COLOURS[phase]} variant="light" data-testid="phase">
      {releasing ? "Stopping" : phase}
    </Badge>
  );
}
