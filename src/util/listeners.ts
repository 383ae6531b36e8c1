import type { Logger } from '../ports.js';

/** Listeners of one kind of event: each is told in turn, and one that throws is logged, not let through. */
export class Listeners<T> {
  private readonly set = new Set<(value: T) => void>();

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  get size(): number {
    return this.set.size;
  }

  /** Returns the way to stop listening. */
  add(listener: (value: T) => void): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }

  emit(value: T): void {
    for (const listener of this.set) {
      try {
        listener(value);
      } catch (err) {
        this.logger.log('warn', `a ${this.what} listener failed`, { error: String((err as Error).message ?? err) });
      }
    }
  }
}
