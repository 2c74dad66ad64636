import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LotBridgeError } from '../../errors';
import type { IngestReceipt, RawInbound } from '../../connectors/types';
import { requireRole } from '../context';
import type { HubApiContext } from '../server';

/** A request body as read by the ingest route: bytes up to the limit, and the full size. */
interface RawBody {
  buf: Buffer;
  size: number;
  oversize: boolean;
  /** The first bytes of an oversize body (envelope only). */
  head?: Buffer;
}

/** How much of an oversize body is kept for its envelope (never stored). */
const OVERSIZE_HEAD_BYTES = 64 * 1024;

/** HTTP status of a receipt: 202 accepted, 200 duplicate, 422 rejected (413 when over the size limit). */
export function receiptStatus(r: IngestReceipt): number {
  if (r.status === 'accepted') {
    return 202;
  }
  if (r.status === 'duplicate') {
    return 200;
  }
  return r.error.code === 'LB_ERR_INGEST_TOO_LARGE' ? 413 : 422;
}

/**
 * `POST /api/v1/ingest/{connectorId}`: the body is taken raw (no JSON parsing, no 1 MiB default
 * limit) so it is stored before anything reads it; bodies over LOTBRIDGE_MAX_BODY_BYTES are counted
 * and dropped, and only their metadata is stored.
 */
export function registerIngestRoutes(app: FastifyInstance, ctx: HubApiContext): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { bodyLimit: Number.MAX_SAFE_INTEGER }, (_req, payload, done) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let kept = 0;
      payload.on('data', (chunk: Buffer) => {
        size += chunk.length;
        // bytes past the limit are dropped (the body is then oversize; what was kept is its head)
        const take = Math.min(chunk.length, ctx.config.maxBodyBytes - kept);
        if (take > 0) {
          chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
          kept += take;
        }
      });
      payload.on('end', () => {
        const oversize = size > ctx.config.maxBodyBytes;
        const all = Buffer.concat(chunks, kept);
        // an oversize body keeps its head (64 KiB) for the envelope only: its control id names the rejection
        done(null, { buf: oversize ? Buffer.alloc(0) : all, size, oversize, ...(oversize ? { head: all.subarray(0, OVERSIZE_HEAD_BYTES) } : {}) } satisfies RawBody);
      });
      payload.on('error', (err) => done(err, undefined));
    });

    scope.post<{ Params: { connectorId: string } }>(
      '/api/v1/ingest/:connectorId',
      { preHandler: requireRole('ingest') },
      async (req: FastifyRequest<{ Params: { connectorId: string } }>, reply) => {
        const connector = ctx.connectors.get(req.params.connectorId);
        if (!connector) {
          throw new LotBridgeError('LB_ERR_CONNECTOR_NOT_FOUND', `no connector instance "${req.params.connectorId}" (known: ${[...ctx.connectors.keys()].join(', ')})`);
        }
        if (!ctx.isAccepting()) {
          throw new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', 'the hub is shutting down; send again later');
        }
        const body = (req.body as RawBody | undefined) ?? { buf: Buffer.alloc(0), size: 0, oversize: false };
        const contentType = req.headers['content-type'];
        const { format, encoding } = connector.formatOf(contentType, body.buf);
        const raw: RawInbound = {
          format,
          payload: body.buf,
          encoding,
          contentType,
          receivedAt: new Date(),
          transport: 'http',
          envelope: { remoteAddress: req.ip, apiKey: req.principal?.name ?? '', ...(req.headers['x-lotbridge-file-name'] ? { fileName: String(req.headers['x-lotbridge-file-name']) } : {}) },
          oversizeBytes: body.oversize ? body.size : undefined,
          ...(body.head ? { head: body.head } : {}),
        };
        const whole = await connector.receiveHttp?.(raw);
        if (whole) {
          void reply.header('LotBridge-Message-Id', whole.receipts.map((r) => r.messageId).join(',')).header('LotBridge-Status', whole.receipts.map((r) => r.status).join(','));
          return reply.status(whole.statusCode).type(whole.contentType).send(whole.body);
        }
        const receipt = await ctx.ingest.receive(connector.id, raw);
        const custom = await connector.httpAnswer?.(receipt, raw);
        void reply.header('LotBridge-Message-Id', receipt.messageId).header('LotBridge-Status', receipt.status);
        if (custom) {
          return reply.status(custom.statusCode).type(custom.contentType).send(custom.body);
        }
        return reply.status(receiptStatus(receipt)).send(receipt);
      },
    );
  });
}
