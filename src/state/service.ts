/**
 * The state model of the barman host, on demand: list-server, show-server, status and
 * list-backup run through the read cache (read-cache.ts), so a model asked for again while
 * barman's files are unchanged costs a fingerprint, not a barman run. barman versions without
 * `-f json` have no model: the answer says so.
 */
import type { Deps } from '../context.js';
import { parseJsonOutput } from '../barman/output.js';
import type { Catalogue } from '../barman/catalogue.js';
import type { ReadCache } from './read-cache.js';
import { readKey } from './read-cache.js';
import { serverFrom, serverNames, type ServerOutputs, type ServerState } from './model.js';

export type StateAnswer<T> = { model: T; reason?: undefined } | { model: null; reason: string };

export interface StateServiceDeps {
  deps: Pick<Deps, 'host' | 'settings' | 'clock'>;
  reads: ReadCache;
  catalogue: () => Promise<Catalogue>;
}

export class StateService {
  constructor(private readonly d: StateServiceDeps) {}

  /** Every server of the host with its state. */
  async servers(): Promise<StateAnswer<ServerState[]>> {
    const unsupported = await this.unsupported();
    if (unsupported) return { model: null, reason: unsupported };
    const listServer = await this.json('list-server', []);
    const names = serverNames(listServer);
    const servers = await Promise.all(names.map((name) => this.build(name, listServer)));
    return { model: servers };
  }

  /** One server's state; null model with the reason when barman gives none. */
  async server(name: string): Promise<StateAnswer<ServerState>> {
    const unsupported = await this.unsupported();
    if (unsupported) return { model: null, reason: unsupported };
    const listServer = await this.json('list-server', []);
    if (!serverNames(listServer).includes(name)) return { model: null, reason: `barman on ${this.d.deps.host.description} has no server ${JSON.stringify(name)}` };
    return { model: await this.build(name, listServer) };
  }

  private async build(name: string, listServer: unknown): Promise<ServerState> {
    const [showServer, status, listBackup] = await Promise.all([
      this.json('show-server', [name]),
      this.json('status', [name]),
      this.json('list-backup', [name]),
    ]);
    const outputs: ServerOutputs = { listServer, showServer, status, listBackup };
    return serverFrom(name, outputs, this.d.deps.clock.now());
  }

  private async unsupported(): Promise<string | null> {
    const cat = await this.d.catalogue();
    return cat.supportsJson ? null : `barman ${cat.version} has no -f json output: only its console output is available (the /barman routes), no state model`;
  }

  /** barman's JSON document for a read-only command, through the cache; null when it printed none. */
  private async json(command: string, args: string[]): Promise<unknown> {
    const { deps } = this.d;
    const settings = deps.settings.current().barman;
    const argv = [...settings.command, '-c', settings.configFile, '-f', 'json', command, ...args];
    const timeoutMs = settings.timeoutSeconds * 1000;
    const { result } = await this.d.reads.read({
      command,
      key: readKey(deps.host.description, argv, timeoutMs, settings.maxOutputBytes),
      servers: args,
      fresh: false,
      run: (signal) => deps.host.run(argv, { timeoutMs, maxOutputBytes: settings.maxOutputBytes, signal }),
    });
    return parseJsonOutput(result.stdout);
  }
}
