// Server-Sent Events over fetch: EventSource cannot send the bearer token,
// so the stream is read and split into events here.

export interface SseEvent {
  type: string;
  data: string;
}

// Feeds text chunks in; returns the complete events so far.
export class SseParser {
  private buffer = "";

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    let end: number;
    while ((end = this.buffer.indexOf("\n\n")) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let type = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) out.push({ type, data: data.join("\n") });
    }
    return out;
  }
}

// Reads a streaming response body as text chunks until it ends or `signal` aborts.
export async function readStream(res: Response, onChunk: (text: string) => void): Promise<void> {
  if (!res.body) return;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    onChunk(decoder.decode(value, { stream: true }));
  }
}
