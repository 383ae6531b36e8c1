import type { Deps } from '../context.js';
import { LoginThrottle } from './throttle.js';
import { createTokenSigner, type TokenSigner } from './tokens.js';
import { UserDirectory } from './users.js';

const SECRET_FILE = 'config/token.secret';

/** The auth state of one app instance: users, the signer, the login throttle. */
export interface AuthService {
  users: UserDirectory;
  throttle: LoginThrottle;
  signer(): Promise<TokenSigner>;
  /** The signer once signer() has made it, without waiting; undefined until then. */
  readySigner(): TokenSigner | undefined;
}

export function createAuthService(deps: Deps): AuthService {
  const users = new UserDirectory({
    file: deps.usersFile,
    clock: deps.clock,
    // A getter: /config/barmanapi/change updates the setting live.
    get minPasswordLength() {
      return deps.settings.current().user.minPasswordLength;
    },
    iterations: deps.passwordIterations,
  });
  let signer: Promise<TokenSigner> | undefined;
  let ready: TokenSigner | undefined;
  return {
    users,
    throttle: new LoginThrottle(),
    signer() {
      if (!signer) {
        signer = tokenSecret(deps).then((secret) => (ready = createTokenSigner(secret)));
        signer.catch(() => (signer = undefined));
      }
      return signer;
    },
    readySigner: () => ready,
  };
}

/** The configured secret, or one generated once and kept in the store (mode of the store). */
export async function tokenSecret(deps: Pick<Deps, 'settings' | 'storage'>): Promise<string> {
  if (deps.settings.current().authToken.secret) return deps.settings.current().authToken.secret;
  const existing = (await deps.storage.readText(SECRET_FILE))?.trim();
  if (existing) return existing;
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const secret = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  // Created only if absent: of two processes starting on a new store, the first one's secret wins.
  await deps.storage.createExclusive(SECRET_FILE, `${secret}\n`);
  const stored = (await deps.storage.readText(SECRET_FILE))?.trim();
  if (!stored) throw new Error(`${SECRET_FILE} in the store is empty; delete it to have a new secret generated`);
  return stored;
}
