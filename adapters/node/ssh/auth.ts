/** The keys offered to log in to the barman host, in ssh's order; notes say why a configured key was not usable (never its content). */
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import type { AnyAuthMethod } from 'ssh2';
import { expandHome } from './host-keys.js';

const { utils } = ssh2;
const DEFAULT_IDENTITIES = ['~/.ssh/id_ed25519', '~/.ssh/id_ecdsa', '~/.ssh/id_rsa'];

export interface AuthSettings {
  user: string;
  identityFiles: string[];
  passphrase?: string;
  /** ssh-agent socket; '' for none. */
  agent: string;
  /** IdentitiesOnly=yes: no agent when identity files are named. */
  identitiesOnly: boolean;
}

export async function authMethods(s: AuthSettings): Promise<{ methods: AnyAuthMethod[]; notes: string[] }> {
  const { user, identityFiles, agent } = s;
  const methods: AnyAuthMethod[] = [];
  const notes: string[] = [];
  const explicit = identityFiles.length > 0;
  for (const file of explicit ? identityFiles : DEFAULT_IDENTITIES) {
    const path = expandHome(file);
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (err) {
      if (explicit) notes.push(`identity ${path} not readable (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      continue;
    }
    const parsed = utils.parseKey(data, s.passphrase);
    if (parsed instanceof Error) {
      notes.push(
        /encrypted|passphrase/i.test(parsed.message)
          ? `identity ${path} is encrypted and no passphrase was given`
          : `identity ${path} is not a usable private key`,
      );
      continue;
    }
    methods.push({ type: 'publickey', username: user, key: data, ...(s.passphrase !== undefined ? { passphrase: s.passphrase } : {}) });
  }
  if (s.identitiesOnly && explicit) return { methods, notes };
  if (agent !== '') methods.push({ type: 'agent', username: user, agent });
  else notes.push('no ssh-agent socket (SSH_AUTH_SOCK)');
  return { methods, notes };
}

export function describeMethod(method: AnyAuthMethod): string {
  return method.type === 'agent' ? 'ssh-agent' : method.type === 'publickey' ? 'an identity file' : method.type;
}
