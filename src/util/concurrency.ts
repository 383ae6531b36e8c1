/** `fn` over `items` with at most `limit` calls in flight; results in the order of `items`. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Wait for `work` to settle, or `ms` at the most, whichever is first (a rejection is waited for, not thrown). */
export async function settleWithin(work: Promise<unknown> | null | undefined, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([work?.then(() => undefined, () => undefined), waited]);
  clearTimeout(timer);
}
