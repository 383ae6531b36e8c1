/** The name of the host `[barman]` describes, as users' `hosts` lists and `host=` name it. */
export const DEFAULT_HOST = 'default';

/** In a user's `hosts` list: every host, those added later too. */
export const EVERY_HOST = '*';

/** Why `name` cannot name a further host, or null: it goes into URLs, logs and users' rules. */
export function hostNameProblem(name: string): string | null {
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)) return `host name ${JSON.stringify(name)}: use 1 to 63 lowercase letters, digits, _ or - (starting with a letter or digit)`;
  if (name === DEFAULT_HOST) return `host name "${DEFAULT_HOST}" is the host of [barman]; give this one another name`;
  return null;
}
