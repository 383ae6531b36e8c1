/** Shape checks for JSON read back from files or from barman: what a value must be before it is used. */

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A time Date.parse reads (ISO 8601 as written by this API). */
export const isTime = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));
