import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/db/knex';

/**
 * Builds canonical rows by hand (materials, lots, genealogy, stock, shipments, usages, QC, events)
 * the way the connectors write them, for trace and recall tests with answers computed by hand.
 * Every row gets a source message id (one per builder) and ordinals, like real lineage.
 */
export class GenealogyFixture {
  readonly messageId = randomUUID();
  private ordinal = 0;
  readonly materials = new Map<string, string>();
  readonly lots = new Map<string, string>();
  readonly locations = new Map<string, string>();
  readonly parties = new Map<string, string>();
  readonly serials = new Map<string, string>();
  readonly shipments = new Map<string, string>();
  private lineNo = new Map<string, number>();

  constructor(readonly db: Db) {}

  private next(): number {
    return ++this.ordinal;
  }

  async material(code: string, opts: { gtin?: string; kind?: string; uom?: string } = {}): Promise<string> {
    const id = randomUUID();
    await this.db('materials').insert({ id, code, description: `${code} (test)`, kind: opts.kind ?? 'finished', base_uom: opts.uom ?? 'EA' });
    await this.db('material_identifiers').insert({ material_id: id, scheme: 'internal', value: code });
    if (opts.gtin) await this.db('material_identifiers').insert({ material_id: id, scheme: 'gtin', value: opts.gtin, packaging_level: 'each' });
    this.materials.set(code, id);
    return id;
  }

  /** A lot; `key` is how the test names it (e.g. 'R1'). */
  async lot(key: string, material: string, lotNumber: string, status = 'released'): Promise<string> {
    const id = randomUUID();
    await this.db('lots').insert({ id, material_id: this.materials.get(material), lot_number: lotNumber, status, expiry: '2030-12-31', source_message_id: this.messageId, ordinal: this.next() });
    this.lots.set(key, id);
    return id;
  }

  /** Genealogy: `input` went into `output` (lot keys). */
  async link(input: string, output: string, quantity = 1): Promise<void> {
    await this.db('lot_links').insert({ input_lot_id: this.lots.get(input), output_lot_id: this.lots.get(output), quantity, uom: 'EA', source_message_id: this.messageId, ordinal: this.next() });
  }

  async party(code: string, role: string, name: string, gln?: string): Promise<string> {
    const id = randomUUID();
    await this.db('parties').insert({ id, code, gln: gln ?? null, name, role });
    this.parties.set(code, id);
    return id;
  }

  async location(code: string, opts: { kind?: string; party?: string; name?: string } = {}): Promise<string> {
    const id = randomUUID();
    await this.db('locations').insert({ id, code, name: opts.name ?? code, kind: opts.kind ?? 'warehouse', party_id: opts.party ? this.parties.get(opts.party) : null });
    this.locations.set(code, id);
    return id;
  }

  async balance(lot: string, location: string, state: string, quantity: number): Promise<void> {
    await this.db('inventory_balances').insert({ lot_id: this.lots.get(lot), location_id: this.locations.get(location), stock_state: state, quantity });
  }

  /** A serial; `lot` null for a unit without a batch (as EDI ASNs bring them). */
  async serial(key: string, material: string, lot: string | null, serialNumber: string, location?: string): Promise<string> {
    const id = randomUUID();
    await this.db('serials').insert({ id, material_id: this.materials.get(material), lot_id: lot === null ? null : this.lots.get(lot), serial_number: serialNumber, location_id: location ? this.locations.get(location) : null, source_message_id: this.messageId, ordinal: this.next() });
    this.serials.set(key, id);
    return id;
  }

  async shipment(number: string, direction: 'inbound' | 'outbound', party: string, status: string, opts: { from?: string } = {}): Promise<string> {
    const id = randomUUID();
    await this.db('shipments').insert({
      id, shipment_number: number, direction, status,
      to_party_id: direction === 'outbound' ? this.parties.get(party) : null,
      from_party_id: direction === 'inbound' ? this.parties.get(party) : null,
      from_location_id: opts.from ? this.locations.get(opts.from) : null,
      ship_to: direction === 'outbound' ? party : null,
      shipped_at: '2026-03-02T08:00:00Z', expected_at: '2026-03-04T08:00:00Z', delivered_at: status === 'delivered' ? '2026-03-03T10:00:00Z' : null,
      source_message_id: this.messageId, ordinal: this.next(),
    });
    this.shipments.set(number, id);
    return id;
  }

  /** A shipment line; `lot` null for a line of a lotless serial. */
  async shipLine(shipment: string, lot: string | null, material: string, quantity: number, serial?: string): Promise<void> {
    const n = (this.lineNo.get(shipment) ?? 0) + 1;
    this.lineNo.set(shipment, n);
    await this.db('shipment_lines').insert({
      shipment_id: this.shipments.get(shipment), line_no: n, material_id: this.materials.get(material), lot_id: lot === null ? null : this.lots.get(lot),
      serial_id: serial ? this.serials.get(serial) : null, quantity_shipped: quantity, uom: 'EA', source_message_id: this.messageId, ordinal: this.next(),
    });
  }

