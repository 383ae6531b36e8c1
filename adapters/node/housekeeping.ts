import type { Api } from '../../src/app.js';
import type { AppDeps } from '../../src/context.js';
import { hostField } from '../../src/hosts/names.js';

const PUMP_MS = 2000;
const ARCHIVE_MS = 24 * 3600_000;
const DISCOVERY_DELAY_MS = 3000;

/**
 * What a serving process does besides answering requests: find jobs left by an earlier run,
 * start queued ones (now and every two seconds), archive past months (now and daily), discover
 * barman's commands so the first /barman request does not wait, get the job runner ready, and keep barman's state current
 * (the refresher). Returns a stop function.
 */
export async function startHousekeeping(api: Api, deps: AppDeps): Promise<() => Promise<void>> {
  const { jobs, hosts } = api;
  // A few seconds after start, so the burst of `barman --help` processes does not slow the first
  // requests (their runs are background work: they take a barman slot only when no request
  // waits); a /barman/<command> request before then asks only for its own command's help.
  const discover = setTimeout(() => {
    for (const h of hosts.list) {
      void h.catalogue.get().catch((e) => deps.logger.log('warn', `barman command discovery failed${hostField(h.name).host ? ` on host ${h.name}` : ''}: ${(e as Error).message}`));
    }
  }, DISCOVERY_DELAY_MS);
  discover.unref();
  const found = await jobs.recover();
  if (found.running + found.queued + found.lost > 0) deps.logger.log('info', 'jobs found at start', found);
  const pump = () => jobs.pump().catch((e) => deps.logger.log('error', `starting queued jobs failed: ${(e as Error).message}`));
  const archive = () => jobs.archivePastMonths().catch((e) => deps.logger.log('error', `archiving failed: ${(e as Error).message}`));
  await pump();
  void archive();
  deps.runner?.prepare?.(); // e.g. a runner started ahead for the next job
  const timers = [setInterval(pump, PUMP_MS), setInterval(archive, ARCHIVE_MS)];
  timers.forEach((t) => t.unref());
  // Keeps barman's state current and notices its changes, after the catalogue's first build.
  const refresh = setTimeout(() => hosts.list.forEach((h) => h.refresher.start()), DISCOVERY_DELAY_MS * 2);
  refresh.unref();
  // Deliveries left pending by an earlier run go out now, at their times.
  api.webhooks.start();
  return async () => {
    clearTimeout(discover);
    clearTimeout(refresh);
    timers.forEach(clearInterval);
    await Promise.all([...hosts.list.map((h) => h.refresher.stop()), deps.runner?.close?.()]);
    await api.webhooks.stop(); // after the rounds: what they told last is stored
  };
}
