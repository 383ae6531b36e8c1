import { CatalogueStore } from '../barman/catalogue.js';
import { orphanedJobs, type OrphanedJobs } from '../jobs/orphans.js';
import { jobHost, type JobRecord } from '../jobs/model.js';
import type { HostSet } from './services.js';

/** barman's view of a job whose runner died, asked of the host the job ran on. */
export function jobOrphans(hosts: HostSet): OrphanedJobs {
  const byHost = new Map<string, OrphanedJobs>();
  const of = (job: JobRecord): OrphanedJobs | null => {
    const name = jobHost(job);
    const host = hosts.find(name);
    if (!host) return null; // a host since removed from the settings: nobody can tell
    let orphans = byHost.get(name);
    if (!orphans) {
      orphans = orphanedJobs(host.deps.host, host.deps.settings, async (command) => CatalogueStore.find(await host.catalogue.get(), command) !== undefined);
      byHost.set(name, orphans);
    }
    return orphans;
  };
  return {
    isBusy: async (job) => (await of(job)?.isBusy(job)) ?? null,
    outcome: async (job, claim) => (await of(job)?.outcome(job, claim)) ?? null,
    terminate: async (job) => (await of(job)?.terminate(job)) ?? false,
  };
}
