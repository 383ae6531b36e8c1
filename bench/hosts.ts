/**
 * Several barman hosts: 20 hosts whose barman answers after a fixed delay (a stand-in script that
 * sleeps, then prints barman 3.4's real help and JSON output), half through the local adapter and
 * half over SSH to the integration environment's sshd (all local without it). The cold fleet view
 * (a fresh server: every host's catalogue, then its state) against one such host alone; the warm
 * fleet view over HTTP; then the same 20 beside a host whose port is closed and one whose TCP
 * stalls: the fleet view's bound, and the latency of requests for the other hosts meanwhile.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { HOST, REPO_ROOT, fetchJson, freePort, log, loginToken, median, round, tempDir, timed, withServedConfig, writeConfig, type BenchOutcome, type Figure } from './lib.js';

const HOSTS = 20;
const DELAY_S = 0.3;
const WARM_RUNS = 50;
const LATENCY_RUNS = 15;
const FLEET_TIMEOUT_S = 5;

interface ItEnv {
  ssh: { remotessh: string; knownHosts: string };
}

/** The stand-in barman: sleeps, then answers from barman 3.4's real outputs. */
function writeStandIn(dir: string): string {
  const help = join(dir, 'help');
  const out = join(dir, 'out');
  mkdirSync(help);
  mkdirSync(out);
  for (const f of readdirSync(join(REPO_ROOT, 'test', 'fixtures', 'barman-help', '3.4'))) copyFileSync(join(REPO_ROOT, 'test', 'fixtures', 'barman-help', '3.4', f), join(help, f));
  for (const f of ['list-server', 'show-server', 'status', 'list-backup']) copyFileSync(join(REPO_ROOT, 'test', 'fixtures', 'barman-output', '3.4', `${f}.json`), join(out, `${f}.json`));
  const script = join(dir, 'barman');
  writeFileSync(
    script,
    `#!/bin/sh
sleep ${DELAY_S}
while [ $# -gt 0 ]; do case "$1" in -c|-f) shift 2 ;; -q) shift ;; *) break ;; esac; done
case "$1" in
  -v) cat ${help}/_version.txt; exit 0 ;;
  --help) cat ${help}/_main.txt; exit 0 ;;
esac
if [ "$2" = "--help" ]; then cat "${help}/$1.txt"; exit 0; fi
case "$1" in
  list-server|list-servers) cat ${out}/list-server.json ;;
  show-server|show-servers) cat ${out}/show-server.json ;;
  status) cat ${out}/status.json ;;
  list-backup|list-backups) cat ${out}/list-backup.json ;;
  *) echo '{}' ;;
esac
`,
  );
  chmodSync(script, 0o755);
  return script;
}

/** Host sections: h1…h20, every other one over SSH when the environment is there. */
function hostSections(dir: string, script: string, env: ItEnv | null, extra: Record<string, Record<string, string>> = {}): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {};
  // The default host is a stand-in too (local): every host of the view answers alike.
  writeFileSync(join(dir, 'barman-h0.conf'), `[barman]\nbarman_home = ${join(dir, 'home-h0')}\n\n[pg]\ndescription = "h0"\n`);
  sections.barman = { configfile: join(dir, 'barman-h0.conf'), command: script, remote: 'false' };
  for (let i = 1; i <= HOSTS; i++) {
    const conf = join(dir, `barman-h${i}.conf`);
    writeFileSync(conf, `[barman]\nbarman_home = ${join(dir, `home-h${i}`)}\n\n[pg]\ndescription = "h${i}"\n`);
    const ssh = env !== null && i % 2 === 0;
    sections[`host:h${i}`] = {
      configfile: conf,
      command: script,
      ...(ssh ? { remote: 'true', remotessh: env.ssh.remotessh, known_hosts: env.ssh.knownHosts } : { remote: 'false' }),
    };
  }
  return { ...sections, ...extra };
}

async function withServer<T>(name: string, dir: string, sections: Record<string, Record<string, string>>, fn: (base: string, token: string) => Promise<T>): Promise<T> {
  const own = join(dir, name);
  mkdirSync(own);
  return withServedConfig(writeConfig(own, { cache: { refresh_interval: '0' }, application: { fleet_timeout: String(FLEET_TIMEOUT_S) }, ...sections }), fn);
}

async function fleet(base: string, token: string): Promise<{ ms: number; servers: number; hosts: Array<{ name: string; reachable: boolean | null }> }> {
  const { ms, value } = await timed(() => fetchJson(`${base}/fleet?token=${token}`));
  if (value.status !== 200) throw new Error(`/fleet answered ${value.status}`);
  const body = value.body as { list: unknown[]; hosts: Array<{ name: string; reachable: boolean | null }> };
  return { ms, servers: body.list.length, hosts: body.hosts };
}

/** Median ms of `/barman/list-server?host=…&fresh=1` (a barman run each). */
async function latency(base: string, token: string, host: string): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < LATENCY_RUNS; i++) {
    const r = await timed(() => fetchJson(`${base}/barman/list-server?host=${host}&fresh=1&token=${token}`));
    if (r.value.status !== 200) throw new Error(`list-server on ${host} answered ${r.value.status}`);
    ms.push(r.ms);
  }
  return median(ms);
}

