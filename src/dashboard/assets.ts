/**
 * The dashboard's files, part of the build as modules: the same bytes on Node, in the single
 * binary and in an embedding app, nothing fetched from elsewhere (so it works air-gapped and
 * under a Content-Security-Policy that allows only this origin). The script only adds to
 * server-rendered pages: local times and ages, and a job's log as it streams.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

const CSS = `
:root { --fg: #1b1f24; --muted: #545b64; --bg: #fff; --line: #d5d9de; --link: #0b57d0; --panel: #f5f7f9;
  --ok-fg: #0a5c2e; --ok-bg: #d8f5e1; --warn-fg: #6b4a00; --warn-bg: #fff0c2; --fail-fg: #8a1020; --fail-bg: #fde0e3;
  --info-fg: #1f4474; --info-bg: #e0ecfb; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.45; }
a { color: var(--link); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, [tabindex]:focus-visible { outline: 3px solid #0b57d0; outline-offset: 2px; box-shadow: 0 0 0 5px #fff; }
header.top a:focus-visible, header.top button:focus-visible { outline-color: #fff; box-shadow: 0 0 0 5px #0b57d0; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem; z-index: 10; }
.skip:focus { left: .5rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem; background: #17324d; color: #fff; }
header.top a { color: #fff; }
.brand { font-weight: 700; text-decoration: none; font-size: 1.1rem; }
header nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
header nav a[aria-current=page] { font-weight: 700; text-decoration-thickness: 3px; }
.signout { margin-left: auto; display: flex; align-items: center; gap: .5rem; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
.muted { color: var(--muted); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--panel); white-space: nowrap; }
tbody th { font-weight: 600; } tbody th .muted { font-weight: 400; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge, .status { display: inline-block; padding: .05rem .45rem; border-radius: .6rem; font-size: .85rem; font-weight: 600; white-space: nowrap; }
.ok { --c: var(--ok-fg); --b: var(--ok-bg); } .warn { --c: var(--warn-fg); --b: var(--warn-bg); }
.fail { --c: var(--fail-fg); --b: var(--fail-bg); } .info, .unknown { --c: var(--info-fg); --b: var(--info-bg); }
.badge, .status, .notice { color: var(--c); background: var(--b); }
tr.fail > td:first-child { box-shadow: inset 4px 0 var(--fail-fg); } tr.warn > td:first-child { box-shadow: inset 4px 0 var(--warn-fg); }
.reasons { font-size: .85rem; color: var(--muted); margin-top: .2rem; }
ul.reasons { color: var(--fg); }
.warn-text { color: var(--warn-fg); }
.notice { padding: .6rem .8rem; border-radius: .4rem; margin: .6rem 0; }
.notice p { margin: .3rem 0 0; }
.hosts { list-style: none; padding: 0; } .hosts li { padding: .25rem 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 1rem; }
.card { border: 1px solid var(--line); border-radius: .5rem; padding: .5rem 1rem 1rem; background: #fff; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: .5rem 0; }
dt { font-weight: 600; } dd { margin: 0; overflow-wrap: anywhere; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .8rem 0; }
.actions form { margin: 0; }
button, .button { font: inherit; padding: .4rem .9rem; border-radius: .35rem; border: 1px solid #6b7785; background: #fff; color: var(--fg); cursor: pointer; text-decoration: none; display: inline-block; }
button.primary { background: #0b57d0; border-color: #0b57d0; color: #fff; }
button.danger, .button.danger { background: #b3261e; border-color: #b3261e; color: #fff; }
form.stacked { display: grid; gap: .7rem; max-width: 36rem; }
form.stacked label { display: grid; gap: .2rem; font-weight: 600; }
form.stacked label.check { display: flex; gap: .5rem; font-weight: 400; align-items: center; }
form.row { display: flex; gap: .3rem; margin: 0; }
input, select { font: inherit; padding: .35rem .45rem; border: 1px solid #6b7785; border-radius: .3rem; max-width: 100%; }
.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; margin-bottom: 1rem; }
.filters label { display: grid; gap: .15rem; font-size: .9rem; font-weight: 600; }
.output-wrap { margin: .5rem 0; }
pre.output { margin: 0; background: #10161d; color: #e6edf3; padding: .8rem; border-radius: .4rem; overflow: auto; max-height: 60vh; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85rem; }
.crumbs { font-size: .9rem; margin-bottom: .3rem; }
.tabs { display: flex; gap: 1rem; margin-bottom: 1rem; } .tabs a[aria-current=page] { font-weight: 700; }
.job { display: block; }
.signin { max-width: 24rem; margin: 3rem auto; }
@media (max-width: 640px) {
  main { padding: .6rem; }
  .signout { margin-left: 0; }
  table.fleet thead { display: none; }
  table.fleet, table.fleet tbody, table.fleet tr, table.fleet td, table.fleet tbody th { display: block; width: 100%; }
  table.fleet tr { border: 1px solid var(--line); border-radius: .4rem; margin-bottom: .6rem; padding: .3rem; }
  table.fleet td, table.fleet tbody th { border: 0; padding: .15rem .3rem; }
  table.fleet td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; }
  table.fleet td.num { text-align: left; }
  table.fleet td[data-label=Status]::before { content: none; }
}
`;

const JS = `'use strict';
(function () {
  function age(ms) {
    var s = Math.round(ms / 1000);
    if (s < -60) return 'in the future';
    if (s < 10) return 'just now';
    if (s < 90) return s + ' s ago';
    var min = Math.round(s / 60);
    if (min < 90) return min + ' min ago';
    var h = Math.round(min / 60);
    if (h < 48) return h + ' h ago';
    return Math.round(h / 24) + ' d ago';
  }
  function times() {
    document.querySelectorAll('time[datetime]').forEach(function (t) {
      var d = new Date(t.getAttribute('datetime'));
      if (!isNaN(d.getTime())) { t.textContent = d.toLocaleString(); t.title = d.toISOString(); }
    });
    ages();
  }
  function ages() {
    document.querySelectorAll('[data-age]').forEach(function (el) {
      el.textContent = '(' + age(Date.now() - Number(el.getAttribute('data-age'))) + ')';
    });
  }
  function follow(pre) {
    var url = pre.getAttribute('data-stream');
    var status = document.getElementById('job-status');
    var note = document.getElementById('log-note');
    var started = false;
    var source = new EventSource(url);
    function atEnd() { return pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4; }
    source.addEventListener('log', function (e) {
      var stick = atEnd();
      // The stream starts at the log's first byte; a reconnection goes on from its last event.
      if (!started) { pre.textContent = ''; started = true; }
      pre.appendChild(document.createTextNode(JSON.parse(e.data)));
      if (stick) pre.scrollTop = pre.scrollHeight;
    });
    source.addEventListener('status', function (e) { if (status) status.textContent = e.data; });
    source.addEventListener('end', function (e) {
      source.close();
      var job = JSON.parse(e.data);
      if (status) { status.textContent = job.status; status.className = 'status ' + (job.status === 'done' ? 'ok' : 'fail'); }
      var exit = document.getElementById('job-exit');
      if (exit && job.exit_code !== null && job.exit_code !== undefined) exit.textContent = String(job.exit_code);
      if (note) note.textContent = 'The job has ended.';
      document.querySelectorAll('form[action$="/cancel"]').forEach(function (f) { f.remove(); });
      document.body.setAttribute('data-job-ended', job.status);
    });
    source.addEventListener('error', function () {
      // Closed for good (the session ended, the job is gone): said, not silently stopped.
      if (source.readyState === EventSource.CLOSED) {
        if (note) note.textContent = 'The log stopped following the job: reload the page (you may have to sign in again).';
        document.body.setAttribute('data-job-ended', 'unknown');
      }
    });
  }
  document.addEventListener('DOMContentLoaded', function () {
    times();
    setInterval(ages, 30000);
    var pre = document.getElementById('job-log');
    if (pre && pre.getAttribute('data-stream')) follow(pre);
  });
})();
`;

const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#17324d"/><path d="M8 9h16v4H8zm0 6h16v4H8zm0 6h10v4H8z" fill="#8fd0ff"/></svg>`;

export interface Asset {
  body: string;
  type: string;
  /** A hash of the content: asset URLs carry it, so a cached copy is never stale. */
  etag: string;
}

const asset = (body: string, type: string): Asset => ({ body, type, etag: bytesToHex(sha256(utf8ToBytes(body))).slice(0, 16) });

export const ASSETS: Readonly<Record<string, Asset>> = {
  'app.css': asset(CSS, 'text/css; charset=utf-8'),
  'app.js': asset(JS, 'text/javascript; charset=utf-8'),
  'icon.svg': asset(ICON, 'image/svg+xml'),
};
