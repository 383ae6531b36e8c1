import { describe, expect, it } from 'vitest';
import { createHost } from '../../adapters/node/deps.js';
import { createSshHost } from '../../adapters/node/ssh-host.js';
import { createLocalHost } from '../../adapters/node/local-host.js';
import { parseRemoteSsh } from '../../src/barman/remote-ssh.js';
import { loadSettings } from '../../src/settings/load.js';

const methods = (o: object) => Object.keys(o).filter((k) => typeof (o as Record<string, unknown>)[k] === 'function').sort();

describe('the hosts the server builds from its settings', () => {
  it('an SSH host loaded on first use offers every method of the SSH host itself (stampTrees, lockFile included)', async () => {
    const settings = loadSettings({ text: '[barman]\nremote=true\nremotessh=ssh barman@backup.example\n', path: '/etc/barmanapi.conf' });
    const lazy = createHost(settings);
    const real = createSshHost({ target: parseRemoteSsh('ssh barman@backup.example') });
    expect(methods(lazy)).toEqual(methods(real));
    expect(methods(lazy)).toEqual(expect.arrayContaining(['stampTrees', 'lockFile', 'run', 'readFile', 'writeFile', 'stat', 'listDir', 'close']));
    await Promise.all([lazy.close(), real.close()]);
  });

  it('a local host is the local adapter', async () => {
    const host = createHost(loadSettings({ text: '', path: '/etc/barmanapi.conf' }));
    expect(methods(host)).toEqual(methods(createLocalHost()));
    await host.close();
  });
});