  /** A device usage at a hospital; `lot` null for a lotless serial's usage. */
  async usage(lot: string | null, material: string, location: string, hospital: string, quantity: number, usedAt: string, opts: { serial?: string; procedureRef?: string; procedureCode?: string } = {}): Promise<void> {
    await this.db('device_usages').insert({
      id: randomUUID(), source_key: `test:${randomUUID()}`, material_id: this.materials.get(material), lot_id: lot === null ? null : this.lots.get(lot),
      serial_id: opts.serial ? this.serials.get(opts.serial) : null, location_id: this.locations.get(location), party_id: this.parties.get(hospital),
      quantity, uom: 'EA', used_at: usedAt, procedure_code: opts.procedureCode ?? '0SRC0J9', procedure_ref_hmac: opts.procedureRef ?? null,
      source_message_id: this.messageId, ordinal: this.next(),
    });
  }

  async qc(lot: string, test: string, result: string, value?: string): Promise<void> {
    await this.db('quality_results').insert({
      id: randomUUID(), lot_id: this.lots.get(lot), test_code: test, test_name: `${test} test`, result, value: value ?? null, disposition: result === 'pass' ? 'accept' : 'reject',
      inspected_at: '2026-02-20T09:00:00Z', source_message_id: this.messageId, ordinal: this.next(),
    });
  }

  /** A TransformationEvent with input and output items (lot keys, optional serial keys). */
  async transformation(inputs: Array<{ lot: string | null; material: string; quantity: number; serial?: string }>, outputs: Array<{ lot: string; material: string; quantity: number }>, opts: { location?: string; time?: string } = {}): Promise<string> {
    const id = randomUUID();
    await this.db('trace_events').insert({
      id, type: 'TransformationEvent', biz_step: 'commissioning', disposition: 'active', event_time: opts.time ?? '2026-03-01T12:00:00Z', event_time_zone_offset: '+01:00',
      location_id: opts.location ? this.locations.get(opts.location) : null, biz_transactions: JSON.stringify([{ type: 'prodorder', value: 'PO-4711' }]),
      source_message_id: this.messageId, ordinal: this.next(),
    });
    for (const i of inputs) {
      await this.db('trace_event_items').insert({ event_id: id, role: 'input', material_id: this.materials.get(i.material), lot_id: i.lot === null ? null : this.lots.get(i.lot), serial_id: i.serial ? this.serials.get(i.serial) : null, quantity: i.quantity, uom: 'EA' });
    }
    for (const o of outputs) {
      await this.db('trace_event_items').insert({ event_id: id, role: 'output', material_id: this.materials.get(o.material), lot_id: this.lots.get(o.lot), quantity: o.quantity, uom: 'EA' });
    }
    return id;
  }
}

/** GTINs with valid check digits for the fixtures. */
export const GTIN = { KNEE: '09506000134352', KIT: '09506000134369', STEM: '09506000134376' };

/**
 * The knee-implant genealogy of the trace and recall tests (answers in the tests are computed by hand from this):
 *
 *   R1 (RAW-TI TI-001) ─┬─► C1 (CMP-STEM ST-1) ─┬─► F1 (FG-KNEE FG-1) ─┬─► K1 (KIT-KNEE K-1)
 *                       └─► C2 (CMP-STEM ST-2) ─┼─► F2 (FG-KNEE FG-2) ─┘
 *                                               │     ▲
 *   R2 (RAW-PE PE-001) ───► I1 (CMP-INSERT IN-1)┴─────┘ (I1 goes into F1 and F2: a shared component)
 *   (C1 → F2 and C2 → F2: a diamond R1 → {C1, C2} → F2; F1, F2 → K1: another)
 *   R3 (RAW-TI TI-999) ───► C3 (CMP-STEM ST-9) ───► U1 (FG-KNEE FG-9)   (unrelated: must never appear)
 */
