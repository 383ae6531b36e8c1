/** One message naming file, section, key and problem; start-up stops on it. */
export class SettingsError extends Error {
  constructor(readonly file: string | null, readonly section: string | null, readonly key: string | null, problem: string) {
    super(`${file ?? '(settings)'}${section ? `: [${section}]` : ''}${key ? ` ${key}` : ''}: ${problem}`);
    this.name = 'SettingsError';
  }
}
