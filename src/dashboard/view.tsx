/**
 * What every page shares: the layout (navigation by the user's rules, the sign-out form), times
 * as local time and age, sizes, status badges, CSRF fields and the API's errors. hono/jsx escapes
 * every value it renders; nothing here renders raw HTML.
 */
import type { Child, FC } from 'hono/jsx';
import type { AuthedUser } from '../context.js';
import { isAllowed, isAllowedAny } from '../auth/policy.js';
import type { Problem } from './internal.js';
import { ASSETS } from './assets.js';

/** One dashboard request, as its page sees it. */
export interface View {
  /** The dashboard's own path (below any mount point): `/dashboard`, `/backups/dashboard`. */
  base: string;
  user: AuthedUser;
  /** The session's CSRF token, for every form. */
  csrf: string;
  now: number;
}

/** Whether the user's rules allow the legacy route path `rule` (any of its names). */
export function may(view: View, rule: string, ...aliases: string[]): boolean {
  return aliases.length > 0 ? isAllowedAny(view.user, [rule, ...aliases]) : isAllowed(view.user, rule);
}

/** A path segment, encoded for a URL. */
export const seg = (s: string): string => encodeURIComponent(s);

export function serverPath(view: View, host: string, server: string): string {
  return `${view.base}/hosts/${seg(host)}/servers/${seg(server)}`;
}

export function age(ms: number): string {
  const s = Math.round(ms / 1000);
  // A clock a little behind the barman host's is no news.
  if (s < -60) return 'in the future';
  if (s < 10) return 'just now';
  if (s < 90) return `${s} s ago`;
  const min = Math.round(s / 60);
  if (min < 90) return `${min} min ago`;
  const h = Math.round(min / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

/** A time as UTC and its age; the page's script shows it in the browser's time zone. */
export const Time: FC<{ at: string | null | undefined; now: number }> = ({ at, now }) => {
  if (!at) return <span class="muted">never</span>;
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) return <span>{at}</span>;
  const utc = `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return (
    <span class="when">
      <time datetime={new Date(ms).toISOString()}>{utc}</time> <span class="age" data-age={String(ms)}>({age(now - ms)})</span>
    </span>
  );
};

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export type Health = 'ok' | 'warn' | 'fail' | 'unknown';
const HEALTH_TEXT: Record<Health, string> = { ok: 'OK', warn: 'Attention', fail: 'Failing', unknown: 'Unknown' };

/** A status: its colour and always its word (colour is never the only sign). */
export const Badge: FC<{ health: Health; title?: string }> = ({ health, title }) => (
  <span class={`badge ${health}`} title={title}>
    {HEALTH_TEXT[health]}
  </span>
);

export const Csrf: FC<{ view: View }> = ({ view }) => <input type="hidden" name="_csrf" value={view.csrf} />;

/** A form that POSTs to the dashboard with the session's CSRF token. */
export const PostForm: FC<{ view: View; action: string; children?: Child; class?: string }> = ({ view, action, children, class: cls }) => (
  <form method="post" action={action} class={cls}>
    <Csrf view={view} />
    {children}
  </form>
);

/** What the API said when it refused or failed. */
export const ProblemBox: FC<{ problem: Problem | null | undefined; status: number }> = ({ problem, status }) => (
  <div class="notice fail" role="alert">
    <strong>{problem?.title ?? `Error ${status}`}</strong>
    {problem?.detail ? <p>{problem.detail}</p> : null}
    {problem?.errors?.length ? (
      <ul>
        {problem.errors.map((e) => (
          <li>
            {e.parameter ? <code>{e.parameter}</code> : null} {e.message}
          </li>
        ))}
      </ul>
    ) : null}
  </div>
);

export const Notice: FC<{ kind: 'ok' | 'warn' | 'fail' | 'info'; children?: Child }> = ({ kind, children }) => (
  <div class={`notice ${kind}`} role={kind === 'fail' ? 'alert' : 'status'}>
    {children}
  </div>
);

interface LayoutProps {
  view: View | null;
  base: string;
  title: string;
  children?: Child;
  /** The navigation entry of this page. */
  current?: 'fleet' | 'jobs' | 'config' | 'users';
}

/** The whole page: a skip link, the navigation the user's rules allow, the content. */
export const Layout: FC<LayoutProps> = ({ view, base, title, children, current }) => {
  const link = (key: LayoutProps['current'], href: string, text: string) => (
    <li>
      <a href={href} aria-current={current === key ? 'page' : undefined}>
        {text}
      </a>
    </li>
  );
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{`${title} · barmanapi`}</title>
        <link rel="stylesheet" href={`${base}/assets/app.css?v=${ASSETS['app.css']!.etag}`} />
        <link rel="icon" href={`${base}/assets/icon.svg?v=${ASSETS['icon.svg']!.etag}`} type="image/svg+xml" />
        <script src={`${base}/assets/app.js?v=${ASSETS['app.js']!.etag}`} defer></script>
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href={`${base}/`}>
            barmanapi
          </a>
          {view ? (
            <nav aria-label="Main">
              <ul>
                {link('fleet', `${base}/`, 'Fleet')}
                {may(view, 'history/list') ? link('jobs', `${base}/jobs`, 'Jobs') : null}
                {may(view, 'config/barman') ? link('config', `${base}/config`, 'Configuration') : null}
                {may(view, 'auth/user/list') ? link('users', `${base}/users`, 'Users') : null}
              </ul>
            </nav>
          ) : null}
          {view ? (
            <PostForm view={view} action={`${base}/sign-out`} class="signout">
              <span class="who">{view.user.username}</span> <button type="submit">Sign out</button>
            </PostForm>
          ) : null}
        </header>
        <main id="main" tabindex={-1}>
          {children}
        </main>
      </body>
    </html>
  );
};

/** A table's column headers. */
export const Head: FC<{ cols: string[] }> = ({ cols }) => (
  <thead>
    <tr>
      {cols.map((c) => (
        <th scope="col">{c}</th>
      ))}
    </tr>
  </thead>
);
