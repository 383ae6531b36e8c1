/**
 * Entry of the single-file binary (`bun build --compile`): the same CLI as bin/barmanapi.js,
 * wired to the Node adapters, which Bun runs as they are.
 */
import { main } from '../node/cli.js';

process.exitCode = await main(process.argv.slice(2));
