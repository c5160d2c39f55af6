/** `--json`: one JSON object per event, one per line, and nothing else on stdout. */
import type { EngineEvent } from '../engine/events.js';

export function jsonReporter(write: (s: string) => void): (e: EngineEvent) => void {
  return (e) => write(JSON.stringify(e) + '\n');
}