export async function benchHosts(): Promise<BenchOutcome> {
  const envFile = join(process.env.BARMANAPI_IT_ROOT ?? '/tmp/barmanapi-it', 'env.json');
  const env = existsSync(envFile) ? (JSON.parse(readFileSync(envFile, 'utf8')) as ItEnv) : null;
  const dir = tempDir('hosts');
  chmodSync(dir.path, 0o755); // the SSH user runs the stand-in and reads its files
  const figures: Figure[] = [];
  const how = env ? `${HOSTS / 2} local + ${HOSTS / 2} over SSH` : `${HOSTS} local (no integration environment: no SSH)`;
  try {
    const script = writeStandIn(dir.path);
    const sections = hostSections(dir.path, script, env);
    // One such host alone, cold.
    const single = await withServer('single', dir.path, { barman: { configfile: join(dir.path, 'barman-h1.conf'), command: script, remote: 'false' } }, async (base, token) => (await fleet(base, token)).ms);
    log(`hosts: one host, cold fleet ${round(single, 0)} ms`);
    const { cold, warm, baseline } = await withServer('fleet', dir.path, sections, async (base, token) => {
      const first = await fleet(base, token);
      if (first.servers !== HOSTS + 1) throw new Error(`cold fleet listed ${first.servers} servers, expected ${HOSTS + 1}: ${JSON.stringify(first.hosts)}`);
      const runs: number[] = [];
      for (let i = 0; i < WARM_RUNS; i++) runs.push((await fleet(base, token)).ms);
      return { cold: first.ms, warm: median(runs), baseline: await latency(base, token, 'h2') };
    });
    log(`hosts: ${HOSTS + 1} hosts, cold fleet ${round(cold, 0)} ms, warm p50 ${round(warm, 1)} ms`);
    figures.push({ bench: 'hosts', name: `cold /fleet, ${HOSTS} hosts + the default one ÷ one host alone`, value: round(cold / single, 2), unit: 'ratio', target: '≤ 2', met: cold / single <= 2, note: `${round(cold, 0)} ms vs ${round(single, 0)} ms; barman answers after ${DELAY_S} s; ${how}` });
    figures.push({ bench: 'hosts', name: `warm /fleet over HTTP (${HOSTS + 1} hosts)`, value: round(warm, 1), unit: 'ms (p50)', target: '≤ 50', met: warm <= 50, note: `${WARM_RUNS} requests after the cold one` });

    // The same hosts beside one whose port is closed and one whose TCP stalls.
    const stall = createServer(() => undefined).listen(0, HOST);
    await once(stall, 'listening');
    const stalledPort = (stall.address() as AddressInfo).port;
    const closedPort = await freePort();
    try {
      const broken = (port: number) => ({ configfile: join(dir.path, 'barman-h1.conf'), command: script, remote: 'true', remotessh: `ssh -p ${port} -o BatchMode=yes bench@${HOST}`, known_hosts: join(dir.path, 'known_hosts'), trust_on_first_use: 'true' });
      const withDead = hostSections(dir.path, script, env, { 'host:closed': broken(closedPort), 'host:stalled': broken(stalledPort) });
      const { bounded, states, during } = await withServer('dead', dir.path, withDead, async (base, token) => {
        await fleet(base, token); // warm the live hosts, as above
        const second = await fleet(base, token);
        // Requests for a live host while others keep asking the dead ones.
        let stop = false;
        const pester = (host: string) =>
          (async () => {
            while (!stop) await fetchJson(`${base}/barman/list-server?host=${host}&token=${token}`).catch(() => undefined);
          })();
        const pests = [pester('stalled'), pester('closed')];
        const l = await latency(base, token, 'h2');
        stop = true;
        await Promise.race([Promise.all(pests), new Promise((r) => setTimeout(r, 30_000))]);
        return { bounded: second.ms, states: second.hosts.filter((h) => h.name === 'closed' || h.name === 'stalled'), during: l };
      });
      const within = bounded <= FLEET_TIMEOUT_S * 1000 + 1000 && states.every((h) => h.reachable !== true);
      log(`hosts: with a closed and a stalled host, fleet ${round(bounded, 0)} ms (${states.map((h) => `${h.name}: ${h.reachable}`).join(', ')}); h2 latency ${round(during, 0)} vs ${round(baseline, 0)} ms`);
      figures.push({ bench: 'hosts', name: '/fleet with a closed and a stalled host', value: round(bounded, 0), unit: 'ms', target: `≤ ${FLEET_TIMEOUT_S * 1000 + 1000}, both marked`, met: within, note: `[application] fleet_timeout = ${FLEET_TIMEOUT_S}; ${states.map((h) => `${h.name}: reachable ${h.reachable}`).join(', ')}` });
      const limit = baseline * 1.25 + 50;
      figures.push({ bench: 'hosts', name: 'another host\'s list-server (fresh) while two are dead and asked for ÷ without them', value: round(during, 0), unit: 'ms (median)', target: `≤ ${round(limit, 0)} (1.25 × ${round(baseline, 0)} + 50)`, met: during <= limit, note: `${LATENCY_RUNS} runs each; two clients keep asking the dead hosts meanwhile` });
    } finally {
      stall.close();
    }
  } finally {
    dir.remove();
  }
  return { figures };
}
