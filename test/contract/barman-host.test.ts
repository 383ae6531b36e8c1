import { join } from 'node:path';
import { createScriptedHost, type ScriptedCommand } from '../../adapters/memory/host.js';
import { barmanHostContract } from './barman-host.js';

/**
 * The scripted host runs no programs and has no users, modes or locks: its entry says so, and
 * the contract checks the rest (files, typed failures, argv and env refusals, close).
 */
barmanHostContract('scripted (memory)', { processes: false, posixFiles: false, lock: false, ordinaryUser: false }, async () => {
  // One "machine" for every host the suite makes, as hosts on one machine share its files.
  const files = new Map<string, string>();
  const folders = new Set<string>();
  const RECORDER = '/usr/local/bin/record-argv';
  const recorded = new Map<string, Uint8Array>();
  // The recorder keeps its argv where $RECORD says, as the real one does in a file.
  const command: ScriptedCommand = (argv, options) => {
    if (argv[0] !== RECORDER) return { exitCode: 127, stderr: `${argv[0]}: not found\n` };
    recorded.set(options.env!.RECORD!, Buffer.concat(argv.slice(1).map((w) => Buffer.from(`${w}\0`))));
    return { exitCode: 0 };
  };
  let made = 0;
  return {
    host: () => createScriptedHost(command, files, folders),
    stoppableHost: () => createScriptedHost(command, files, folders),
    files: {
      async folder(name) {
        const path = `/srv/contract/${name}-${made++}`;
        folders.add(path);
        return path;
      },
      async mkdir(path) {
        folders.add(path);
      },
      async put(path, content) {
        files.set(path, content);
      },
      async read(path) {
        return files.get(path) ?? null;
      },
      async list(dir) {
        const names = new Set<string>();
        for (const p of [...files.keys(), ...folders]) if (p.startsWith(`${dir}/`)) names.add(p.slice(dir.length + 1).split('/')[0]!);
        return [...names].sort();
      },
    },
    async recorder(folder) {
      const record = join(folder, 'argv.bin');
      return { argv: [RECORDER], env: { RECORD: record }, received: async () => recorded.get(record) ?? null };
    },
    otherOwner: null,
    ordinary: null,
    async close() {},
  };
});
