import { existsSync, readFileSync } from 'node:fs';

/** /tmp/barmanapi-it/env.json, written by test/integration/env/up.sh. */
export interface ItEnv {
  root: string;
  pg: { host: string; port: number; dataDir: string; bin: string };
  barman: { config: string; configDir: string; serverConfig: string; home: string; user: string; command: string[]; server: string; version: string };
  ssh: { host: string; port: number; user: string; identity: string; knownHosts: string; remotessh: string };
}

/** The real environment, or a failure that says how to bring it up: never a silent skip. */
export function itEnv(): ItEnv {
  const file = process.env.BARMANAPI_IT_ENV ?? `${process.env.BARMANAPI_IT_ROOT ?? '/tmp/barmanapi-it'}/env.json`;
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run "bash .ci/install.sh && bash test/integration/env/up.sh" as root (CI's .ci/run does).`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as ItEnv;
}
