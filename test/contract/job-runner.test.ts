import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInProcessJobRunner } from '../../adapters/memory/job-runner.js';
import { createMemoryStorage } from '../../adapters/memory/storage.js';
import { createScriptedHost } from '../../adapters/memory/host.js';
import { createDetachedJobRunner } from '../../adapters/node/job-runner.js';
import { createFsStorage } from '../../adapters/node/fs-storage.js';
import { jobRunnerContract } from './job-runner.js';

jobRunnerContract('in process', async () => {
  const storage = createMemoryStorage();
  // A barman host in memory that knows two commands: print (then exit) and wait (until stopped).
  const host = createScriptedHost(async ([program, text, code], options) => {
    if (program === 'print') {
      options.onOutput?.('stdout', new TextEncoder().encode(text!));
      return { exitCode: Number(code), stdout: text };
    }
    await new Promise((resolve) => {
      if (options.signal?.aborted) resolve(null);
      options.signal?.addEventListener('abort', resolve, { once: true });
    });
    return { exitCode: null, signal: 'SIGTERM', aborted: true };
  });
  return {
    runner: createInProcessJobRunner({ storage, host, clock: { now: () => new Date() }, maxOutputBytes: 1 << 20 }),
    storage,
    commands: { print: (text, exitCode) => ['print', text, String(exitCode)], wait: () => ['wait'] },
  };
});

/** A store and settings file in a fresh folder, barman being this machine's shell. */
async function detachedFixture(warm: boolean) {
  const dir = await mkdtemp(join(tmpdir(), 'barmanapi-contract-runner-'));
  await chmod(dir, 0o755);
  const store = join(dir, 'store');
  const config = join(dir, 'barmanapi.conf');
  // The runner loads the settings as the server did: the store, and barman on this machine.
  await writeFile(config, `[application]\nstore_directory=${store}\n[barman]\nremote=false\n`);
  await mkdir(join(store, 'active'), { recursive: true });
  const runner = createDetachedJobRunner({ storeDirectory: store, configFile: config, warm });
  runner.prepare?.();
  return {
    runner,
    storage: createFsStorage(store),
    commands: {
      print: (text: string, exitCode: number) => ['/bin/sh', '-c', 'printf "%s\\n" "$0"; exit "$1"', text, String(exitCode)],
      wait: () => ['sleep', '300'],
    },
    close: async () => {
      await runner.close?.();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

jobRunnerContract('detached (barmanapi execute ID)', () => detachedFixture(false));
// Each job handed to a runner started ahead, which read its id on standard input.
jobRunnerContract('detached, started ahead (barmanapi execute -)', () => detachedFixture(true));
