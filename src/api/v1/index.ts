/**
 * API v1 below /api/v1: typed resources described by an OpenAPI 3.1 document (document.ts),
 * errors as problem+json, reads with ETags. Each route follows the access rules of one legacy
 * route (its `rule`), through the same gate as the legacy routes (http/authenticate.ts).
 */
import type { Deps, SettingsHolder } from '../../context.js';
import type { AuthService } from '../../auth/service.js';
import type { HostSet } from '../../hosts/services.js';
import type { JobService } from '../../jobs/service.js';
import type { HistoryRoutesOptions } from '../../jobs/routes.js';
import { authRoutes } from './auth.js';
import { docsRoutes } from './docs.js';
import { openApiDocument } from './document.js';
import { jobDetail, jobRoutes } from './jobs.js';
import { actionRoutes } from './actions.js';
import { userRoutes } from './users.js';
import { configRoutes } from './config.js';
import { settingsRoutes } from './settings.js';
import type { ConfigTargets } from '../../barman-config/routes.js';
import { readRoutes } from './reads.js';
import type { V1Route } from './route.js';
import { webhookRoutes } from '../../webhooks/routes.js';
import type { WebhookOutbox } from '../../webhooks/outbox.js';

export interface V1 {
  routes: V1Route[];
  /** The OpenAPI document (built on first use). */
  document: () => Promise<Record<string, unknown>>;
}

export function v1Api(deps: Deps, auth: AuthService, hosts: HostSet, jobs: JobService, settings: SettingsHolder, history: HistoryRoutesOptions, configs: ConfigTargets, webhooks: WebhookOutbox): V1 {
  const routes: V1Route[] = [];
  const document = openApiDocument(routes);
  routes.push(
    ...authRoutes(deps, auth, hosts),
    ...readRoutes(hosts, settings, () => deps.clock.now()),
    ...jobRoutes(deps, jobs, history),
    ...actionRoutes(hosts, jobs, (v) => jobDetail(v, jobs)),
    ...userRoutes(deps, auth),
    ...configRoutes(configs),
    ...settingsRoutes(deps),
    ...webhookRoutes(webhooks, deps.clock),
    ...docsRoutes(document, deps.docsAssets),
  );
  return { routes, document };
}

export { v1Dispatch, v1Gate } from './gate.js';
