import { badRequest } from '../http/errors.js';

/**
 * barman hands `--remote-ssh-command` to a shell on the barman host, so argv quoting cannot
 * protect it. Only the shape of a plain ssh invocation is accepted: `ssh`, options from a short
 * list, then `[user@]host`, every word free of shell metacharacters.
 */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;
// -F (a config file) and -J (a jump host) could bring in ProxyCommand and the like: not offered.
const WITH_VALUE = new Set(['-p', '-i', '-o', '-l']);
const BARE_FLAGS = new Set(['-4', '-6', '-q', '-C', '-T', '-n', '-v']);
const OPTION_KEYS = new Set([
  'port', 'user', 'identityfile', 'stricthostkeychecking', 'userknownhostsfile', 'connecttimeout',
  'serveraliveinterval', 'serveralivecountmax', 'batchmode', 'compression', 'identitiesonly', 'loglevel',
]);

/** Options whose value barman runs through a shell, by normalised long name. */
export const SHELL_EXECUTED_OPTIONS = new Set(['remotesshcommand']);

export function checkRemoteSshCommand(value: string, parameter: string): void {
  const fail = (why: string): never => {
    throw badRequest(
      `parameter ${parameter}: ${why}. Allowed: "ssh [-p PORT] [-i PATH] [-l USER] [-o Key=Value] [user@]host" ` +
        `(set [barman] allow_free_remote_ssh_command = true to allow any command)`,
      { parameter },
    );
  };
  // Words are separated by single spaces only: a newline or tab would start a new shell command
  // or hide one, however harmless each word looks on its own.
  if (!/^[\x21-\x7e]+( [\x21-\x7e]+)*$/.test(value)) fail('only printable characters, words separated by single spaces');
  const words = value.split(' ');
  if (words[0] !== 'ssh' && !/^\/usr(\/local)?\/bin\/ssh$/.test(words[0] ?? '')) fail('must start with ssh');
  let i = 1;
  while (i < words.length - 1) {
    const w = words[i]!;
    if (BARE_FLAGS.has(w)) {
      i += 1;
      continue;
    }
    if (!WITH_VALUE.has(w)) fail(`option ${JSON.stringify(w)} is not allowed`);
    const v = words[i + 1];
    if (v === undefined || !SAFE_WORD.test(v)) fail(`value of ${w} has characters that are not allowed`);
    if (w === '-o' && !OPTION_KEYS.has(v!.split('=')[0]!.toLowerCase())) fail(`ssh option ${JSON.stringify(v!.split('=')[0])} is not allowed`);
    if (w === '-p' && !/^\d{1,5}$/.test(v!)) fail('-p takes a port number');
    i += 2;
  }
  const target = words[words.length - 1];
  if (words.length < 2 || i !== words.length - 1 || !target || !/^([A-Za-z0-9._-]+@)?[A-Za-z0-9.:_\-[\]]+$/.test(target)) {
    fail('must end with [user@]host');
  }
}
