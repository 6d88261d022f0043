import ms from 'ms';

/**
 * Duration strings (docs/process.md, "Durations and policy"): a number with a unit, such as
 * `500ms`, `30s`, `15m`, `2h`, `7d`.
 */
const DURATION = /^\d+(\.\d+)?\s*(ms|s|m|h|d|w)$/;

/** Milliseconds in a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text.trim())) return undefined;
  const value = ms(text.trim() as ms.StringValue);
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}
