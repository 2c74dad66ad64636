import net from 'node:net';
import { isLotBridgeError } from '../../../../src/errors';
import { createMllpClient } from '../../../../src/transport/mllp';
import { ackFor, deferred, frame, hl7, RawPeer, serverKit, until, VT } from './mllp-test-kit';

const kit = serverKit();
afterEach(() => kit.stopAll());

/** Resolves with the connect error code, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('MLLP server stop', () => {
  it('stops accepting, lets in-flight handlers settle, writes their answers in order, then closes', async () => {
    let started = 0;
    const server = await kit.start({
      onFrame: async (payload) => {
        started++;
        await new Promise((r) => setTimeout(r, 300));
        return ackFor(payload);
      },
    });
    const port = server.port;
    const peer = await RawPeer.connect(port);
    peer.write(frame(hl7('S1')) + frame(hl7('S2')) + frame(hl7('S3')));
    await until('3 handlers running', () => started === 3);
    const t0 = Date.now();
    const stopping = server.stop({ graceMs: 5000 });
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    const result = await stopping;
    const tookMs = Date.now() - t0;
    await peer.closed;
    expect({ result, answers: peer.answers }).toEqual({ result: { closedGracefully: 1, forced: 0 }, answers: ['ACK S1', 'ACK S2', 'ACK S3'] });
    expect(tookMs).toBeGreaterThanOrEqual(200);
    expect(tookMs).toBeLessThan(2000);
    expect(server.stats()).toMatchObject({ openConnections: 0, answersWritten: 3, answersDropped: 0, inFlight: 0 });
  });

  it('destroys connections whose handlers outlast the grace; the handlers still complete', async () => {
    const gate = deferred<void>();
    let completed = 0;
    const server = await kit.start({
      onFrame: async (payload) => {
        await gate.promise;
        completed++;
        return ackFor(payload);
      },
    });
    const client = createMllpClient({ host: '127.0.0.1', port: server.port, timeoutMs: 10_000 });
    const answer = client.send(Buffer.from(hl7('STUCK'))).catch((err: unknown) => err);
    await until('frame received', () => server.stats().framesReceived === 1);
    const t0 = Date.now();
    expect(await server.stop({ graceMs: 200 })).toEqual({ closedGracefully: 0, forced: 1 });
    const tookMs = Date.now() - t0;
    expect(tookMs).toBeGreaterThanOrEqual(190);
    expect(tookMs).toBeLessThan(1500);
    const err = await answer;
    expect(isLotBridgeError(err) && err.code).toBe('LB_ERR_MLLP_CONNECTION_CLOSED');
    gate.resolve();
    await until('handler completed', () => completed === 1 && server.stats().inFlight === 0);
    expect(server.stats()).toMatchObject({ answersWritten: 0, answersDropped: 1, openConnections: 0 });
    await client.close();
  });

  it('closes idle connections at once and reports a half-received frame as truncated by the stop', async () => {
    const reported: Array<{ code: string; reason: unknown; bytes: string }> = [];
    const server = await kit.start({
      onFrame: (payload) => Promise.resolve(ackFor(payload)),
      onProtocolError: (error, bytes) => {
        reported.push({ code: error.code, reason: error.details?.reason, bytes: bytes.toString('latin1') });
        return Promise.resolve(Buffer.from('NAK'));
      },
    });
    const idle = await RawPeer.connect(server.port);
    const partial = await RawPeer.connect(server.port);
    partial.write(`${VT}MSH|half`);
    await until('bytes read', () => server.stats().bytesReceived === 9);
    const t0 = Date.now();
    const first = server.stop({ graceMs: 5000 });
    const second = server.stop({ graceMs: 1 });
    expect(second).toBe(first);
    expect(await first).toEqual({ closedGracefully: 2, forced: 0 });
    expect(Date.now() - t0).toBeLessThan(1000);
    await Promise.all([idle.closed, partial.closed]);
    expect({ reported, partialAnswers: partial.answers, idleAnswers: idle.answers }).toEqual({
      reported: [{ code: 'LB_ERR_MLLP_FRAME_TRUNCATED', reason: 'server-stop', bytes: 'MSH|half' }],
      partialAnswers: ['NAK'],
      idleAnswers: [],
    });
  });

  it('can start again after a stop', async () => {
    const server = await kit.start({ onFrame: (payload) => Promise.resolve(ackFor(payload)) });
    await server.stop();
    const port = await server.start();
    const client = createMllpClient({ host: '127.0.0.1', port, timeoutMs: 5000 });
    expect((await client.send(Buffer.from(hl7('AGAIN')))).toString()).toBe('ACK AGAIN');
    await client.close();
  });
});
