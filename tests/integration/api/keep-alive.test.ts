import http from 'node:http';
import net from 'node:net';
import { SERVER_CLOSE_GRACE_MS } from '../../../src/api/server';
import { startTestHub, type TestHub } from '../../helpers/start-hub';

jest.setTimeout(30000);

/**
 * An idle keep-alive connection stays open longer than the 5 s of Node's default: a sender that
 * keeps its connections for a few seconds (fetch keeps them 4 s) must never find its reused
 * connection closed under it. Real HTTP on the hub's shared server (Fastify + Node-RED's paths).
 */
describe('HTTP keep-alive', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ workers: false });
  });
  afterAll(async () => {
    await h.stop();
  });

  const get = (agent: http.Agent, path: string): Promise<{ status: number; reused: boolean; keepAlive: string | undefined }> =>
    new Promise((resolve, reject) => {
      const req = http.get(`${h.url}${path}`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket, keepAlive: res.headers['keep-alive'] as string | undefined }));
      });
      req.on('error', reject);
    });

  it('reuses a connection that was idle for 6 s, and announces a long keep-alive timeout', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(agent, '/healthz');
      expect(first).toEqual({ status: 200, reused: false, keepAlive: 'timeout=72' });
      await new Promise((r) => setTimeout(r, 6000));
      expect(await get(agent, '/healthz')).toEqual({ status: 200, reused: true, keepAlive: 'timeout=72' });
    } finally {
      agent.destroy();
    }
  });
});

describe('stopping the hub with a connection in the middle of a request', () => {
  it('gives the request the grace period, then closes the connection: the stop does not hang', async () => {
    const h = await startTestHub({ workers: false });
    const { port } = new URL(h.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // headers never finished: the server holds an active (not idle) connection
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const t0 = Date.now();
    await h.stop();
    const ms = Date.now() - t0;
    await closed;
    expect(ms).toBeGreaterThanOrEqual(SERVER_CLOSE_GRACE_MS - 100);
    expect(ms).toBeLessThan(SERVER_CLOSE_GRACE_MS + 10_000);
  });
});
