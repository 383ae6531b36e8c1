import { endpoint, type BlackboxTarget } from './suite.js';
import { addUsers, createWorkspace, readEnv, startServerProcess, type ServerProcess } from './support.js';

/**
 * Two `runserver` processes of one runtime (barman local, barman over SSH) on free ports, with
 * the suite's users created by that runtime's own `user add`.
 */
export async function startProcessTarget(name: string, cli: string[]): Promise<BlackboxTarget> {
  const ws = createWorkspace(readEnv(), name);
  const servers: ServerProcess[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.terminate()));
    ws.remove();
  };
  try {
    await addUsers(cli, ws.localConfig);
    const [local, ssh] = await Promise.all([startServerProcess(cli, ws.localConfig), startServerProcess(cli, ws.sshConfig)]);
    servers.push(local!, ssh!);
    return {
      local: endpoint(local!.baseUrl),
      ssh: endpoint(ssh!.baseUrl),
      cli,
      localConfig: ws.localConfig,
      localStore: ws.localStore,
      terminate: () => local!.terminate(),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
