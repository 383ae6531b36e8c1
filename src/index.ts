/**
 * The runtime-agnostic core (`barmanapi/core`): the Hono app, its ports and the settings loader.
 * Nothing here reads files or starts processes; the Node adapters (`barmanapi`, `barmanapi/node`)
 * and the memory adapters (`barmanapi/memory`) supply the ports.
 */
export { createApi, createApp, type Api } from './app.js';
export type { AppDeps, AppEnv, AuthedUser } from './context.js';
export { HostError, type HostErrorKind } from './ports.js';
export type {
  BarmanHost,
  Clock,
  HostFileInfo,
  HostWriteResult,
  JobHandle,
  JobRunner,
  JobStart,
  Logger,
  LogLevel,
  RunOptions,
  RunResult,
  Storage,
  TextFile,
} from './ports.js';
export { loadSettings, SettingsError, type Settings, type SettingsInput } from './settings/load.js';
export { SETTINGS, type SettingSpec } from './settings/schema.js';
export type { PublicUser } from './auth/users.js';
export { isAllowed, holdsGrant, whyNotWithin, hostReach, reachesHost } from './auth/policy.js';
export { ApiError } from './http/errors.js';
export type { ErrorBody } from './http/envelope.js';
export { JobService } from './jobs/service.js';