export async function buildKneeGenealogy(db: Db): Promise<GenealogyFixture> {
  const f = new GenealogyFixture(db);
  await f.material('RAW-TI', { kind: 'raw', uom: 'KG' });
  await f.material('RAW-PE', { kind: 'raw', uom: 'KG' });
  await f.material('CMP-STEM', { kind: 'component', gtin: GTIN.STEM });
  await f.material('CMP-INSERT', { kind: 'component' });
  await f.material('FG-KNEE', { kind: 'implant', gtin: GTIN.KNEE });
  await f.material('KIT-KNEE', { kind: 'finished', gtin: GTIN.KIT });
  await f.lot('R1', 'RAW-TI', 'TI-001');
  await f.lot('R2', 'RAW-PE', 'PE-001');
  await f.lot('R3', 'RAW-TI', 'TI-999');
  await f.lot('C1', 'CMP-STEM', 'ST-1');
  await f.lot('C2', 'CMP-STEM', 'ST-2', 'quarantine');
  await f.lot('C3', 'CMP-STEM', 'ST-9');
  await f.lot('I1', 'CMP-INSERT', 'IN-1');
  await f.lot('F1', 'FG-KNEE', 'FG-1');
  await f.lot('F2', 'FG-KNEE', 'FG-2');
  await f.lot('U1', 'FG-KNEE', 'FG-9');
  await f.lot('K1', 'KIT-KNEE', 'K-1');
  await f.link('R1', 'C1', 10);
  await f.link('R1', 'C2', 5);
  await f.link('R2', 'I1', 3);
  await f.link('C1', 'F1', 20);
  await f.link('C1', 'F2', 4);
  await f.link('C2', 'F2', 6);
  await f.link('I1', 'F1', 20);
  await f.link('I1', 'F2', 10);
  await f.link('F1', 'K1', 2);
  await f.link('F2', 'K1', 2);
  await f.link('R3', 'C3', 1);
  await f.link('C3', 'U1', 1);

  await f.party('SUP-TI', 'supplier', 'Titanium Works', '4012345000009');
  await f.party('CUST-A', 'hospital', 'St. Anna Hospital', '4012345000016');
  await f.party('CUST-B', 'distributor', 'MedDistri GmbH', '4012345000023');
  await f.location('WH1', { name: 'Main warehouse' });
  await f.location('HOSP-A-OR1', { kind: 'operating_room', party: 'CUST-A', name: 'St. Anna OR 1' });

  await f.balance('R1', 'WH1', 'raw', 100);
  await f.balance('C2', 'WH1', 'component', 40);
  await f.balance('F1', 'WH1', 'finished', 20);
  await f.balance('F1', 'WH1', 'pending_shipment', 5);
  await f.balance('F2', 'WH1', 'finished', 7);
  await f.balance('K1', 'WH1', 'finished', 3);
  await f.balance('U1', 'WH1', 'finished', 99);
  await f.balance('C1', 'WH1', 'component', 0); // a zero balance is no stock

  await f.serial('S1', 'FG-KNEE', 'F1', 'SN-0001', 'HOSP-A-OR1');
  await f.serial('S2', 'FG-KNEE', 'F1', 'SN-0002');

  await f.shipment('SH-1', 'outbound', 'CUST-A', 'delivered', { from: 'WH1' });
  await f.shipLine('SH-1', 'F1', 'FG-KNEE', 10);
  await f.shipLine('SH-1', 'K1', 'KIT-KNEE', 2);
  await f.shipLine('SH-1', 'F1', 'FG-KNEE', 1, 'S1');
  await f.shipment('SH-2', 'outbound', 'CUST-B', 'shipped', { from: 'WH1' });
  await f.shipLine('SH-2', 'F2', 'FG-KNEE', 4);
  await f.shipLine('SH-2', 'F1', 'FG-KNEE', 6);
  await f.shipment('SH-3', 'outbound', 'CUST-A', 'planned', { from: 'WH1' });
  await f.shipLine('SH-3', 'F2', 'FG-KNEE', 1);
  await f.shipment('SH-9', 'outbound', 'CUST-B', 'shipped', { from: 'WH1' });
  await f.shipLine('SH-9', 'U1', 'FG-KNEE', 50);
  await f.shipment('IN-1', 'inbound', 'SUP-TI', 'received');
  await f.shipLine('IN-1', 'R1', 'RAW-TI', 100);
  await f.shipLine('IN-1', 'R3', 'RAW-TI', 30);

  await f.usage('F1', 'FG-KNEE', 'HOSP-A-OR1', 'CUST-A', 1, '2026-03-05T09:30:00Z', { serial: 'S1', procedureRef: 'hmac-proc-aaa' });
  await f.usage('F1', 'FG-KNEE', 'HOSP-A-OR1', 'CUST-A', 1, '2026-03-06T14:00:00Z', { procedureRef: 'hmac-proc-bbb' });
  await f.usage('K1', 'KIT-KNEE', 'HOSP-A-OR1', 'CUST-A', 1, '2026-03-07T08:15:00Z', { procedureRef: 'hmac-proc-ccc' });
  await f.usage('U1', 'FG-KNEE', 'HOSP-A-OR1', 'CUST-A', 4, '2026-03-07T08:15:00Z', { procedureRef: 'hmac-proc-zzz' });

  await f.qc('R1', 'TENSILE', 'pass', '950');
  await f.qc('C1', 'DIM', 'fail', '12.7');
  await f.qc('U1', 'DIM', 'pass');
  // serial S2 went into the kit K1 (a serial-level input of the kitting event)
  await f.transformation([{ lot: 'F1', material: 'FG-KNEE', quantity: 1, serial: 'S2' }, { lot: 'F2', material: 'FG-KNEE', quantity: 1 }], [{ lot: 'K1', material: 'KIT-KNEE', quantity: 1 }], { location: 'WH1' });
  return f;
}
