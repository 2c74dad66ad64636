import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConnectorInbox, dispositionOf } from '../../../src/connectors/connector-inbox';
import type { FileDisposition, WatchedFile } from '../../../src/connectors/folder-watcher';
import type { IngestReceipt } from '../../../src/connectors/types';
import { silentLogger } from '../../../src/logging/logger';

/** The watched-folder lifecycle shared by the WMS, MES, X12 and EDIFACT connectors, on a real folder. */
describe('ConnectorInbox', () => {
  let dataDir: string;
  /** Every inbox a test made: stopped after it, also when it failed half-way (a running watcher would keep jest from exiting). */
  let made: ConnectorInbox[] = [];
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-inbox-'));
  });
  afterEach(async () => {
    await Promise.all(made.map((i) => i.stop()));
    made = [];
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const make = (controller: AbortController, enabled: boolean | undefined, handled: string[]): ConnectorInbox => {
    const inbox = new ConnectorInbox({
      connectorId: 'wms-east',
      label: 'WMS',
      inbox: { pollIntervalMs: 20, ...(enabled === undefined ? {} : { enabled }) },
      deps: { dataDir, signal: controller.signal },
      logger: silentLogger(),
      handle: (file: WatchedFile): Promise<FileDisposition> => {
        handled.push(`${file.name}:${file.payload.toString('utf8')}`);
        return Promise.resolve({ to: 'done' });
      },
    });
    made.push(inbox);
    return inbox;
  };

  it('watches <dataDir>/inbox/<id> between start and stop, idempotently, and reports it in its health', async () => {
    const handled: string[] = [];
    const inbox = make(new AbortController(), undefined, handled);
    expect(await inbox.health()).toEqual({ status: 'down', detail: 'stopped' });
    await inbox.start();
    await inbox.start();
    const dir = path.join(dataDir, 'inbox', 'wms-east');
    expect(fs.existsSync(path.join(dir, 'processing'))).toBe(true);
    fs.writeFileSync(path.join(dir, 'counts.csv'), 'a;b');
    // the file appears in done/ while the move is still being awaited; the count follows right after it
    for (let i = 0; i < 200 && !((await inbox.health()).detail ?? '').includes('(1 file(s) handled)'); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(fs.existsSync(path.join(dir, 'done', 'counts.csv'))).toBe(true);
    expect(handled).toEqual(['counts.csv:a;b']);
    const up = await inbox.health();
    expect(up.status).toBe('up');
    expect(up.detail).toMatch(/^HTTP intake; watching .*wms-east \(1 file\(s\) handled\)$/);
    expect(up.lastMessageAt).toBeInstanceOf(Date);
    await inbox.stop();
    await inbox.stop();
    expect(inbox.isStarted).toBe(false);
    expect((await inbox.health()).status).toBe('down');
  });

  it('with the folder disabled reports HTTP intake only, and the newest message noted', async () => {
    const inbox = make(new AbortController(), false, []);
    await inbox.start();
    const at = new Date('2026-11-26T10:00:00Z');
    inbox.noteMessage(at);
    expect(await inbox.health()).toEqual({ status: 'up', detail: 'HTTP intake (watched folder disabled)', lastMessageAt: at });
    expect(fs.existsSync(path.join(dataDir, 'inbox'))).toBe(false);
    await inbox.stop();
  });

  it("stops when the hub's abort signal fires", async () => {
    const controller = new AbortController();
    const inbox = make(controller, undefined, []);
    await inbox.start();
    controller.abort();
    expect(inbox.isStarted).toBe(false);
    expect((await inbox.health()).status).toBe('down');
  });
});

describe('dispositionOf', () => {
  const file: WatchedFile = { name: 'asn.edi', path: '/x/processing/asn.edi', payload: Buffer.from(''), recovered: false };
  const at = new Date('2026-11-26T10:00:00Z');
  const accepted: IngestReceipt = { status: 'accepted', messageId: 'm1' };
  const duplicate: IngestReceipt = { status: 'duplicate', messageId: 'm2', duplicateOf: 'm1' };
  const rejected: IngestReceipt = { status: 'rejected', messageId: 'm3', error: { code: 'LB_ERR_X12_ISA_LENGTH', message: 'the ISA is 104 characters long, not 106', location: { segment: 'ISA', line: 1 } } };

  it('sends accepted and duplicate files to done/', () => {
    expect(dispositionOf(file, at, accepted)).toEqual({ to: 'done' });
    expect(dispositionOf(file, at, [accepted, duplicate])).toEqual({ to: 'done' });
  });

  it('sends a file with any rejected message to error/ with its receipt(s) as the report', () => {
    expect(dispositionOf(file, at, rejected)).toEqual({ to: 'error', report: { fileName: 'asn.edi', at: '2026-11-26T10:00:00.000Z', receipt: rejected } });
    expect(dispositionOf(file, at, [accepted, rejected])).toEqual({ to: 'error', report: { fileName: 'asn.edi', at: '2026-11-26T10:00:00.000Z', receipts: [accepted, rejected] } });
  });
});
