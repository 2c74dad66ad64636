import type { FastifyInstance } from 'fastify';
import { decodeUdi } from '../../udi/udi-decode';
import { requireRole } from '../context';
import type { HubApiContext } from '../server';

/**
 * `POST /api/v1/barcodes/decode` (any role): body text/plain, the scanned data as the scanner sent it.
 * GS1 and HIBCC data (`decodeUdi`); the answer's `scheme` says which.
 */
export function registerBarcodeRoutes(app: FastifyInstance, _ctx: HubApiContext): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
    scope.post('/api/v1/barcodes/decode', { preHandler: requireRole('ingest', 'operator', 'auditor') }, async (req) => {
      const text = Buffer.isBuffer(req.body) ? req.body.toString('latin1') : '';
      return decodeUdi(text);
    });
  });
}
