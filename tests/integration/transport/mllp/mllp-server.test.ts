import type { LotBridgeError } from '../../../../src/errors';
import { createMllpClient, type MllpConnectionInfo } from '../../../../src/transport/mllp';
import { ackFor, deferred, FS, frame, hl7, RawPeer, serverKit, until, VT, type Deferred } from './mllp-test-kit';

const kit = serverKit();
afterEach(() => kit.stopAll());

const controlOf = (payload: Buffer): string => payload.toString('latin1').split('|')[9];

describe('MLLP server over real sockets', () => {
  it('answers 40 concurrent clients sending 25 pipelined messages each, every answer to its own message', async () => {
    const server = await kit.start({
      onFrame: async (payload) => {
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 5)));
        return ackFor(payload);
      },
    });
    const clients = Array.from({ length: 40 }, () => createMllpClient({ host: '127.0.0.1', port: server.port, timeoutMs: 20_000 }));
    const answers = await Promise.all(
      clients.map((client, c) => Promise.all(Array.from({ length: 25 }, (_, i) => client.send(Buffer.from(hl7(`C${c}-${i}`))).then((a) => a.toString())))),
    );
    expect(answers).toEqual(clients.map((_, c) => Array.from({ length: 25 }, (__, i) => `ACK C${c}-${i}`)));
    const open = server.connections();
    expect({ open: open.length, distinctIds: new Set(open.map((o) => o.id)).size, addresses: [...new Set(open.map((o) => o.remoteAddress))] }).toEqual({
      open: 40,
      distinctIds: 40,
      addresses: ['127.0.0.1'],
    });
    await Promise.all(clients.map((c) => c.close()));
    await until('all connections closed', () => server.stats().openConnections === 0);
    expect(server.stats()).toMatchObject({ acceptedConnections: 40, framesReceived: 1000, answersWritten: 1000, answersDropped: 0, inFlight: 0, protocolErrors: {}, handlerFailures: 0 });
  });

  it('writes answers in frame order when the handlers resolve in reverse order', async () => {
    const gates: Deferred<void>[] = [];
    const resolvedOrder: string[] = [];
    const server = await kit.start({
      onFrame: async (payload) => {
        const gate = deferred<void>();
        gates.push(gate);
        await gate.promise;
        resolvedOrder.push(controlOf(payload));
        return ackFor(payload);
      },
    });
    const peer = await RawPeer.connect(server.port);
    peer.write(['P1', 'P2', 'P3', 'P4', 'P5'].map((c) => frame(hl7(c))).join(''));
    await until('5 handlers running', () => gates.length === 5);
    for (const i of [4, 3, 2, 1]) {
      gates[i].resolve();
      await new Promise((r) => setTimeout(r, 15));
    }
    expect({ resolvedOrder, answersSoFar: peer.answers }).toEqual({ resolvedOrder: ['P5', 'P4', 'P3', 'P2'], answersSoFar: [] });
    gates[0].resolve();
    expect(await peer.waitAnswers(5)).toEqual(['ACK P1', 'ACK P2', 'ACK P3', 'ACK P4', 'ACK P5']);
    expect(resolvedOrder).toEqual(['P5', 'P4', 'P3', 'P2', 'P1']);
    peer.socket.end();
  });

  it('keeps at most maxInFlightPerConnection frames in flight and reads on as answers go out', async () => {
    const gates: Deferred<void>[] = [];
    const server = await kit.start({
      maxInFlightPerConnection: 3,
      onFrame: async (payload) => {
        const gate = deferred<void>();
        gates.push(gate);
        await gate.promise;
        return ackFor(payload);
      },
    });
    const peer = await RawPeer.connect(server.port);
    peer.write(Array.from({ length: 10 }, (_, i) => frame(hl7(`F${i}`))).join(''));
    await until('3 handlers running', () => gates.length === 3);
    await new Promise((r) => setTimeout(r, 100));
    expect({ handlersStarted: gates.length, inFlight: server.stats().inFlight, framesReceived: server.stats().framesReceived }).toEqual({ handlersStarted: 3, inFlight: 3, framesReceived: 10 });
    gates[0].resolve();
    await until('a 4th handler', () => gates.length === 4);
    expect(await peer.waitAnswers(1)).toEqual(['ACK F0']);
    for (let i = 1; i < 10; i++) {
      await until(`handler ${i}`, () => gates.length > i);
      gates[i].resolve();
    }
    expect(await peer.waitAnswers(10)).toEqual(Array.from({ length: 10 }, (_, i) => `ACK F${i}`));
    peer.socket.end();
  });

  it('stops reading from a peer that does not read its answers, and reads on once it does', async () => {
    const big = 8 * 1024 * 1024;
    const server = await kit.start({
      onFrame: (payload) => Promise.resolve(Buffer.concat([ackFor(payload), Buffer.alloc(big, 0x2e)])),
    });
    const peer = await RawPeer.connect(server.port, 2 * big);
    peer.socket.pause();
    peer.write(frame(hl7('W1')));
    await until('first frame read', () => server.stats().framesReceived === 1);
    await new Promise((r) => setTimeout(r, 100));
    peer.write(frame(hl7('W2')) + frame(hl7('W3')));
    await new Promise((r) => setTimeout(r, 200));
    expect({ framesReceived: server.stats().framesReceived, answersWritten: server.stats().answersWritten }).toEqual({ framesReceived: 1, answersWritten: 1 });
    peer.socket.resume();
    const answers = await peer.waitAnswers(3);
    expect(answers.map((a) => `${a.slice(0, 6)}+${a.length - 6}`)).toEqual([`ACK W1+${big}`, `ACK W2+${big}`, `ACK W3+${big}`]);
    peer.socket.end();
  });

  it('destroys a connection whose peer has read no answers for the idle timeout', async () => {
    const server = await kit.start({
      idleTimeoutMs: 300,
      onFrame: (payload) => Promise.resolve(Buffer.concat([ackFor(payload), Buffer.alloc(8 * 1024 * 1024, 0x2e)])),
    });
    const peer = await RawPeer.connect(server.port);
    peer.socket.pause();
    peer.write(frame(hl7('STUCK')));
    await until('server closed it', () => server.stats().openConnections === 0, 5000);
    expect(kit.lines.find((l) => l.msg === 'mllp peer reads no answers; destroying the connection')).toMatchObject({ level: 40, idleTimeoutMs: 300 });
    peer.socket.destroy();
  });

  it('reports an oversize frame with the size seen, answers it in order, and keeps the connection', async () => {
    const reported: Array<{ code: string; size: unknown; kept: number; conn: string }> = [];
    const server = await kit.start({
      maxFrameBytes: 1000,
      maxErrorBytes: 64,
      onFrame: (payload) => Promise.resolve(ackFor(payload)),
      onProtocolError: (error, bytes, conn) => {
        reported.push({ code: error.code, size: error.details?.size, kept: bytes.length, conn: conn.id });
        return Promise.resolve(Buffer.from(`NAK ${error.code}`));
      },
    });
    const peer = await RawPeer.connect(server.port);
    const big = frame(`MSH|${'B'.repeat(4996)}`);
    for (let i = 0; i < big.length; i += 900) {
      peer.write(big.slice(i, i + 900));
      await new Promise((r) => setTimeout(r, 5));
    }
    peer.write(frame(hl7('AFTER-BIG')));
    expect(await peer.waitAnswers(2)).toEqual(['NAK LB_ERR_MLLP_FRAME_TOO_LARGE', 'ACK AFTER-BIG']);
    const [conn] = server.connections();
    expect(reported).toEqual([{ code: 'LB_ERR_MLLP_FRAME_TOO_LARGE', size: 5000, kept: 64, conn: conn.id }]);
    expect({ peerClosed: peer.closedAt !== undefined, open: server.stats().openConnections, errors: server.stats().protocolErrors }).toEqual({
      peerClosed: false,
      open: 1,
      errors: { LB_ERR_MLLP_FRAME_TOO_LARGE: 1 },
    });
    peer.socket.end();
  });

  it('reports unframed bytes once per run after a quiet pause, with all the bytes, and answers them', async () => {
    const reported: Array<{ code: string; bytes: string; head: unknown }> = [];
    const server = await kit.start({
      garbageQuietMs: 80,
      onFrame: (payload) => Promise.resolve(ackFor(payload)),
      onProtocolError: (error, bytes) => {
        reported.push({ code: error.code, bytes: bytes.toString('latin1'), head: error.details?.head });
        return Promise.resolve(Buffer.from(`NAK ${error.code}`));
      },
    });
    const peer = await RawPeer.connect(server.port);
    peer.write(hl7('UNFRAMED').slice(0, 20));
    await new Promise((r) => setTimeout(r, 20));
    peer.write(hl7('UNFRAMED').slice(20));
    expect(await peer.waitAnswers(1)).toEqual(['NAK LB_ERR_MLLP_BYTES_OUTSIDE_FRAME']);
    expect(reported).toEqual([{ code: 'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME', bytes: hl7('UNFRAMED'), head: '4d53487c' }]);
    peer.write(frame(hl7('FRAMED')));
    expect(await peer.waitAnswers(2)).toEqual(['NAK LB_ERR_MLLP_BYTES_OUTSIDE_FRAME', 'ACK FRAMED']);
    peer.socket.end();
  });

  it('closes an idle connection after idleTimeoutMs and reports its unfinished frame as truncated', async () => {
    const reported: Array<{ code: string; reason: unknown; bytes: string }> = [];
    const server = await kit.start({
      idleTimeoutMs: 300,
      onFrame: (payload) => Promise.resolve(ackFor(payload)),
      onProtocolError: (error, bytes) => {
        reported.push({ code: error.code, reason: error.details?.reason, bytes: bytes.toString('latin1') });
        return Promise.resolve(undefined);
      },
    });
    const started = Date.now();
    const silent = await RawPeer.connect(server.port);
    const partial = await RawPeer.connect(server.port);
    partial.write(`${VT}MSH|partial`);
    await Promise.all([silent.closed, partial.closed]);
    const closedAfter = [silent.closedAt! - started, partial.closedAt! - started];
    expect(closedAfter.every((ms) => ms >= 280 && ms < 3000)).toBe(true);
    expect(reported).toEqual([{ code: 'LB_ERR_MLLP_FRAME_TRUNCATED', reason: 'idle-timeout', bytes: 'MSH|partial' }]);
    await until('server saw both close', () => server.stats().openConnections === 0);
  });

  it('does not count a connection as idle while its handler is still running', async () => {
    const server = await kit.start({
      idleTimeoutMs: 200,
      onFrame: async (payload) => {
        await new Promise((r) => setTimeout(r, 600));
        return ackFor(payload);
      },
    });
    const peer = await RawPeer.connect(server.port);
    peer.write(frame(hl7('SLOW')));
    expect(await peer.waitAnswers(1)).toEqual(['ACK SLOW']);
    expect(peer.closedAt).toBeUndefined();
    await peer.closed;
  });

  it('runs the handler to completion exactly once when the client resets the connection before its answer', async () => {
    const gate = deferred<void>();
    let started = 0;
    let completed = 0;
    const server = await kit.start({
      onFrame: async (payload) => {
        started++;
        await gate.promise;
        completed++;
        return ackFor(payload);
      },
    });
    const peer = await RawPeer.connect(server.port);
    peer.write(frame(hl7('GONE')));
    await until('handler started', () => started === 1);
    peer.socket.resetAndDestroy();
    await until('server saw the reset', () => server.stats().openConnections === 0);
    gate.resolve();
    await until('handler completed', () => completed === 1 && server.stats().inFlight === 0);
    expect({ started, completed, written: server.stats().answersWritten, dropped: server.stats().answersDropped }).toEqual({ started: 1, completed: 1, written: 0, dropped: 1 });
    const next = await RawPeer.connect(server.port);
    next.write(frame(hl7('NEXT')));
    expect(await next.waitAnswers(1)).toEqual(['ACK NEXT']);
    expect(kit.lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([]);
    expect(kit.lines.find((l) => l.msg === 'mllp socket error')).toMatchObject({ level: 20, err: { code: 'ECONNRESET' } });
    next.socket.end();
  });

  it('runs the handler to completion once when the client closes before its answer (FIN, seen as a half-close)', async () => {
    const gate = deferred<void>();
    let calls = 0;
    const server = await kit.start({
      onFrame: async (payload) => {
        calls++;
        await gate.promise;
        return ackFor(payload);
      },
    });
    const peer = await RawPeer.connect(server.port);
    peer.write(frame(hl7('FIN')));
    await until('handler started', () => calls === 1);
    peer.socket.destroy();
    await peer.closed;
    // TCP cannot tell a closed peer from a half-closed one: the server keeps its side open for the answer.
    await new Promise((r) => setTimeout(r, 50));
    expect(server.stats().openConnections).toBe(1);
    gate.resolve();
    await until('server closed its side', () => server.stats().openConnections === 0);
    expect({ calls, inFlight: server.stats().inFlight, errors: kit.lines.filter((l) => l.level >= 40).map((l) => l.msg) }).toEqual({ calls: 1, inFlight: 0, errors: [] });
  });

  it('answers a peer that half-closes after sending, then closes', async () => {
    const server = await kit.start({
      onFrame: async (payload) => {
        await new Promise((r) => setTimeout(r, 50));
        return ackFor(payload);
      },
    });
    const peer = await RawPeer.connect(server.port);
    peer.write(frame(hl7('H1')) + frame(hl7('H2')) + `${VT}MSH|cut`);
    peer.socket.end();
    await peer.closed;
    expect(peer.answers).toEqual(['ACK H1', 'ACK H2']);
    await until('server saw the close', () => server.stats().openConnections === 0);
    expect(server.stats().protocolErrors).toEqual({ LB_ERR_MLLP_FRAME_TRUNCATED: 1 });
  });

  it('closes the connection after the earlier answers when a handler fails, still running the later handlers', async () => {
    const handled: string[] = [];
    const server = await kit.start({
      onFrame: async (payload) => {
        const control = controlOf(payload);
        handled.push(control);
        if (control === 'BAD') {
          await new Promise((r) => setTimeout(r, 20));
          throw new Error('store failed');
        }
        return ackFor(payload);
      },
    });
    const peer = await RawPeer.connect(server.port);
    peer.write(frame(hl7('A')) + frame(hl7('BAD')) + frame(hl7('C')));
    await peer.closed;
    expect({ answers: peer.answers, handled }).toEqual({ answers: ['ACK A'], handled: ['A', 'BAD', 'C'] });
    await until('the failure counted', () => server.stats().handlerFailures === 1);
    expect(server.stats()).toMatchObject({ answersWritten: 1, answersDropped: 1, handlerFailures: 1 });
    const errorLine = kit.lines.find((l) => l.level === 50);
    expect(errorLine?.msg).toBe('mllp handler failed; closing the connection after the earlier answers so the sender resends');
  });

  it('accepts a frame ended by FS alone and counts it', async () => {
    const server = await kit.start({ onFrame: (payload) => Promise.resolve(ackFor(payload)) });
    const peer = await RawPeer.connect(server.port);
    peer.write(`${VT}${hl7('NOCR')}${FS}`);
    expect(await peer.waitAnswers(1)).toEqual(['ACK NOCR']);
    peer.write(frame(hl7('NEXT')));
    expect(await peer.waitAnswers(2)).toEqual(['ACK NOCR', 'ACK NEXT']);
    expect(server.stats()).toMatchObject({ framesReceived: 2, framesWithoutCr: 1, protocolErrors: {} });
    peer.socket.end();
  });

  it('gives handlers the connection facts and logs per connection without payloads', async () => {
    const seen: MllpConnectionInfo[] = [];
    const errors: LotBridgeError[] = [];
    const server = await kit.start({
      maxFrameBytes: 200,
      onFrame: (payload, conn) => {
        seen.push(conn);
        return Promise.resolve(ackFor(payload));
      },
      onProtocolError: (error) => {
        errors.push(error);
        return Promise.resolve(undefined);
      },
    });
    const peer = await RawPeer.connect(server.port);
    peer.write(frame(hl7('PID|SECRET-PATIENT-NAME')) + frame(`SECRET-PATIENT-NAME${'x'.repeat(300)}`) + frame(hl7('LAST')));
    await peer.waitAnswers(2);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual({ id: expect.any(String), remoteAddress: '127.0.0.1', remotePort: peer.socket.localPort, tls: false, connectedAt: expect.any(Date) });
    expect(seen[1]).toBe(seen[0]);
    expect(errors.map((e) => e.code)).toEqual(['LB_ERR_MLLP_FRAME_TOO_LARGE']);
    const logged = JSON.stringify(kit.lines);
    expect(logged).not.toContain('SECRET-PATIENT-NAME');
    const frameLine = kit.lines.find((l) => l.msg === 'mllp frame received');
    expect(frameLine).toMatchObject({ level: 20, connectionId: seen[0].id, remoteAddress: '127.0.0.1', tls: false, offset: 0 });
    peer.socket.end();
  });
});
