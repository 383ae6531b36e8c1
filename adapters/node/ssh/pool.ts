/**
 * The one pooled connection to the barman host: opened on first use, shared by every command
 * and file operation, replaced after it closes or fails; and the bound on channels at once.
 */
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import { SshHostError } from './errors.js';
import type { Connector, Session } from './connection.js';

export interface Pool {
  openChannel(command: string): Promise<ClientChannel>;
  withSftp<T>(op: (w: SFTPWrapper) => Promise<T>, repeatable: boolean): Promise<T>;
  close(): Promise<void>;
}

/** What a channel said of its end before anyone listened: its exit status, and whether it closed. */
export interface ChannelEnd {
  exit?: { code: number | null; signal?: string };
  closed?: boolean;
}

const ends = new WeakMap<ClientChannel, ChannelEnd>();

/** The end a channel of openChannel has reported so far (events fired before the caller listened). */
export function channelEnd(channel: ClientChannel): ChannelEnd {
  return ends.get(channel) ?? {};
}

export function createPool(connector: Connector): Pool {
  const description = connector.description;
  let current: Promise<Session> | null = null;
  let closedByOwner = false;

  /** The pooled connection: opened on first use, shared, replaced after it closes or fails. */
  function session(): Promise<Session> {
    if (closedByOwner) return Promise.reject(new SshHostError('closed', `the SSH host ${description} was closed`));
    if (current) return current;
    const attempt: Promise<Session> = connector.connect(() => {
      if (current === attempt) current = null;
    });
    current = attempt;
    attempt.catch(() => {
      if (current === attempt) current = null;
    });
    return attempt;
  }

  async function openChannel(command: string): Promise<ClientChannel> {
    // One retry: a connection that died while idle is noticed only when used, and the command has not started.
    for (let attempt = 1; ; attempt++) {
      const s = await session();
      try {
        return await new Promise<ClientChannel>((resolve, reject) => {
          s.client.exec(command, (err, channel) => {
            if (err) return reject(err);
            // A quick command's exit and close may arrive in the same read as the channel itself,
            // before the caller's await resumes: they are kept for it (channelEnd).
            const end: ChannelEnd = {};
            channel.once('exit', (code: number | null, signal?: string) => (end.exit = { code, signal }));
            channel.once('close', () => (end.closed = true));
            ends.set(channel, end);
            resolve(channel);
          });
        });
      } catch (err) {
        if (attempt === 1 && s.closed) continue;
        throw err;
      }
    }
  }

  /**
   * Runs an SFTP operation on the pooled connection's one SFTP session. As with exec, a session
   * that turns out to be dead is replaced once; the operation is repeated only when `repeatable`.
   */
  async function withSftp<T>(op: (w: SFTPWrapper) => Promise<T>, repeatable: boolean): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const s = await session();
      let w: SFTPWrapper;
      try {
        w = await sftpOf(s);
      } catch (err) {
        if (attempt === 1 && s.closed) continue;
        throw err;
      }
      try {
        return await op(w);
      } catch (err) {
        if (repeatable && attempt === 1 && s.closed) continue;
        throw err;
      }
    }
  }

  return {
    openChannel,
    withSftp,
    async close() {
      closedByOwner = true;
      const pending = current;
      current = null;
      if (!pending) return;
      const s = await pending.catch(() => null);
      if (s && !s.closed) {
        const ended = new Promise<void>((resolve) => s.client.once('close', () => resolve()));
        s.client.end();
        await ended;
      }
    },
  };
}

/** The session's one SFTP channel: opened on first use, forgotten when it closes or fails. */
function sftpOf(s: Session): Promise<SFTPWrapper> {
  if (!s.sftp) {
    const opening = new Promise<SFTPWrapper>((resolve, reject) => {
      s.client.sftp((err, wrapper) => (err ? reject(err) : resolve(wrapper)));
    });
    s.sftp = opening;
    const forget = (): void => {
      if (s.sftp === opening) s.sftp = null;
    };
    opening.then((wrapper) => {
      wrapper.on('close', forget);
      wrapper.on('error', forget);
    }, forget);
  }
  return s.sftp;
}

/** A counting semaphore whose waiters can give up (a command stopped before it got a channel). */
export function createSlots(size: number): { acquire(signal: AbortSignal): Promise<() => void> } {
  let free = Math.max(1, size);
  const waiting: (() => void)[] = [];
  const releaser = (): (() => void) => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = waiting.shift();
      if (next) next();
      else free++;
    };
  };
  return {
    acquire(signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      if (free > 0) {
        free--;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve, reject) => {
        const grant = (): void => {
          signal.removeEventListener('abort', giveUp);
          resolve(releaser());
        };
        const giveUp = (): void => {
          const i = waiting.indexOf(grant);
          if (i >= 0) waiting.splice(i, 1);
          reject(signal.reason);
        };
        waiting.push(grant);
        signal.addEventListener('abort', giveUp, { once: true });
      });
    },
  };
}
