/**
 * The document and its docs page (Swagger UI), public: no token is needed to read how the API is
 * called. Every file of the page is served by the API itself (DocsAssets), so it works on a
 * machine with no way out; its Content-Security-Policy lets it load nothing from elsewhere.
 */
import type { Context } from 'hono';
import type { DocsAssets } from '../../ports.js';
import { ApiError, notFound } from '../../http/errors.js';
import { noParams, parseParams } from '../../http/schema.js';
import { queryParams } from '../../http/params.js';
import type { V1Route } from './route.js';

/** The page's files: name → content type. Nothing else is served from the asset folder. */
export const DOCS_FILES: Readonly<Record<string, string>> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// Relative URLs: the page is /…/api/v1/docs, so they resolve below any mount point.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>barmanapi: API v1</title>
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`;

// No validator badge (it would call validator.swagger.io); the document from next to the page.
const INIT = `window.ui = SwaggerUIBundle({
  url: 'openapi.json',
  dom_id: '#swagger-ui',
  validatorUrl: null,
  deepLinking: true,
  tryItOutEnabled: false,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

const pageHeaders = (type: string) => ({ 'Content-Type': type, 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' });

export function docsRoutes(document: () => Promise<unknown>, assets: DocsAssets | undefined): V1Route[] {
  const meta = { tag: 'meta', rule: null } as const;
  return [
    {
      ...meta, method: 'GET', path: '/openapi.json', operationId: 'getOpenApiDocument',
      summary: 'This document (OpenAPI 3.1)',
      responses: { 200: { description: 'The document', contentType: 'application/json' } },
      handle: async (c) => {
        await parseParams(noParams, queryParams(c));
        return c.body(JSON.stringify(await document()), 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' });
      },
    },
    {
      ...meta, method: 'GET', path: '/docs', operationId: 'getDocsPage',
      summary: 'The docs page: this document, readable (all its files come from this API)',
      responses: { 200: { description: 'The page', contentType: 'text/html' } },
      errors: [501],
      handle: async (c) => {
        await parseParams(noParams, queryParams(c));
        if (!assets) throw new ApiError(501, 'DocsUnavailable', 'the docs page\'s files are not part of this installation; the document is at openapi.json');
        return c.body(PAGE, 200, pageHeaders('text/html; charset=utf-8'));
      },
    },
    {
      ...meta, method: 'GET', path: '/docs/{asset}', operationId: 'getDocsAsset',
      pathParams: { asset: `One of the page's files: init.js, ${Object.keys(DOCS_FILES).join(', ')}` },
      summary: "A file of the docs page",
      responses: { 200: { description: 'The file', contentType: ['text/javascript', 'text/css', 'image/png'] } },
      handle: async (c, p) => asset(c, p.asset!, assets),
    },
  ];
}

async function asset(c: Context, name: string, assets: DocsAssets | undefined): Promise<Response> {
  await parseParams(noParams, queryParams(c));
  if (name === 'init.js') return c.body(INIT, 200, pageHeaders('text/javascript; charset=utf-8'));
  const type = DOCS_FILES[name];
  if (!type) throw notFound(`no file ${JSON.stringify(name.slice(0, 64))} on the docs page`, { parameter: 'asset' });
  const bytes = assets ? await assets(name) : null;
  if (!bytes) throw notFound(`the docs page's file ${name} is not part of this installation`, { parameter: 'asset' });
  return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400', 'X-Content-Type-Options': 'nosniff' });
}
