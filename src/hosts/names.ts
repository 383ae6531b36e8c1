/** The name of the host `[barman]` describes, as users' `hosts` lists and `host=` name it. */
export const DEFAULT_HOST = 'default';

/** In a user's `hosts` list: every host, those added later too. */
export const EVERY_HOST = '*';

/** A further host's name: it goes into URLs, logs and users' rules. */
export const HOST_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * A host named in an answer, a job or a history row: `{ host }` for any host but the default one,
 * whose answers and records keep the shape they had before there were several hosts.
 */
export function hostField(name: string | undefined): { host?: string } {
  return name === undefined || name === DEFAULT_HOST ? {} : { host: name };
}

/** Why `name` cannot name a further host, or null. */
export function hostNameProblem(name: string): string | null {
  if (!HOST_NAME_RE.test(name)) return `host name ${JSON.stringify(name)}: use 1 to 63 lowercase letters, digits, _ or - (starting with a letter or digit)`;
  if (name === DEFAULT_HOST) return `host name "${DEFAULT_HOST}" is the host of [barman]; give this one another name`;
  return null;
}
