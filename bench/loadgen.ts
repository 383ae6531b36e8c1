/**
 * A small HTTP load generator, run as its own process so that it never shares the server's
 * event loop: N keep-alive connections, each sending its next request as soon as the previous
 * answer is read, for a fixed time. Prints one JSON line: requests, non-2xx, errors, seconds.
 *
 *   node dist/bench/loadgen.js URL CONNECTIONS SECONDS
 */
import { Agent, request } from 'node:http';

export interface LoadResult {
  requests: number;
  non2xx: number;
  errors: number;
  seconds: number;
  rps: number;
}

async function generate(url: string, connections: number, seconds: number): Promise<LoadResult> {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1') throw new Error('the load generator only sends to 127.0.0.1');
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let requests = 0;
  let non2xx = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const once = () =>
    new Promise<void>((resolve) => {
      const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, agent }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => {
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) > 299) non2xx += 1;
          requests += 1;
          resolve();
        });
      });
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      req.end();
    });
  const worker = async () => {
    while (performance.now() < deadline) await once();
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return { requests, non2xx, errors, seconds: elapsed, rps: requests / elapsed };
}

const [url, connections, seconds] = process.argv.slice(2);
if (!url || !connections || !seconds) {
  process.stderr.write('usage: loadgen URL CONNECTIONS SECONDS\n');
  process.exit(2);
}
generate(url, Number(connections), Number(seconds)).then(
  (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
  (e: unknown) => {
    process.stderr.write(`loadgen: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
