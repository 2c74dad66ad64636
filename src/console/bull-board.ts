import type { FastifyInstance } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { LotBridgeError } from '../errors';
import type { HubQueue } from '../pipeline/queue-kit';

/** Where the queue dashboard lives. */
export const BOARD_PATH = '/admin/queues';

/**
 * bull-board at /admin/queues for every LotBridge queue. Registered inside the console scope, so
 * its pages need a console session; an `auditor` may look but not retry, clean or remove jobs.
 */
export async function registerBullBoard(scope: FastifyInstance, queues: HubQueue[]): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q as never, { readOnlyMode: false })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'LotBridge queues' } },
  });
  await scope.register(async (board) => {
    board.addHook('onRequest', async (req, reply) => {
      const u = req.consoleUser;
      if (req.method !== 'GET' && req.method !== 'HEAD' && u?.role !== 'operator' && u?.role !== 'admin') {
        // answered, not thrown: bull-board's own error handler would turn it into a 500
        const e = new LotBridgeError('LB_ERR_AUTH_FORBIDDEN', `role "${u?.role ?? 'none'}" may only look at the queues; changing jobs needs operator or admin`);
        return reply.status(403).send({ error: e.toJSON() });
      }
    });
    await board.register(serverAdapter.registerPlugin() as never, { prefix: BOARD_PATH });
  });
}
