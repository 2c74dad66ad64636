import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Db } from '../../../src/db/knex';
import { startTestHub, type TestHub } from '../../helpers/start-hub';

/** Shared by the tests/integration/hl7/mapping-*.test.ts files: fixtures, sending, seeding, row look-ups. */

const FIXTURES = path.join(__dirname, '../../fixtures/hl7/mapping');

/** A fixture of tests/fixtures/hl7/mapping, byte for byte. */
export function fixture(name: string): Buffer {
  return fs.readFileSync(path.join(FIXTURES, name));
}

/** GTINs of the fixtures (valid check digits) and the materials master data gives them. */
export const MATERIALS = {
  hipStem: { code: 'HIP-STEM-12', gtin: '04012345000115', kind: 'implant', serialControlled: true },
  hipHead: { code: 'HIP-HEAD-36', gtin: '04012345000214', kind: 'implant', serialControlled: true },
  screw: { code: 'SCREW-65-40', gtin: '04012345000320', kind: 'implant', serialControlled: false },
  stent: { code: 'STENT-DES-3018', gtin: '05412345678908', kind: 'implant', serialControlled: true },
  guideWire: { code: 'GW-014-190', gtin: '05412345679011', kind: 'consumable', serialControlled: false },
  balloon: { code: 'BAL-2515-RX', gtin: '04012345000412', kind: 'consumable', serialControlled: false },
  anchor: { code: 'ANCHOR-5', gtin: '04012345000511', kind: 'implant', serialControlled: true },
  knee: { code: 'KNEE-FEM-4', gtin: '04012345000719', kind: 'implant', serialControlled: true },
} as const;

