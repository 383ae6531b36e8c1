/**
 * The seed's routes, for the document (tag `legacy`): each answers GET (parameters in the query)
 * and POST (the same parameters as a JSON object or a form). `/barman/{command}` takes the
 * parameters the named command takes on that host's barman (its --help), so they are documented
 * as open here; /barman/{command}/help lists them.
 */
import type { LazySchema, ParamsSchema } from '../../http/schema.js';
import { noParams } from '../../http/schema.js';
import { userAddParams, userChangeParams, userRemoveParams } from '../../auth/routes.js';
import { historyCancelParams, historyListParams, historyResultParams } from '../../jobs/routes.js';
import { templateParams } from '../../barman-config/routes.js';
import { configChangeParams } from '../../barman-config/change-route.js';
import { settingsChangeParams } from '../../settings/routes.js';
import type { SchemaName } from './schemas.js';

export interface LegacyRoute {
  path: string;
  summary: string;
  description?: string;
  /** The parameters' schema; 'open': any named parameters (those of a barman command). */
  params: LazySchema<ParamsSchema> | 'open';
  /** Takes `host=` (several barman hosts). */
  host?: boolean;
  /** Takes Basic authentication (the /auth routes). */
  basic?: boolean;
  answer?: SchemaName;
  /** Also answers 202 (a job started, a cancel under way). */
  accepted?: boolean;
  /** follow=true streams Server-Sent Events. */
  events?: boolean;
}

const HOST_NOTE = 'host= names the barman host (default: [barman]).';

export const LEGACY_ROUTES: LegacyRoute[] = [
  { path: '/auth/token', summary: 'A token for Basic credentials', params: noParams, basic: true, answer: 'LegacyToken' },
  { path: '/auth/user', summary: 'Your own rules', params: noParams, basic: true },
  { path: '/auth/user/list', summary: 'Every user and their rules', params: noParams, basic: true },
  { path: '/auth/user/add', summary: 'Add a user (rights within your own)', params: userAddParams, basic: true },
  { path: '/auth/user/change', summary: 'Change a user (rights within your own)', params: userChangeParams, basic: true },
  { path: '/auth/user/remove', summary: 'Remove a user (rights within your own)', params: userRemoveParams, basic: true },
  { path: '/barman/help', summary: "The host's barman commands", params: noParams, host: true },
  { path: '/barman/reload', summary: "Read the host's barman commands again", params: noParams, host: true },
  { path: '/barman/{command}/help', summary: 'What a barman command takes', params: noParams, host: true },
  {
    path: '/barman/{command}', summary: 'Run a barman command', params: 'open', host: true, accepted: true,
    description: `Positional arguments by the name barman's help gives them, options by long name without dashes, flags with true/false. Async commands answer 202 with a ticket for /history/result. ${HOST_NOTE}`,
  },
  { path: '/history/list', summary: "A month's jobs", params: historyListParams },
  { path: '/history/result', summary: "A job's result, or with follow=true its log as Server-Sent Events", params: historyResultParams, events: true },
  { path: '/history/cancel', summary: 'Cancel a job', params: historyCancelParams, accepted: true },
  { path: '/config/barman', summary: "barman's configuration, section by section", params: noParams, host: true },
  { path: '/config/barman/help', summary: "The options of the host's barman", params: noParams, host: true },
  { path: '/config/barman/reload', summary: "Read the host's barman options again", params: noParams, host: true },
  { path: '/config/barman/template', summary: 'A configuration template', params: templateParams, host: true },
  { path: '/config/barman/change', summary: "Change barman's configuration (section.key=value, remove=section.key)", params: configChangeParams, host: true },
  { path: '/config/barmanapi', summary: "This API's settings (secrets redacted)", params: noParams },
  { path: '/config/barmanapi/change', summary: "Change this API's settings (section.key=value)", params: settingsChangeParams },
  { path: '/fleet', summary: 'Every server of every host you reach, with its state', params: noParams },
];
