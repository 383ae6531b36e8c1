import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { namesHost, withSshConfig } from '../../adapters/node/ssh/ssh-config.js';
import { parseRemoteSsh } from '../../src/barman/remote-ssh.js';

const dir = mkdtempSync(join(tmpdir(), 'barmanapi-ssh-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** This machine's ssh, reading `config` instead of ~/.ssh/config (ssh itself does the resolving). */
function sshWith(config: string): string {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, config);
  const program = `${file}.sh`;
  writeFileSync(program, `#!/bin/sh\nexec ssh -F ${file} "$@"\n`);
  chmodSync(program, 0o755);
  return program;
}

const CONFIG = `Host backup
  HostName barman-dc2.example.net
  Port 2222
  User barmanuser
  IdentityFile /etc/barmanapi/dc2_key
  StrictHostKeyChecking no

Host *.lab
  Port 2200
`;

const resolve = (setting: string, config = CONFIG) => withSshConfig(setting, parseRemoteSsh(setting), { program: sshWith(config) });

describe('remotessh names from ssh_config', () => {
  it('takes HostName, Port, User and IdentityFile of a Host alias, as ssh does', () => {
    expect(resolve('ssh backup')).toMatchObject({ host: 'barman-dc2.example.net', port: 2222, user: 'barmanuser', identityFiles: ['/etc/barmanapi/dc2_key'] });
  });

  it('reads an ssh:// address the same way', () => {
    expect(resolve('ssh://other@backup:2022')).toMatchObject({ host: 'barman-dc2.example.net', port: 2022, user: 'other' });
    // ssh itself, not the address, is the program (none given here: the one on PATH).
    expect(withSshConfig('ssh://barman@10.0.0.5', parseRemoteSsh('ssh://barman@10.0.0.5'))).toMatchObject({ host: '10.0.0.5', user: 'barman' });
  });

  it('lets the setting\'s own options win over the file', () => {
    expect(resolve('ssh -p 22 -i /root/key other@backup')).toMatchObject({ host: 'barman-dc2.example.net', port: 22, user: 'other', identityFiles: ['/root/key'] });
  });

  it('matches Host patterns, and leaves names the file does not describe as they are', () => {
    expect(resolve('ssh barman@db1.lab')).toMatchObject({ host: 'db1.lab', port: 2200, user: 'barman' });
    expect(resolve('ssh barman@10.0.0.5')).toMatchObject({ host: '10.0.0.5', port: 22, user: 'barman', identityFiles: [] });
  });

  it('never takes host key checking from the file: that stays the API\'s', () => {
    expect(resolve('ssh backup').options).toEqual(parseRemoteSsh('ssh backup').options);
  });

  it('refuses at start a Host alias it cannot resolve without an ssh program, saying why', () => {
    const config = join(dir, 'plain-config');
    writeFileSync(config, CONFIG);
    const opts = { program: join(dir, 'no-such-ssh'), configFile: config };
    expect(() => withSshConfig('ssh backup', parseRemoteSsh('ssh backup'), opts)).toThrow(/backup is a Host of .*install openssh-client/);
    expect(withSshConfig('ssh barman@10.0.0.5', parseRemoteSsh('ssh barman@10.0.0.5'), opts)).toMatchObject({ host: '10.0.0.5' });
  });

  it('reads Host lines with patterns and negations', () => {
    expect(namesHost('Host a b\nHost c*', 'c1')).toBe(true);
    expect(namesHost('Host * !bad', 'bad')).toBe(false);
    expect(namesHost('Host *', 'anything')).toBe(false); // every host: not a name of its own
    expect(namesHost('Host db?.lab !db9.lab', 'db9.lab')).toBe(false);
  });
});
