// The submit form's model: what the user typed, the request body it makes,
// and the server's messages ("body.gpu: expected ...") sorted by field.
import { splitCommand } from "./format";

export type GpuMode = "whole" | "fraction" | "memory" | "none";

export interface SubmitValues {
  name: string;
  project: string | null;
  command: string;
  gpuMode: GpuMode;
  gpu: string; // whole GPUs or a fraction, as typed
  gpuMemory: string; // like "20Gi"
  gpuDevices: string;
  pods: string;
  interactive: boolean;
  preemptible: boolean;
}

export const INITIAL: SubmitValues = {
  name: "",
  project: null,
  command: "",
  gpuMode: "whole",
  gpu: "1",
  gpuMemory: "",
  gpuDevices: "1",
  pods: "1",
  interactive: false,
  preemptible: true,
};

// Numbers are sent as numbers when they read as one, and as typed
// otherwise, so that the server's message names what is wrong.
function numberOrText(text: string): number | string {
  const t = text.trim();
  return t !== "" && !Number.isNaN(Number(t)) ? Number(t) : t;
}

export function requestBody(v: SubmitValues): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: v.name,
    command: splitCommand(v.command),
    pods: numberOrText(v.pods),
    priorityClass: v.interactive ? "interactive" : "train",
    preemptible: v.preemptible,
  };
  if (v.gpuMode === "whole") body.gpu = numberOrText(v.gpu);
  if (v.gpuMode === "fraction") {
    body.gpu = numberOrText(v.gpu);
    if (v.gpuDevices.trim() !== "1") body.gpuDevices = numberOrText(v.gpuDevices);
  }
  if (v.gpuMode === "memory") {
    body.gpuMemory = v.gpuMemory;
    if (v.gpuDevices.trim() !== "1") body.gpuDevices = numberOrText(v.gpuDevices);
  }
  return body;
}

// The form's fields, by the body field the server names in its messages.
const FIELD_OF: Record<string, keyof SubmitValues> = {
  name: "name",
  command: "command",
  gpu: "gpu",
  gpuMemory: "gpuMemory",
  gpuDevices: "gpuDevices",
  pods: "pods",
  preemptible: "preemptible",
  priorityClass: "interactive",
};

export type FieldErrors = Partial<Record<keyof SubmitValues | "form", string>>;

// Splits a 400's message (one line per problem, each starting with the
// field's path) onto the form's fields; the rest goes to "form".
export function fieldErrors(message: string): FieldErrors {
  const out: FieldErrors = {};
  for (const line of message.split("\n")) {
    const m = /^body\.([A-Za-z]+)(?:\[\d+\])?: (.*)$/.exec(line);
    const field = m ? FIELD_OF[m[1]] : undefined;
    const key = field ?? "form";
    const text = field ? m![2] : line;
    out[key] = out[key] ? `${out[key]}\n${text}` : text;
  }
  return out;
}
