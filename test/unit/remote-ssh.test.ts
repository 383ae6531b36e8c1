import { describe, expect, it } from 'vitest';
import { describeRemoteSsh, parseRemoteSsh, RemoteSshError, splitShellWords } from '../../src/barman/remote-ssh.js';

describe('splitShellWords', () => {
  it('splits on blanks and honours quotes and backslashes', () => {
    expect(splitShellWords(`ssh  -o "UserKnownHostsFile /a b" -i '/k ey' a\\ b\t"x"'y'`)).toEqual([
      'ssh',
      '-o',
      'UserKnownHostsFile /a b',
      '-i',
      '/k ey',
      'a b',
      'xy',
    ]);
    expect(splitShellWords(`"a\\"b\\\\c" ''`)).toEqual(['a"b\\c', '']);
  });

  it.each([
    ['ssh host; rm -rf /', ';'],
    ['ssh $(whoami)@host', '$'],
    ['ssh `id`@host', '`'],
    ['ssh host | cat', '|'],
    ['ssh host > /tmp/x', '>'],
    ['ssh host*', '*'],
    ['ssh host #comment', '#'],
  ])('refuses shell syntax: %s', (line, ch) => {
    expect(() => splitShellWords(line)).toThrow(RemoteSshError);
    expect(() => splitShellWords(line)).toThrow(`'${ch}'`);
  });

  it('refuses expansion inside double quotes and unterminated quotes', () => {
    expect(() => splitShellWords('ssh "$HOST"')).toThrow(/expansion/);
    expect(() => splitShellWords("ssh 'host")).toThrow(/unterminated single quote/);
    expect(() => splitShellWords('ssh "host')).toThrow(/unterminated double quote/);
  });
});

