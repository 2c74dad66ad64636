import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { isLotBridgeError } from '../../../../src/errors';
import { MllpFrameDecoder } from '../../../../src/transport/mllp';
import { createMllpClient, type MllpConnectionInfo } from '../../../../src/transport/mllp';
import { ackFor, frame, hl7, RawPeer, serverKit, until } from './mllp-test-kit';

/** Test-only certificates made with openssl; see tests/fixtures/tls/README.md. */
const pem = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../../fixtures/tls', name));

const kit = serverKit();
afterEach(() => kit.stopAll());

describe('MLLP over TLS', () => {
  it('serves a client that trusts the test CA, and tells the handler the connection is TLS', async () => {
    const seen: MllpConnectionInfo[] = [];
    const server = await kit.start({
      tls: { key: pem('server.key'), cert: pem('server.crt') },
      onFrame: (payload, conn) => {
        seen.push(conn);
        return Promise.resolve(ackFor(payload));
      },
    });
    const client = createMllpClient({ host: 'localhost', port: server.port, tls: { ca: pem('ca.crt') }, timeoutMs: 5000 });
    const answers = await Promise.all(['T1', 'T2', 'T3'].map((c) => client.send(Buffer.from(hl7(c))).then((a) => a.toString())));
    expect(answers).toEqual(['ACK T1', 'ACK T2', 'ACK T3']);
    expect(seen.map((c) => ({ tls: c.tls, tlsAuthorized: c.tlsAuthorized }))).toEqual([
      { tls: true, tlsAuthorized: undefined },
      { tls: true, tlsAuthorized: undefined },
      { tls: true, tlsAuthorized: undefined },
    ]);
    await client.close();
    await until('server saw the close', () => server.stats().openConnections === 0);
  });

  it('refuses, on the client, a server whose certificate it cannot verify', async () => {
    const server = await kit.start({ tls: { key: pem('server.key'), cert: pem('server.crt') }, onFrame: (payload) => Promise.resolve(ackFor(payload)) });
    const client = createMllpClient({ host: 'localhost', port: server.port, tls: { ca: pem('other-ca.crt') }, timeoutMs: 5000 });
    let caught: unknown;
    await client.send(Buffer.from(hl7('NOPE'))).catch((err: unknown) => {
      caught = err;
    });
    const cause = isLotBridgeError(caught) ? (caught.cause as NodeJS.ErrnoException | undefined) : undefined;
    expect({ code: isLotBridgeError(caught) && caught.code, cause: cause?.code }).toEqual({ code: 'LB_ERR_MLLP_CONNECT', cause: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(server.stats().framesReceived).toBe(0);
    await client.close();
  });

  it('with requestCert, serves a client with a certificate from the CA and marks it authorized', async () => {
    const seen: MllpConnectionInfo[] = [];
    const server = await kit.start({
      tls: { key: pem('server.key'), cert: pem('server.crt'), ca: pem('ca.crt'), requestCert: true },
      onFrame: (payload, conn) => {
        seen.push(conn);
        return Promise.resolve(ackFor(payload));
      },
    });
    const client = createMllpClient({
      host: '127.0.0.1',
      port: server.port,
      tls: { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') },
      timeoutMs: 5000,
    });
    expect((await client.send(Buffer.from(hl7('MTLS')))).toString()).toBe('ACK MTLS');
    expect(seen.map((c) => ({ tls: c.tls, tlsAuthorized: c.tlsAuthorized }))).toEqual([{ tls: true, tlsAuthorized: true }]);
    await client.close();
  });

  it('with requestCert, drops a client without a certificate before any frame reaches the handler', async () => {
    let frames = 0;
    const server = await kit.start({
      tls: { key: pem('server.key'), cert: pem('server.crt'), ca: pem('ca.crt'), requestCert: true },
      onFrame: (payload) => {
        frames++;
        return Promise.resolve(ackFor(payload));
      },
    });
    const client = createMllpClient({ host: '127.0.0.1', port: server.port, tls: { ca: pem('ca.crt') }, timeoutMs: 5000 });
    let caught: unknown;
    await client.send(Buffer.from(hl7('NOCERT'))).catch((err: unknown) => {
      caught = err;
    });
    // TLS 1.3: the client finishes its handshake before the server checks its certificate, so the
    // send is written and then the connection is cut.
    expect(isLotBridgeError(caught) && caught.code).toBe('LB_ERR_MLLP_CONNECTION_CLOSED');
    expect(frames).toBe(0);
    await until('handshake failure counted', () => server.stats().socketErrors >= 1);
    expect(kit.lines.find((l) => l.msg === 'mllp TLS handshake failed')).toMatchObject({ level: 40, remoteAddress: '127.0.0.1' });
    await client.close();
  });

  it('survives a plain-TCP sender on the TLS port and keeps serving TLS clients', async () => {
    const server = await kit.start({ tls: { key: pem('server.key'), cert: pem('server.crt') }, onFrame: (payload) => Promise.resolve(ackFor(payload)) });
    const plain = await RawPeer.connect(server.port);
    plain.write(frame(hl7('PLAIN')));
    await plain.closed;
    expect(plain.answers).toEqual([]);
    const client = createMllpClient({ host: 'localhost', port: server.port, tls: { ca: pem('ca.crt') }, timeoutMs: 5000 });
    expect((await client.send(Buffer.from(hl7('AFTER')))).toString()).toBe('ACK AFTER');
    expect(server.stats()).toMatchObject({ framesReceived: 1, socketErrors: 1 });
    await client.close();
  });

  it('answers a TLS peer that half-closes after its last frame', async () => {
    const server = await kit.start({
      tls: { key: pem('server.key'), cert: pem('server.crt') },
      onFrame: async (payload) => {
        await new Promise((r) => setTimeout(r, 100));
        return ackFor(payload);
      },
    });
    const answers: string[] = [];
    const decoder = new MllpFrameDecoder();
    await new Promise<void>((resolve, reject) => {
      const socket = tls.connect({ host: 'localhost', port: server.port, ca: pem('ca.crt') }, () => {
        socket.allowHalfOpen = true;
        socket.write(frame(hl7('HALF1')) + frame(hl7('HALF2')));
        socket.end();
      });
      socket.on('data', (chunk: Buffer) => answers.push(...decoder.push(chunk).map((ev) => (ev.type === 'frame' ? ev.payload.toString() : ev.type))));
      socket.on('error', reject);
      socket.on('close', () => resolve());
    });
    expect(answers).toEqual(['ACK HALF1', 'ACK HALF2']);
  });

  it('cuts a peer that never completes its TLS handshake after the idle timeout', async () => {
    const server = await kit.start({ idleTimeoutMs: 250, tls: { key: pem('server.key'), cert: pem('server.crt') }, onFrame: (payload) => Promise.resolve(ackFor(payload)) });
    const t0 = Date.now();
    const silent = await RawPeer.connect(server.port);
    await silent.closed;
    expect(silent.closedAt! - t0).toBeGreaterThanOrEqual(240);
    expect(silent.closedAt! - t0).toBeLessThan(3000);
    await until('handshake failure logged', () => kit.lines.find((l) => l.msg === 'mllp TLS handshake failed'));
    expect(kit.lines.find((l) => l.msg === 'mllp TLS handshake failed')).toMatchObject({ err: { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' } });
  });

  it('stop() cuts a peer still in its TLS handshake instead of waiting for it', async () => {
    const server = await kit.start({ tls: { key: pem('server.key'), cert: pem('server.crt') }, onFrame: (payload) => Promise.resolve(ackFor(payload)) });
    const silent = await RawPeer.connect(server.port);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    expect(await server.stop({ graceMs: 200 })).toEqual({ closedGracefully: 0, forced: 0 });
    expect(Date.now() - t0).toBeLessThan(1000);
    await silent.closed;
  });
});
