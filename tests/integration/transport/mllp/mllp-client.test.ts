import net from 'node:net';
import { isLotBridgeError } from '../../../../src/errors';
import { createMllpClient } from '../../../../src/transport/mllp';
import { ackFor, hl7, serverKit, until } from './mllp-test-kit';

const kit = serverKit();
afterEach(() => kit.stopAll());

/** The code of a LotBridgeError a promise rejects with, with its cause's code. */
async function failure(p: Promise<unknown>): Promise<{ code: string; cause?: string }> {
  try {
    await p;
  } catch (err) {
    if (isLotBridgeError(err)) {
      const cause = (err.cause as NodeJS.ErrnoException | undefined)?.code;
      return cause ? { code: err.code, cause } : { code: err.code };
    }
    return { code: `not a LotBridgeError: ${String(err)}` };
  }
  return { code: 'resolved' };
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('MLLP client', () => {
  it('pipelines 200 sends over one connection and matches every answer to its send', async () => {
    const server = await kit.start({
      onFrame: async (payload) => {
        // Later frames finish first half of the time: the server must still answer in order.
        await new Promise((r) => setTimeout(r, Math.random() < 0.5 ? 8 : 0));
        return ackFor(payload);
      },
    });
    const client = createMllpClient({ host: '127.0.0.1', port: server.port, timeoutMs: 10_000 });
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => client.send(Buffer.from(hl7(`M${i}`))).then((a) => a.toString())));
    expect(answers).toEqual(Array.from({ length: 200 }, (_, i) => `ACK M${i}`));
    expect(server.stats()).toMatchObject({ acceptedConnections: 1, framesReceived: 200 });
    expect(client.outstanding).toBe(0);
    await client.close();
  });

  it('reconnects for the next send after the server closed the connection', async () => {
    const server = await kit.start({ idleTimeoutMs: 150, onFrame: (payload) => Promise.resolve(ackFor(payload)) });
    const client = createMllpClient({ host: '127.0.0.1', port: server.port, timeoutMs: 5000 });
    expect((await client.send(Buffer.from(hl7('R1')))).toString()).toBe('ACK R1');
    await until('idle close', () => server.stats().openConnections === 0);
    expect((await client.send(Buffer.from(hl7('R2')))).toString()).toBe('ACK R2');
    expect(server.stats().acceptedConnections).toBe(2);
    await client.close();
  });

  it('times out a send without answer, fails the sends pipelined behind it, and works again on a new connection', async () => {
    const server = await kit.start({
      onFrame: (payload) => (payload.toString().includes('|SLOW|') ? new Promise<Buffer>(() => undefined) : Promise.resolve(ackFor(payload))),
    });
    const client = createMllpClient({ host: '127.0.0.1', port: server.port, timeoutMs: 300 });
    const t0 = Date.now();
    const slow = failure(client.send(Buffer.from(hl7('SLOW'))));
    const behind = failure(client.send(Buffer.from(hl7('BEHIND'))));
    expect(await slow).toEqual({ code: 'LB_ERR_MLLP_TIMEOUT' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(await behind).toEqual({ code: 'LB_ERR_MLLP_CONNECTION_CLOSED', cause: 'LB_ERR_MLLP_TIMEOUT' });
    expect((await client.send(Buffer.from(hl7('FRESH')))).toString()).toBe('ACK FRESH');
    expect(server.stats().acceptedConnections).toBe(2);
    // A handler that never settles holds its connection's stop: do not wait for it.
    await server.stop({ graceMs: 50 });
    await client.close();
  });

  it('rejects with LB_ERR_MLLP_CONNECT when nothing listens', async () => {
    const client = createMllpClient({ host: '127.0.0.1', port: await deadPort(), timeoutMs: 2000 });
    expect(await failure(client.send(Buffer.from(hl7('X'))))).toEqual({ code: 'LB_ERR_MLLP_CONNECT', cause: 'ECONNREFUSED' });
    await client.close();
  });

  it('rejects an oversize answer with LB_ERR_MLLP_FRAME_TOO_LARGE and keeps the pairing for the next send', async () => {
    const server = await kit.start({
      onFrame: (payload) => Promise.resolve(payload.toString().includes('|BIG|') ? Buffer.alloc(500, 0x41) : ackFor(payload)),
    });
    const client = createMllpClient({ host: '127.0.0.1', port: server.port, timeoutMs: 5000, maxFrameBytes: 100 });
    const [big, after] = await Promise.all([failure(client.send(Buffer.from(hl7('BIG')))), client.send(Buffer.from(hl7('AFTER')))]);
    expect({ big, after: after.toString(), connections: server.stats().acceptedConnections }).toEqual({ big: { code: 'LB_ERR_MLLP_FRAME_TOO_LARGE' }, after: 'ACK AFTER', connections: 1 });
    await client.close();
  });

  it('refuses a payload holding a framing byte without connecting', async () => {
    const server = await kit.start({ onFrame: (payload) => Promise.resolve(ackFor(payload)) });
    const client = createMllpClient({ host: '127.0.0.1', port: server.port });
    expect(await failure(client.send(Buffer.from('MSH|\x1c|x')))).toEqual({ code: 'LB_ERR_MLLP_PAYLOAD_INVALID' });
    expect(server.stats().acceptedConnections).toBe(0);
    await client.close();
  });

  it('close() waits for outstanding answers, closes the connection, and refuses later sends', async () => {
    const server = await kit.start({
      onFrame: async (payload) => {
        await new Promise((r) => setTimeout(r, 150));
        return ackFor(payload);
      },
    });
    const client = createMllpClient({ host: '127.0.0.1', port: server.port, timeoutMs: 5000 });
    const pending = client.send(Buffer.from(hl7('LAST')));
    await until('frame received', () => server.stats().framesReceived === 1);
    await client.close();
    expect((await pending).toString()).toBe('ACK LAST');
    expect(await failure(client.send(Buffer.from(hl7('LATE'))))).toEqual({ code: 'LB_ERR_MLLP_CLIENT_CLOSED' });
    await until('server saw the close', () => server.stats().openConnections === 0);
  });
});
