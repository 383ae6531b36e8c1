/**
 * A quick remote command's exit status and close may arrive in the same read as its channel, so
 * ssh2 emits them before the caller's await resumes: the command's end must not be lost then.
 * ssh2 is replaced by a client that answers exactly so.
 */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createPool } from '../../adapters/node/ssh/pool.js';
import { runRemote } from '../../adapters/node/ssh/exec.js';
import type { Connector, Session } from '../../adapters/node/ssh/connection.js';

/** A channel that has printed `out`, exited with `code` and closed before its opener got it back. */
function endedChannel(out: string, code: number) {
  const channel = Object.assign(new PassThrough(), { stderr: new PassThrough(), signal: () => undefined, close: () => undefined });
  return {
    channel,
    end() {
      channel.end(out); // the output waits in the stream's buffer
      channel.emit('exit', code, undefined);
      process.nextTick(() => channel.emit('close'));
    },
  };
}

function connector(): Connector {
  const client = Object.assign(new EventEmitter(), {
    exec(command: string, cb: (err: Error | undefined, channel: unknown) => void) {
      const code = Number(/exit (\d+)/.exec(command)?.[1] ?? 0);
      const { channel, end } = endedChannel(`ran ${code}`, code);
      cb(undefined, channel);
      end(); // same turn: before the caller's await resumes
    },
    end: () => undefined,
  });
  const session = { client, closed: false, sftp: null } as unknown as Session;
  return { user: 'barman', description: 'barman@test:22', opened: 1, connect: async () => session };
}

describe('a remote command that ended as its channel opened', () => {
  it('reports its exit code and output, not a lost connection', async () => {
    const pool = createPool(connector());
    const settings = { description: 'barman@test:22', pool, slots: { acquire: async () => () => undefined }, killGraceMs: 100, exitDrainMs: 20 };
    const results = await Promise.all([0, 1, 2, 3].map((code) => runRemote(settings, ['sh', '-c', `exit ${code}`], { timeoutMs: 5000 })));
    expect(results.map((r) => [r.exitCode, r.stdout])).toEqual([0, 1, 2, 3].map((code) => [code, `ran ${code}`]));
  });
});
