import { createMllpClient, type MllpClient } from '../src/transport/mllp';
import { dftP03 } from './hl7-messages';

/**
 * The HL7 benchmark's senders, in a process of their own (forked by bench/hl7.bench.ts): the hub is
 * the system under test, so the clients' framing, timers and latency bookkeeping must not run on its
 * event loop. Commands arrive over IPC; each is answered with `{ id, result }` or `{ id, error }`.
 */
export type Hl7ClientCommand =
  | { id: number; cmd: 'connect'; port: number; connections: number }
  | { id: number; cmd: 'warmup'; messages: number; run: string }
  | { id: number; cmd: 'sustained'; messages: number; run: string; inFlightPerConnection: number }
  | { id: number; cmd: 'open-loop'; rate: number; seconds: number; run: string }
  | { id: number; cmd: 'close' };

let clients: MllpClient[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function run(c: Hl7ClientCommand): Promise<unknown> {
  switch (c.cmd) {
    case 'connect':
      clients = Array.from({ length: c.connections }, () => createMllpClient({ host: '127.0.0.1', port: c.port, timeoutMs: 60000 }));
      return { connections: clients.length };
    case 'warmup':
      for (let i = 0; i < c.messages; i++) await clients[i % clients.length].send(dftP03(1_000_000 + i, c.run));
      return { sent: c.messages };
    case 'sustained': {
      // every connection keeps up to `inFlightPerConnection` messages outstanding
      let next = 0;
      let notAccepted = 0;
      const t0 = performance.now();
      await Promise.all(clients.map(async (cl) => {
        await Promise.all(Array.from({ length: c.inFlightPerConnection }, async () => {
          while (next < c.messages) {
            const ack = (await cl.send(dftP03(next++, c.run))).toString('latin1');
            if (!/\rMSA\|(AA|CA)\|/.test(ack)) notAccepted++;
          }
        }));
      }));
      return { ms: performance.now() - t0, notAccepted, startedAt: Date.now() - (performance.now() - t0) };
    }
    case 'open-loop': {
      // open loop: message i is due at start + i/rate, whether or not earlier ACKs came back
      const lat: number[] = [];
      const pending: Array<Promise<void>> = [];
      const start = performance.now();
      for (let i = 0; i < c.rate * c.seconds; i++) {
        const wait = start + (i * 1000) / c.rate - performance.now();
        if (wait > 0) await sleep(wait);
        const t = performance.now();
        pending.push(clients[i % clients.length].send(dftP03(i, c.run)).then(() => { lat.push(performance.now() - t); }));
      }
      await Promise.all(pending);
      return { lat };
    }
    case 'close':
      await Promise.all(clients.map((cl) => cl.close().catch(() => undefined)));
      clients = [];
      return { closed: true };
  }
}

process.on('message', (m: Hl7ClientCommand) => {
  run(m).then(
    (result) => process.send?.({ id: m.id, result }),
    (err: unknown) => process.send?.({ id: m.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
