/**
 * Entry of the single-file binary (`bun build --compile`): the same CLI as bin/barmanapi.js,
 * wired to the Node adapters, which Bun runs as they are. The docs page's files are embedded
 * (`type: 'file'`: each import is the path of the file's copy inside the binary).
 */
import { main } from '../node/cli.js';
import { embedDocsAssets } from '../node/docs-assets.js';
import bundle from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' };
import css from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' };
import icon from 'swagger-ui-dist/favicon-32x32.png' with { type: 'file' };

embedDocsAssets({ 'swagger-ui-bundle.js': bundle, 'swagger-ui.css': css, 'favicon-32x32.png': icon });
process.exitCode = await main(process.argv.slice(2));