describe('parseRemoteSsh', () => {
  it("reads the seed's setting", () => {
    expect(parseRemoteSsh('ssh barman@backup')).toEqual({
      user: 'barman',
      host: 'backup',
      port: 22,
      identityFiles: [],
      options: {},
    });
  });

  it('leaves the user open when the setting names none', () => {
    expect(parseRemoteSsh('ssh backup').user).toBeNull();
    expect(parseRemoteSsh('/usr/bin/ssh backup').host).toBe('backup');
  });

  it('reads -p, -i, -l and harmless flags, clustered or apart', () => {
    const t = parseRemoteSsh('ssh -qT -p 2222 -i ~/.ssh/id_barman -i/etc/k2 -l barman -4 backup.example.com');
    expect(t).toEqual({
      user: 'barman',
      host: 'backup.example.com',
      port: 2222,
      identityFiles: ['~/.ssh/id_barman', '/etc/k2'],
      options: { AddressFamily: 'inet' },
    });
    expect(parseRemoteSsh('ssh -p2222 -qTp2222 b').port).toBe(2222);
  });

  it('honours -o in every spelling, keywords case-insensitive', () => {
    const t = parseRemoteSsh(
      'ssh -oPort=2200 -o User=barman -o "IdentityFile /k/id" -o stricthostkeychecking=accept-new ' +
        '-o "UserKnownHostsFile=/etc/barmanapi/known_hosts" -o ConnectTimeout=10 -o ServerAliveInterval=30 ' +
        '-o ServerAliveCountMax=3 -o BatchMode=yes -o "AddressFamily = inet6" backup',
    );
    expect(t).toEqual({
      user: 'barman',
      host: 'backup',
      port: 2200,
      identityFiles: ['/k/id'],
      options: {
        StrictHostKeyChecking: 'accept-new',
        UserKnownHostsFile: '/etc/barmanapi/known_hosts',
        ConnectTimeout: '10',
        ServerAliveInterval: '30',
        ServerAliveCountMax: '3',
        BatchMode: 'yes',
        AddressFamily: 'inet6',
      },
    });
  });

  it('normalises StrictHostKeyChecking', () => {
    const policy = (v: string) => parseRemoteSsh(`ssh -o StrictHostKeyChecking=${v} h`).options.StrictHostKeyChecking;
    expect(policy('yes')).toBe('yes');
    expect(policy('ask')).toBe('yes');
    expect(policy('accept-new')).toBe('accept-new');
    expect(policy('no')).toBe('no');
    expect(policy('off')).toBe('no');
    expect(() => policy('maybe')).toThrow(/StrictHostKeyChecking/);
  });

  it('accepts options after the destination, as ssh does', () => {
    expect(parseRemoteSsh('ssh barman@backup -p 2022').port).toBe(2022);
  });

  it('reads ssh:// URIs, alone or after ssh', () => {
    expect(parseRemoteSsh('ssh://barman@backup:2222')).toMatchObject({ user: 'barman', host: 'backup', port: 2222 });
    expect(parseRemoteSsh('ssh ssh://backup')).toMatchObject({ user: null, host: 'backup', port: 22 });
    expect(parseRemoteSsh('ssh://barman@[::1]:2222')).toMatchObject({ host: '::1', port: 2222 });
  });

  it('splits user@host at the last @', () => {
    expect(parseRemoteSsh('ssh me@corp@backup')).toMatchObject({ user: 'me@corp', host: 'backup' });
  });

  it.each([
    ['ssh -J jump barman@backup', '-J'],
    ['ssh -F /etc/ssh/custom barman@backup', '-F'],
    ['ssh -L 5432:db:5432 barman@backup', '-L'],
    ['ssh -A barman@backup', '-A'],
    ['ssh -t barman@backup', '-t'],
    ['ssh -o ProxyCommand=nc barman@backup', 'ProxyCommand'],
    ['ssh -o HostName=elsewhere backup', 'HostName'],
    ['ssh -o Ciphers=aes128-ctr backup', 'Ciphers'],
  ])('rejects what it cannot honour, naming it: %s', (setting, named) => {
    expect(() => parseRemoteSsh(setting)).toThrow(RemoteSshError);
    expect(() => parseRemoteSsh(setting)).toThrow(named);
  });

  it('rejects a remote command, a missing host and a wrong program', () => {
    expect(() => parseRemoteSsh('ssh barman@backup barman list-server')).toThrow(/"barman".*remote command/);
    expect(() => parseRemoteSsh('ssh -p 22')).toThrow(/no destination/);
    expect(() => parseRemoteSsh('rsh barman@backup')).toThrow(/must start with "ssh", got "rsh"/);
    expect(() => parseRemoteSsh('')).toThrow(/empty/);
    expect(() => parseRemoteSsh('ssh -p')).toThrow(/-p needs a value/);
  });

  it('rejects invalid values and contradictions', () => {
    expect(() => parseRemoteSsh('ssh -p 0 b')).toThrow(/port "0"/);
    expect(() => parseRemoteSsh('ssh -p 70000 b')).toThrow(/port "70000"/);
    expect(() => parseRemoteSsh('ssh -p x b')).toThrow(/port "x"/);
    expect(() => parseRemoteSsh('ssh -p 22 -o Port=2222 b')).toThrow(/conflicting ports 22 and 2222/);
    expect(() => parseRemoteSsh('ssh -l alice bob@b')).toThrow(/conflicting user names "alice" and "bob"/);
    expect(() => parseRemoteSsh('ssh -o ConnectTimeout=soon b')).toThrow(/ConnectTimeout must be a whole number/);
    expect(() => parseRemoteSsh('ssh -- -host')).toThrow(/not a valid destination/);
    expect(() => parseRemoteSsh('ssh -i %d/.ssh/id b')).toThrow(/% tokens/);
    expect(() => parseRemoteSsh('ssh -o Port b')).toThrow(/expected Key=Value/);
  });

  it('describes the target as user@host:port', () => {
    expect(describeRemoteSsh(parseRemoteSsh('ssh barman@backup'), 'root')).toBe('barman@backup:22');
    expect(describeRemoteSsh(parseRemoteSsh('ssh -p 2 backup'), 'root')).toBe('root@backup:2');
    expect(describeRemoteSsh(parseRemoteSsh('ssh://b@[::1]:2'), 'root')).toBe('b@[::1]:2');
  });
});
