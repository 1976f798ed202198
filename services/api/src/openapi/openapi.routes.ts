import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { Router, type Application, type RequestHandler } from 'express';
import { z } from 'zod';
import { describeRoute } from '@bursar/platform';
import packageJson from '../../package.json' with { type: 'json' };
import { buildOpenApiDocument } from './openapi.js';

const DOCS_PATH = '/api/docs';
const SPEC_PATH = '/api/openapi.json';

/** The Swagger UI files the page loads, served from the installed package (never a CDN). */
const SWAGGER_UI_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/absolute-path.js'));
const SWAGGER_UI_FILES = new Set([
  'swagger-ui.css',
  'swagger-ui.css.map',
  'swagger-ui-bundle.js',
  'swagger-ui-bundle.js.map',
  'favicon-16x16.png',
  'favicon-32x32.png',
]);

// Scripts are files, not inline, so the page also works under a CSP without 'unsafe-inline'.
// validatorUrl null: Swagger UI would otherwise load a badge from validator.swagger.io.
const INIT_SCRIPT = `window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(SPEC_PATH)},
  dom_id: '#swagger-ui',
  validatorUrl: null,
  deepLinking: true,
});
`;

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Bursar API</title>
    <link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css" />
    <link rel="icon" type="image/png" href="${DOCS_PATH}/favicon-32x32.png" sizes="32x32" />
    <link rel="icon" type="image/png" href="${DOCS_PATH}/favicon-16x16.png" sizes="16x16" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
    <script src="${DOCS_PATH}/init.js"></script>
  </body>
</html>
`;

/**
 * `GET /api/openapi.json` and `GET /api/docs` (Swagger UI), both public.
 * Mount after every other router: the document is generated from the app
 * that serves the request, once, on the first request.
 */
export function openapiRoutes(): Router {
  const router = Router();
  const documents = new WeakMap<Application, string>();

  const spec: RequestHandler = (req, res) => {
    let document = documents.get(req.app);
    if (document === undefined) {
      const info = { title: 'Bursar API', version: packageJson.version };
      document = JSON.stringify(buildOpenApiDocument(req.app, info));
      documents.set(req.app, document);
    }
    res.type('application/json').send(document);
  };
  router.get(
    SPEC_PATH,
    describeRoute(spec, {
      summary: 'This OpenAPI 3.1 document',
      tags: ['docs'],
      response: z.looseObject({}),
    }),
  );

  const page: RequestHandler = (_req, res) => {
    res.type('html').send(PAGE);
  };
  router.get(
    DOCS_PATH,
    describeRoute(page, {
      summary: 'Interactive API documentation (Swagger UI)',
      tags: ['docs'],
      response: z.string(),
      responseType: 'text/html',
    }),
  );

  // The page's assets: middleware rather than routes, so they are not operations in the document.
  router.use(DOCS_PATH, (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const name = req.path.slice(1);
    if (name === 'init.js') {
      res.type('text/javascript').setHeader('Cache-Control', 'no-cache');
      res.send(INIT_SCRIPT);
    } else if (SWAGGER_UI_FILES.has(name)) {
      res.sendFile(name, { root: SWAGGER_UI_DIR, maxAge: '1d' }, (error) => {
        if (error) next(error);
      });
    } else {
      next();
    }
  });

  return router;
}
