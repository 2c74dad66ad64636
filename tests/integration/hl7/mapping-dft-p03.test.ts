import type { TestHub } from '../../helpers/start-hub';
import {
  MATERIALS, balancesOf, countsOf, eventWithItems, fixture, ledgerOf, openAlerts, receiveStock, seedMaterial, send, startMappingHub, usagesOf,
} from './mapping-helpers';

/**
 * DFT^P03 device/supply usage into the canonical model, end to end: HTTP ingest → stored →
 * pipeline → trace_events / inventory / device_usages / demand_history / outbox / audit.
 * Fixtures: tests/fixtures/hl7/mapping/dft-p03-*.hl7.
 */
describe('HL7 DFT^P03 mapping: usage, stock, demand', () => {
  let h: TestHub;
  const db = () => h.hub.db;

  beforeAll(async () => {
    h = await startMappingHub();
    for (const m of Object.values(MATERIALS)) {
      await seedMaterial(h, m);
    }
    // consignment stock delivered to the operating room and the cath lab before the procedures
    await receiveStock(h, [
      { id: 'CONS-STMARY-1', location: 'STMARY/OR2', gtin: MATERIALS.hipStem.gtin, lot: 'L2506A', serial: 'S000211', quantity: 1, expiry: '2030-05-31' },
      { id: 'CONS-STMARY-2', location: 'STMARY/OR2', gtin: MATERIALS.hipHead.gtin, lot: 'C77Q', serial: 'HX-0057', quantity: 1, expiry: '2028-11-30' },
      { id: 'CONS-STMARY-3', location: 'STMARY/OR2', gtin: MATERIALS.screw.gtin, lot: 'SCR-2409-7', quantity: 10, expiry: '2029-10-31' },
      { id: 'CONS-CITY-1', location: 'CITYHOSP/CATHLAB', gtin: MATERIALS.stent.gtin, lot: 'B2603-118', serial: 'DES30018-00417', quantity: 1, expiry: '2028-02-29' },
      { id: 'CONS-CITY-2', location: 'CITYHOSP/CATHLAB', gtin: MATERIALS.balloon.gtin, lot: 'BC-2511-A', quantity: 5 },
      { id: 'CONS-CITY-3', location: 'CITYHOSP/CATHLAB', gtin: MATERIALS.balloon.gtin, lot: 'BC-2601-C', quantity: 5 },
      { id: 'CONS-CITY-4', location: 'CITYHOSP/CATHLAB', gtin: MATERIALS.guideWire.gtin, lot: 'GW2512-03', quantity: 10 },
    ]);
  });
  afterAll(async () => {
    await h?.stop();
  });

  let hipMessageId: string;

  it('v2.8.2 FT1 + PRT: two serialized implants under one FT1 and screws under a second FT1 become consuming events, stock and demand', async () => {
    const sent = await send(h, fixture('dft-p03-v282-hip-two-serialized-implants-two-ft1.hl7'));
    hipMessageId = sent.id;
    expect(sent.receipt).toBe('accepted');
    expect(sent.ackCode).toBe('CA'); // MSH-15 AL: enhanced mode, commit accept
    expect(sent.ack).toContain('MSA|CA|ORIS-20260316-000501');
    expect(sent.message).toMatchObject({
      status: 'processed', messageType: 'DFT^P03', controlId: 'ORIS-20260316-000501', error: null,
      result: { version: '2.8.2', usages: 3, alreadyApplied: 0, unlotted: 0, udiMismatches: 0, ledgerRows: 3 },
    });

    const usages = await usagesOf(db(), sent.id);
    expect(usages.map((u) => [u.material, u.lot, u.serial, u.location, Number(u.quantity), u.uom, u.transaction_type, u.procedure_code])).toEqual([
      ['HIP-STEM-12', 'L2506A', 'S000211', 'STMARY/OR2', 1, 'EA', 'CG', '0SR9019'],
      ['HIP-HEAD-36', 'C77Q', 'HX-0057', 'STMARY/OR2', 1, 'EA', 'CG', '0SR9019'],
      ['SCREW-65-40', 'SCR-2409-7', null, 'STMARY/OR2', 2, 'EA', 'CG', '0SR9019'],
    ]);
    // FT1-4 is a DR from v2.5: its first component (range start) is the usage time, with its own offset
    expect(usages.map((u) => [new Date(u.used_at).toISOString(), u.used_at_offset])).toEqual([
      ['2026-03-16T07:15:00.000Z', '+01:00'],
      ['2026-03-16T07:15:00.000Z', '+01:00'],
      ['2026-03-16T07:40:00.000Z', '+01:00'],
    ]);
    expect(usages[0].udi).toBe('(01)04012345000115(11)250601(17)300531(10)L2506A(21)S000211');
    expect(usages[0].details).toMatchObject({ ft1: '1', device: 1, manufactureDate: '2025-06-01', source: { segment: 'PRT', occurrence: 1 } });
    expect(usages[1].details).toMatchObject({ ft1: '1', device: 2, source: { segment: 'PRT', occurrence: 2 } });
    expect(usages[2].details).toMatchObject({ ft1: '2', device: 1, source: { segment: 'PRT', occurrence: 3 } });
    const hospital = await db()('parties').where({ id: usages[0].party_id }).first();
    expect(hospital).toMatchObject({ code: 'STMARY', role: 'customer' });
    for (const u of usages) {
      expect(u.patient_hmac).toMatch(/^[0-9a-f]{64}$/);
      expect(u.encounter_hmac).toMatch(/^[0-9a-f]{64}$/);
      expect(Buffer.isBuffer(u.patient_enc) && Buffer.isBuffer(u.encounter_enc)).toBe(true);
      expect(u.procedure_ref_hmac).toMatch(/^[0-9a-f]{64}$/);
    }

    // one consuming ObjectEvent per device at the hospital location, its subject the lot (and serial)
    const stem = await eventWithItems(db(), usages[0].trace_event_id);
    expect(stem.event).toMatchObject({
      type: 'ObjectEvent', action: 'OBSERVE', biz_step: 'consuming', disposition: 'dispensed', location: 'STMARY/OR2', event_time_zone_offset: '+01:00',
      biz_transactions: [{ type: 'hl7', value: 'ORIS-20260316-000501/FT1-1' }], source_message_id: sent.id,
      details: { hl7Type: 'DFT^P03', ft1: '1', transactionType: 'CG', hospital: 'STMARY', procedureCode: '0SR9019', credit: false, udi: usages[0].udi },
    });
    expect(stem.items).toEqual([expect.objectContaining({ role: 'subject', lot_id: usages[0].lot_id, serial_id: usages[0].serial_id, quantity: 1, uom: 'EA', base_quantity: 1 })]);
    const screws = await eventWithItems(db(), usages[2].trace_event_id);
    expect(screws.items).toEqual([expect.objectContaining({ role: 'subject', lot_id: usages[2].lot_id, serial_id: null, quantity: 2, base_quantity: 2 })]);
    const ledger = await db()('inventory_ledger').where({ source_message_id: sent.id }).orderBy('ordinal');
    expect(ledger.map((l) => [l.event_id, Number(l.delta), l.stock_state])).toEqual([
      [usages[0].trace_event_id, -1, 'finished'],
      [usages[1].trace_event_id, -1, 'finished'],
      [usages[2].trace_event_id, -2, 'finished'],
    ]);

    // stock at the hospital location: the implants are gone, 8 of 10 screws are left
    expect(await balancesOf(db(), MATERIALS.hipStem.gtin, 'L2506A')).toEqual({});
    expect(await balancesOf(db(), MATERIALS.hipHead.gtin, 'C77Q')).toEqual({});
    expect(await balancesOf(db(), MATERIALS.screw.gtin, 'SCR-2409-7')).toEqual({ 'STMARY/OR2/finished': 8 });
    expect(await ledgerOf(db(), MATERIALS.screw.gtin, 'SCR-2409-7')).toEqual({ 'STMARY/OR2/finished': 8 });
    expect(await openAlerts(db(), 'negative_balance')).toEqual([]);
    const serials = await db()('serials').whereIn('id', [usages[0].serial_id, usages[1].serial_id]).orderBy('serial_number');
    expect(serials.map((s) => [s.serial_number, s.lot_id])).toEqual([
      ['HX-0057', usages[1].lot_id],
      ['S000211', usages[0].lot_id],
    ]);

    // demand history for replenishment: one consumption row per device
    const demand = await db()('demand_history').where({ source_message_id: sent.id }).orderBy('ordinal');
    expect(demand.map((d) => [d.kind, d.material_id, d.location_id, Number(d.quantity), d.uom, d.party_id])).toEqual(
      usages.map((u) => ['consumption', u.material_id, u.location_id, Number(u.quantity), 'EA', hospital.id]),
    );

    // the lot view shows the consuming event at the hospital
    const lot = await h.api('GET', `/api/v1/lots?gtin=${MATERIALS.hipStem.gtin}&lot=L2506A`);
    expect(lot.status).toBe(200);
    expect(lot.json).toMatchObject({ lotNumber: 'L2506A', expiry: '2030-05-31', material: { code: 'HIP-STEM-12' }, totalQuantity: 0 });
    expect(lot.json.events[0]).toMatchObject({ type: 'ObjectEvent', bizStep: 'consuming', disposition: 'dispensed', location: 'STMARY/OR2', quantity: 1, role: 'subject', sourceMessageId: sent.id });
    expect(lot.json.sourceMessageIds).toContain(sent.id);

    // outbox and audit: one device.used / hl7.device_used per device, the patient only as its HMAC
    const outbox = await db()('outbox_events').where({ source_message_id: sent.id, type: 'device.used' }).orderBy('ordinal');
    expect(outbox.map((o) => [o.payload.lotNumber, o.payload.serial, o.payload.quantity, o.payload.location, o.payload.gtin])).toEqual([
      ['L2506A', 'S000211', 1, 'STMARY/OR2', MATERIALS.hipStem.gtin],
      ['C77Q', 'HX-0057', 1, 'STMARY/OR2', MATERIALS.hipHead.gtin],
      ['SCR-2409-7', null, 2, 'STMARY/OR2', MATERIALS.screw.gtin],
    ]);
    expect(outbox[0].payload).toMatchObject({ patientRef: usages[0].patient_hmac, encounterRef: usages[0].encounter_hmac, usageId: usages[0].id, eventId: usages[0].trace_event_id });
    const audit = await db()('audit_log').where({ source_message_id: sent.id }).orderBy('seq');
    expect(audit.filter((a) => a.action === 'hl7.device_used').map((a) => a.entity_id)).toEqual(usages.map((u) => u.id));
    expect(audit.map((a) => a.action)).toContain('message.processed');
  });

  it('an FT1-6 CD credit books the returned screw back at the location, with a negative usage and demand', async () => {
    const sent = await send(h, fixture('dft-p03-v282-cd-credit-unused-screw.hl7'));
    expect(sent.message).toMatchObject({ status: 'processed', result: { usages: 1 } });
    const [u] = await usagesOf(db(), sent.id);
    expect([u.material, u.lot, u.location, Number(u.quantity), u.transaction_type]).toEqual(['SCREW-65-40', 'SCR-2409-7', 'STMARY/OR2', -1, 'CD']);
    const ev = await eventWithItems(db(), u.trace_event_id);
    expect(ev.event).toMatchObject({ biz_step: 'consuming', disposition: 'active', details: { credit: true, transactionType: 'CD' } });
    expect(ev.items).toEqual([expect.objectContaining({ quantity: 1, base_quantity: 1 })]);
    expect((await db()('inventory_ledger').where({ source_message_id: sent.id })).map((l) => Number(l.delta))).toEqual([1]);
    expect(await balancesOf(db(), MATERIALS.screw.gtin, 'SCR-2409-7')).toEqual({ 'STMARY/OR2/finished': 9 });
    const demand = await db()('demand_history').where({ source_message_id: sent.id });
    expect(demand.map((d) => [d.kind, Number(d.quantity)])).toEqual([['consumption', -1]]);
  });

  it('a usage that takes a lot below zero opens a negative_balance alert; the credit that brings it back to zero closes it', async () => {
    const variant = (control: string, type: 'CG' | 'CD'): Buffer => Buffer.from(fixture('dft-p03-v282-cd-credit-unused-screw.hl7').toString('utf8')
      .replace('ORIS-20260316-000502', control).replace('|CD|SCR-65', `|${type}|SCR-65`).replaceAll('SCR-2409-7', 'SCR-NEG-1'), 'utf8');
    const used = await send(h, variant('ORIS-20260316-000570', 'CG'));
    expect(used.message).toMatchObject({ status: 'processed', result: { usages: 1 } });
    expect(await balancesOf(db(), MATERIALS.screw.gtin, 'SCR-NEG-1')).toEqual({ 'STMARY/OR2/finished': -1 });
    const alert = async (): Promise<unknown[]> => (await db().raw(
      `SELECT a.status FROM alerts a JOIN lots l ON l.id::text = a.subject_id WHERE a.type = 'negative_balance' AND l.lot_number = 'SCR-NEG-1'`,
    )).rows;
    expect(await alert()).toEqual([{ status: 'open' }]);
    const credited = await send(h, variant('ORIS-20260316-000571', 'CD'));
    expect(credited.message).toMatchObject({ status: 'processed', result: { usages: 1 } });
    expect(await balancesOf(db(), MATERIALS.screw.gtin, 'SCR-NEG-1')).toEqual({});
    expect(await alert()).toEqual([{ status: 'closed' }]);
  });

  it('the HL7 null "" in PID-3, PV1-19, FT1-1, FT1-6 and FT1-25 is no value: no patient, encounter, procedure or transaction type, and no shared pseudonym', async () => {
    const sent = await send(h, fixture('dft-p03-v282-hl7-nulls.hl7'));
    expect(sent.message).toMatchObject({ status: 'processed', result: { usages: 1 } });
    const [u] = await usagesOf(db(), sent.id);
    expect([u.material, u.lot, Number(u.quantity), u.transaction_type, u.procedure_code]).toEqual(['SCREW-65-40', 'SCR-2409-7', 1, null, null]);
    // a "" patient or encounter hashed as if it were one would give every such message the same pseudonym
    expect([u.patient_hmac, u.encounter_hmac, u.procedure_ref_hmac]).toEqual([null, null, null]);
    // FT1-1 "" is no set id: the FT1's position numbers it
    expect(u.source_key).toMatch(/:FT1-1:1$/);
  });

  it('v2.5.1 OBX device observations (grouped by OBX-4): one device per sub-id, times read in the instance time zone', async () => {
    const sent = await send(h, fixture('dft-p03-v251-obx-device-observations.hl7'), 'cityhosp');
    expect(sent.ackCode).toBe('AA');
    expect(sent.message).toMatchObject({ status: 'processed', connectorId: 'cityhosp', result: { version: '2.5.1', usages: 3, udiMismatches: 0 } });
    const usages = await usagesOf(db(), sent.id);
    expect(usages.map((u) => [u.material, u.lot, u.serial, u.location, Number(u.quantity)])).toEqual([
      ['STENT-DES-3018', 'B2603-118', 'DES30018-00417', 'CITYHOSP/CATHLAB', 1],
      ['BAL-2515-RX', 'BC-2511-A', null, 'CITYHOSP/CATHLAB', 1],
      ['BAL-2515-RX', 'BC-2601-C', null, 'CITYHOSP/CATHLAB', 1],
    ]);
    // 08:45 without an offset, in Europe/Berlin (CEST in April)
    expect([new Date(usages[0].used_at).toISOString(), usages[0].used_at_offset]).toEqual(['2026-04-02T06:45:00.000Z', '+02:00']);
    expect(usages[0].udi).toBe('(01)05412345678908(17)280229(10)B2603-118(21)DES30018-00417');
    expect(usages[0].details).toMatchObject({ source: { segment: 'OBX', occurrence: 1 } });
    expect(await balancesOf(db(), MATERIALS.stent.gtin, 'B2603-118')).toEqual({});
    expect(await balancesOf(db(), MATERIALS.balloon.gtin, 'BC-2511-A')).toEqual({ 'CITYHOSP/CATHLAB/finished': 4 });
    expect(await balancesOf(db(), MATERIALS.balloon.gtin, 'BC-2601-C')).toEqual({ 'CITYHOSP/CATHLAB/finished': 4 });
    const hospital = await db()('parties').where({ id: usages[0].party_id }).first();
    expect(hospital).toMatchObject({ code: 'CITYHOSP' });
  });

  it('a ZSU Z-segment is read where the instance config (zSegments) says; an instance without the rule rejects the FT1 as unidentified', async () => {
    const sent = await send(h, fixture('dft-p03-v251-zsu-site-segment.hl7'), 'cityhosp');
    expect(sent.message).toMatchObject({ status: 'processed', result: { usages: 1 } });
    const [u] = await usagesOf(db(), sent.id);
    expect([u.material, u.lot, u.lot_expiry, u.location, Number(u.quantity), u.udi]).toEqual([
      'GW-014-190', 'GW2512-03', '2027-10-31', 'CITYHOSP/CATHLAB', 3, '(01)05412345679011(17)271031(10)GW2512-03',
    ]);
    expect(u.details).toMatchObject({ source: { segment: 'ZSU', occurrence: 1 } });
    expect(await balancesOf(db(), MATERIALS.guideWire.gtin, 'GW2512-03')).toEqual({ 'CITYHOSP/CATHLAB/finished': 7 });

    // the same message under another MSH-10 (the same one would be a duplicate on any hl7 instance)
    const plain = await send(h, fixture('dft-p03-v251-zsu-site-segment.hl7').toString('utf8').replace('|ST-90002|', '|ST-90002B|'), 'hl7');
    expect(plain.message).toMatchObject({ status: 'rejected', error: { code: 'LB_ERR_HL7_ITEM_UNIDENTIFIED', location: { segment: 'FT1', field: '7', occurrence: 1 } } });
    expect(await usagesOf(db(), plain.id)).toEqual([]);
  });

  it('a device described both in OBX rows and in a ZSU segment is used once, not twice', async () => {
    const sent = await send(h, fixture('dft-p03-v251-obx-and-zsu-same-device.hl7'), 'cityhosp');
    expect(sent.message.error).toBeNull();
    expect(sent.message).toMatchObject({ status: 'processed', result: { usages: 2, udiMismatches: 0 } });
    const usages = await usagesOf(db(), sent.id);
    expect(usages.map((u) => [u.material, u.lot, u.serial, Number(u.quantity)])).toEqual([
      ['STENT-DES-3018', 'B2603-118', 'DES30018-00452', 1],
      ['GW-014-190', 'GW2512-03', null, 2],
    ]);
    expect(await balancesOf(db(), MATERIALS.guideWire.gtin, 'GW2512-03')).toEqual({ 'CITYHOSP/CATHLAB/finished': 5 });
  });

  it('escapes in PRT-19 lot and PRT-20 serial (\\T\\ \\S\\ \\F\\ \\R\\ \\E\\ \\X..\\) are stored unescaped', async () => {
    const sent = await send(h, fixture('dft-p03-v282-escaped-lot-serial.hl7'));
    expect(sent.message).toMatchObject({ status: 'processed', result: { usages: 2 } });
    const usages = await usagesOf(db(), sent.id);
    expect(usages.map((u) => [u.material, u.lot, u.serial, u.lot_expiry, u.location])).toEqual([
      ['ANCHOR-5', 'A&B^C-01', 'SN|0042~7\\X', '2030-12-31', 'STMARY/OR1'],
      ['ANCHOR-5', 'LOT-0815', 'K/9', '2030-12-31', 'STMARY/OR1'],
    ]);
    const lot = await h.api('GET', `/api/v1/lots?gtin=${MATERIALS.anchor.gtin}&lot=${encodeURIComponent('A&B^C-01')}`);
    expect(lot.status).toBe(200);
    expect(lot.json.events).toEqual([expect.objectContaining({ bizStep: 'consuming', location: 'STMARY/OR1', sourceMessageId: sent.id })]);
  });

  it('rejects FT1-10 = 2 for the one serialised device of its PRT, naming FT1-10; a credit of that one unit (-1) is taken', async () => {
    const text = fixture('dft-p03-v282-escaped-lot-serial.hl7').toString('utf8');
    // FT1 1 says 2 units of the one serialised anchor of its PRT
    const two = text.replace('|ORIS-20260318-000610|', '|ORIS-20260318-000611|').replace('|Suture anchor|1|||ORTHO', '|Suture anchor|2|||ORTHO');
    const sent = await send(h, two);
    expect(sent.message).toMatchObject({
      status: 'rejected',
      error: { code: 'LB_ERR_HL7_SERIAL_QUANTITY', message: 'FT1 1: device 1 is serial SN|0042~7\\X, one unit, but its quantity is 2', location: { segment: 'FT1', field: '10', occurrence: 1 } },
    });
    expect(await usagesOf(db(), sent.id)).toEqual([]);
    // a credit of the one unit (-1) is no contradiction
    const credit = text.replace('|ORIS-20260318-000610|', '|ORIS-20260318-000612|').replace('|CG|ACL-ANC^Suture anchor \\T\\ inserter^99LB||Suture anchor|1|', '|CD|ACL-ANC^Suture anchor \\T\\ inserter^99LB||Suture anchor|-1|');
    expect(credit).not.toBe(text.replace('|ORIS-20260318-000610|', '|ORIS-20260318-000612|'));
    const ok = await send(h, credit);
    expect(ok.message.error).toBeNull();
  });

  it('a message with custom delimiters (MSH#$*@!) maps exactly like its twin with the standard ones', async () => {
    const std = await send(h, fixture('dft-p03-v282-twin-standard-delimiters.hl7'));
    const cus = await send(h, fixture('dft-p03-v282-twin-custom-delimiters.hl7'));
    expect(cus.ack.startsWith('MSH#$*@!#')).toBe(true);
    expect(cus.ack).toContain('MSA#CA#ORIS-TWIN-CUS-1');
    for (const s of [std, cus]) {
      expect(s.message).toMatchObject({ status: 'processed', result: { usages: 1, udiMismatches: 0 } });
    }
    const [a] = await usagesOf(db(), std.id);
    const [b] = await usagesOf(db(), cus.id);
    expect([a.material, a.lot, a.serial, a.location, a.udi]).toEqual(['KNEE-FEM-4', 'TW&9', 'S*77!1', 'STMARY/OR3', '(01)04012345000719(17)301130(10)TW&9(21)S*77!1']);
    const same = (u: any) => ({
      material_id: u.material_id, lot_id: u.lot_id, serial_id: u.serial_id, location_id: u.location_id, party_id: u.party_id, quantity: u.quantity, uom: u.uom,
      used_at: new Date(u.used_at).toISOString(), used_at_offset: u.used_at_offset, transaction_type: u.transaction_type, procedure_code: u.procedure_code,
      procedure_ref_hmac: u.procedure_ref_hmac, patient_hmac: u.patient_hmac, encounter_hmac: u.encounter_hmac, udi: u.udi, details: u.details,
    });
    expect(same(b)).toEqual(same(a));
    const ea = await eventWithItems(db(), a.trace_event_id);
    const eb = await eventWithItems(db(), b.trace_event_id);
    expect({ ...eb.event, id: undefined, source_key: undefined, source_message_id: undefined, ordinal: undefined, created_at: undefined, record_time: undefined, biz_transactions: undefined }).toEqual({
      ...ea.event, id: undefined, source_key: undefined, source_message_id: undefined, ordinal: undefined, created_at: undefined, record_time: undefined, biz_transactions: undefined,
    });
    expect(eb.items.map((i) => ({ ...i, id: undefined, event_id: undefined }))).toEqual(ea.items.map((i) => ({ ...i, id: undefined, event_id: undefined })));
  });

  it('reprocessing a processed DFT^P03 changes nothing in the canonical model', async () => {
    const before = await countsOf(db(), hipMessageId);
    const balances = await balancesOf(db(), MATERIALS.screw.gtin, 'SCR-2409-7');
    const r = await h.api('POST', `/api/v1/messages/${hipMessageId}/reprocess`);
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ messageId: hipMessageId, status: 'queued', previousStatus: 'processed' });
    const m = await h.waitForStatus(hipMessageId);
    expect(m).toMatchObject({ status: 'processed', result: { usages: 0, alreadyApplied: 3, ledgerRows: 0 } });
    const after = await countsOf(db(), hipMessageId);
    const canonical = (c: Record<string, number>) => ({ ...c, outbox_events: undefined, audit_log: undefined });
    expect(canonical(after)).toEqual(canonical(before));
    // the second run adds only its own message.processed event and audit row (plus the reprocess audit)
    expect(after.outbox_events - before.outbox_events).toBe(1);
    const newAudit = await db()('audit_log').where({ source_message_id: hipMessageId }).orderBy('seq').offset(before.audit_log);
    expect(newAudit.map((a) => a.action).filter((a) => a !== 'message.reprocess')).toEqual(['message.processed']);
    expect(await balancesOf(db(), MATERIALS.screw.gtin, 'SCR-2409-7')).toEqual(balances);
  });
});