/** A hub whose `cityhosp` hl7 instance reads ZSU (ZSU-2 UDI, -3 GTIN, -4 lot, -5 serial, -6 expiry) in Europe/Berlin. */
export async function startMappingHub(extraInstances: unknown[] = []): Promise<TestHub & { configFile: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-hl7-mapping-'));
  const configFile = path.join(dir, 'lotbridge.config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      connectors: [
        { id: 'cityhosp', kind: 'hl7', config: { timezone: 'Europe/Berlin', zSegments: [{ segment: 'ZSU', udi: 2, gtin: 3, lot: 4, serial: 5, expiry: 6 }] } },
        ...extraInstances,
      ],
    }),
  );
  const h = await startTestHub({ env: { LOTBRIDGE_CONFIG_FILE: configFile, LOTBRIDGE_MLLP_PORT: '0' } });
  const stop = h.stop.bind(h);
  return Object.assign(h, {
    configFile,
    async stop() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** What sending one HL7 message over HTTP gave: the receipt headers, the ACK and the message once terminal. */
export interface Sent {
  id: string;
  receipt: string | null;
  ack: string;
  /** MSA-1. */
  ackCode: string | undefined;
  message: any;
}

/** POSTs an HL7 message to `/api/v1/ingest/<connector>` and waits until it is processed, routed or rejected. */
export async function send(h: TestHub, body: Buffer | string, connector = 'hl7'): Promise<Sent> {
  const r = await h.api('POST', `/api/v1/ingest/${connector}`, typeof body === 'string' ? Buffer.from(body, 'utf8') : body, { 'content-type': 'x-application/hl7-v2+er7' });
  if (r.status !== 200) {
    throw new Error(`ingest answered ${r.status}: ${r.text}`);
  }
  const id = r.headers.get('lotbridge-message-id');
  if (!id) {
    throw new Error(`no LotBridge-Message-Id: ${r.text}`);
  }
  const msa = r.text.split(/\r\n?|\n/).find((l) => l.startsWith('MSA'));
  const message = await h.waitForStatus(id);
  return { id, receipt: r.headers.get('lotbridge-status'), ack: r.text, ackCode: msa?.slice(4, 6), message };
}

/** Creates (or updates) a material through `POST /api/v1/materials`. */
export async function seedMaterial(
  h: TestHub,
  m: { code: string; gtin?: string; kind: string; serialControlled: boolean; identifiers?: Array<Record<string, unknown>> },
): Promise<string> {
  const identifiers = [...(m.gtin ? [{ scheme: 'gtin', value: m.gtin }] : []), ...(m.identifiers ?? [])];
  const r = await h.api(
    'POST',
    '/api/v1/materials',
    JSON.stringify({ code: m.code, kind: m.kind, baseUom: 'EA', lotControlled: true, serialControlled: m.serialControlled, implantable: m.kind === 'implant', identifiers }),
    { 'content-type': 'application/json' },
  );
  if (r.status !== 200 && r.status !== 201) {
    throw new Error(`material ${m.code}: ${r.status} ${r.text}`);
  }
  return r.json.id as string;
}

/** Consignment stock delivered to a hospital location: WMS receive movements over HTTP. */
export async function receiveStock(h: TestHub, movements: Array<{ id: string; location: string; gtin: string; lot: string; quantity: number; expiry?: string; serial?: string }>): Promise<void> {
  const body = movements.map((m) => ({
    movementId: m.id, type: 'receive', occurredAt: '2026-03-01T08:00:00Z', location: m.location, gtin: m.gtin, lot: m.lot, quantity: m.quantity,
    ...(m.expiry ? { expiry: m.expiry } : {}), ...(m.serial ? { serial: m.serial } : {}),
  }));
  const r = await h.api('POST', '/api/v1/ingest/wms', JSON.stringify(body), { 'content-type': 'application/json' });
  if (r.status !== 202) {
    throw new Error(`wms ingest answered ${r.status}: ${r.text}`);
  }
  const m = await h.waitForStatus(r.json.messageId as string);
  if (m.status !== 'processed' || (m.recordErrors ?? []).length > 0) {
    throw new Error(`stock receipt ${m.status}: ${JSON.stringify(m.error ?? m.recordErrors)}`);
  }
}

// balances and ledger per `location/state` of a lot: the WMS tests' helpers
export { balancesOf, ledgerOf, openAlerts } from '../wms/wms-test-data';

/** device_usages of a message with material code, lot, serial and location code, in FT1/device order. */
export async function usagesOf(db: Db, messageId: string): Promise<any[]> {
  return db('device_usages as u')
    .join('materials as m', 'm.id', 'u.material_id')
    .join('locations as loc', 'loc.id', 'u.location_id')
    .leftJoin('lots as l', 'l.id', 'u.lot_id')
    .leftJoin('serials as s', 's.id', 'u.serial_id')
    .where('u.source_message_id', messageId)
    .orderBy('u.ordinal')
    .select('u.*', 'm.code as material', 'l.lot_number as lot', 'l.expiry as lot_expiry', 's.serial_number as serial', 'loc.code as location');
}

/** The trace event a usage row points at, with its items. */
export async function eventWithItems(db: Db, eventId: string): Promise<{ event: any; items: any[] }> {
  const event = await db('trace_events as e').join('locations as l', 'l.id', 'e.location_id').where('e.id', eventId).first('e.*', 'l.code as location');
  const items = await db('trace_event_items').where({ event_id: eventId }).orderBy('id');
  return { event, items };
}


/** Rows per canonical table a message produced (lineage tables with source_message_id). */
export async function countsOf(db: Db, messageId: string): Promise<Record<string, number>> {
  const tables = ['trace_events', 'inventory_ledger', 'device_usages', 'demand_history', 'supply_requisitions', 'lots', 'serials', 'materials', 'locations', 'parties', 'outbox_events', 'audit_log', 'alerts'];
  const out: Record<string, number> = {};
  for (const t of tables) {
    const r = await db(t).where({ source_message_id: messageId }).count<Array<{ count: string }>>('* as count');
    out[t] = Number(r[0].count);
  }
  return out;
}
