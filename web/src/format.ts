// Formatting shared by the pages: GPU amounts, durations, ages.

export function gpus(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  return Number.isInteger(v) ? String(v) : v.toFixed(2).replace(/0+$/, "").replace(/\.$/, "");
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? ` ${s % 60}s` : ""}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? ` ${m % 60}m` : ""}`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

// Time a workload has waited: until it started, or until now while pending.
export function waitMs(submitted: string, started: string | undefined, now: number): number {
  const t0 = Date.parse(submitted);
  const t1 = started ? Date.parse(started) : now;
  return Math.max(0, t1 - t0);
}

export function ageMs(submitted: string, now: number): number {
  return Math.max(0, now - Date.parse(submitted));
}

export function percent(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  return `${Math.round(v * 100)}%`;
}

export function money(v: number, currency: string): string {
  return `${v.toFixed(2)} ${currency}`;
}

// Memory like "40Gi" or "512Mi" in MiB.
export function mib(text: string | null | undefined): number | null {
  if (!text) return null;
  const m = /^(\d+(?:\.\d+)?)(Mi|Gi|Ti)$/.exec(text);
  if (!m) return null;
  const scale = m[2] === "Mi" ? 1 : m[2] === "Gi" ? 1024 : 1024 * 1024;
  return Number(m[1]) * scale;
}

export function memoryText(v: number | null): string {
  if (v === null) return "–";
  return v >= 1024 ? `${(v / 1024).toFixed(1).replace(/\.0$/, "")} GiB` : `${Math.round(v)} MiB`;
}

const PALETTE = ["#228be6", "#40c057", "#fab005", "#fa5252", "#7950f2", "#15aabf", "#fd7e14", "#e64980", "#82c91e", "#4c6ef5"];

// A stable colour per name, for a workload's or project's share.
export function colourOf(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

// Splits a command line into words, honouring single and double quotes.
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let cur = "";
  let quote: string | null = null;
  let inWord = false;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}
