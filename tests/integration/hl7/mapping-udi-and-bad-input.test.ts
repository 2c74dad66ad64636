import type { TestHub } from '../../helpers/start-hub';
import { MATERIALS, countsOf, fixture, openAlerts, seedMaterial, send, startMappingHub, usagesOf } from './mapping-helpers';

/**
 * DFT^P03 UDI decoding (GS1 and HIBCC in PRT-10) and wrong field types: each bad message is
 * stored, ACKed at store, then `rejected` with a catalogue code and the HL7 location, and writes
 * nothing canonical. Fixtures: tests/fixtures/hl7/mapping/dft-p03-v282-{udi,ft1,truncated}-*.hl7.
 */
describe('HL7 DFT^P03 mapping: UDI decoding and bad input', () => {
  let h: TestHub;
  const db = () => h.hub.db;
  /** The knee femoral component, labelled with a HIBCC UDI (LIC M123) and known to master data by it and by its GTIN. */
  const KNEE_HIBCC = { code: 'KNEE-FEM-HIBCC', gtin: '04012345000610', kind: 'implant', serialControlled: true, identifiers: [{ scheme: 'hibcc', value: 'M123KNEE401' }] };

  beforeAll(async () => {
    // a site that also sends the units of each device in its ZSU segment (ZSU-7)
    h = await startMappingHub([{ id: 'zsu-qty', kind: 'hl7', config: { zSegments: [{ segment: 'ZSU', gtin: 3, lot: 4, serial: 5, expiry: 6, quantity: 7 }] } }]);
    await seedMaterial(h, MATERIALS.hipStem);
    await seedMaterial(h, MATERIALS.screw);
    await seedMaterial(h, KNEE_HIBCC);
    await seedMaterial(h, MATERIALS.guideWire);
  });
  afterAll(async () => {
    await h?.stop();
  });

  /** Nothing canonical was written: only the message.rejected audit row and the message.failed outbox event for flows. */
  async function expectNothingWritten(id: string): Promise<void> {
    const counts = await countsOf(db(), id);
    expect({ ...counts, audit_log: undefined }).toEqual({
      trace_events: 0, inventory_ledger: 0, device_usages: 0, demand_history: 0, supply_requisitions: 0, lots: 0, serials: 0, materials: 0, locations: 0, parties: 0,
      outbox_events: 1, alerts: 0, audit_log: undefined,
    });
    const audit = await db()('audit_log').where({ source_message_id: id });
    expect(audit.map((a) => a.action)).toEqual(['message.rejected']);
    const outbox = await db()('outbox_events').where({ source_message_id: id });
    expect(outbox.map((o) => [o.type, o.payload.status])).toEqual([['message.failed', 'rejected']]);
  }

  it('a GTIN with a wrong check digit in the PRT-10 UDI rejects the message with LB_ERR_GS1_CHECK_DIGIT at PRT-10 and the character position', async () => {
    const sent = await send(h, fixture('dft-p03-v282-udi-bad-gtin-check-digit.hl7'));
    expect(sent.receipt).toBe('accepted');
    expect(sent.ackCode).toBe('AA'); // ACK on store: the content error surfaces on the message
    expect(sent.message.status).toBe('rejected');
    expect(sent.message.error).toMatchObject({
      code: 'LB_ERR_GS1_CHECK_DIGIT',
      location: { segment: 'PRT', occurrence: 1, field: '10', line: 6, position: 18 },
    });
    expect(sent.message.error.message).toMatch(/^PRT-10: UDI "\(01\)04012345000116.*": /);
    await expectNothingWritten(sent.id);
  });

  it('a UDI whose lot and expiry contradict PRT-19 / PRT-18 is processed with the UDI values and an open udi_mismatch alert per field', async () => {
    const sent = await send(h, fixture('dft-p03-v282-udi-lot-expiry-contradict-prt.hl7'));
    expect(sent.message).toMatchObject({ status: 'processed', result: { usages: 1, udiMismatches: 2 } });
    const [u] = await usagesOf(db(), sent.id);
    expect([u.material, u.lot, u.serial, u.lot_expiry]).toEqual(['HIP-STEM-12', 'L2506A', 'S000305', '2030-05-31']);
    const alerts = (await openAlerts(db(), 'udi_mismatch')).filter((a) => a.source_message_id === sent.id);
    expect(alerts.map((a) => [a.severity, a.subject_type, a.subject_id, a.details.field, a.details.udiValue, a.details.givenValue])).toEqual([
      ['warning', 'message', sent.id, 'lot', 'L2506A', 'L2506B'],
      ['warning', 'message', sent.id, 'expiry', '2030-05-31', '2031-05-31'],
    ]);
    expect(alerts[0].message).toMatch(/ORIS-20260322-000802 FT1 1: The UDI's lot 'L2506A' contradicts the given lot 'L2506B'/);
    expect(alerts[0].details).toMatchObject({ udi: '(01)04012345000115(17)300531(10)L2506A(21)S000305', source: { segment: 'PRT', occurrence: 1 } });
    const outbox = await db()('outbox_events').where({ source_message_id: sent.id, type: 'alert.opened' });
    expect(outbox.filter((o) => o.payload.type === 'udi_mismatch').map((o) => o.payload.alertId).sort()).toEqual(alerts.map((a) => a.id).sort());
  });

  it('a PRT-18 expiry known to the month (DTM 203005) is the last day of that month, and agrees with a UDI expiry in that month', async () => {
    const sent = await send(h, fixture('dft-p03-v282-prt-18-expiry-month-only.hl7'));
    expect(sent.message).toMatchObject({ status: 'processed', result: { usages: 2, udiMismatches: 0 } });
    const usages = await usagesOf(db(), sent.id);
    expect(usages.map((u) => [u.lot, u.serial, u.lot_expiry])).toEqual([
      ['L2506M', 'S000611', '2030-05-31'],
      // the UDI's own day wins over the month sent apart
      ['L2505N', 'S000612', '2030-05-15'],
    ]);
    expect((await openAlerts(db(), 'udi_mismatch')).filter((a) => a.source_message_id === sent.id)).toEqual([]);
  });

  it('a HIBCC UDI in PRT-10 is decoded and the device found in master data by its HIBCC identifier', async () => {
    const sent = await send(h, fixture('dft-p03-v282-udi-hibcc-known-device.hl7'));
    expect(sent.message.error).toBeNull();
    expect(sent.message).toMatchObject({ status: 'processed', result: { usages: 1, udiMismatches: 0 } });
    const [u] = await usagesOf(db(), sent.id);
    expect([u.material, u.lot, u.serial, u.lot_expiry, u.location, u.udi]).toEqual([
      'KNEE-FEM-HIBCC', 'KL2406X', '0042', '2030-05-31', 'STMARY/OR2', '+M123KNEE401/$$3300531KL2406X/S00428',
    ]);
    const lot = await h.api('GET', `/api/v1/lots?gtin=${KNEE_HIBCC.gtin}&lot=KL2406X`);
    expect(lot.json.events).toEqual([expect.objectContaining({ bizStep: 'consuming', location: 'STMARY/OR2', sourceMessageId: sent.id })]);
    expect(await db()('materials').where('code', 'like', 'GTIN-%')).toEqual([]); // no provisional material
  });

  it('a HIBCC UDI of a device master data does not know rejects the message with LB_ERR_HL7_ITEM_UNIDENTIFIED at the PRT', async () => {
    const sent = await send(h, fixture('dft-p03-v282-udi-hibcc-unknown-device.hl7'));
    expect(sent.message.status).toBe('rejected');
    expect(sent.message.error).toMatchObject({ code: 'LB_ERR_HL7_ITEM_UNIDENTIFIED', location: { segment: 'PRT', occurrence: 1, field: '10' } });
    expect(sent.message.error.message).toMatch(/HIBCC device M123TIB0201/);
    await expectNothingWritten(sent.id);
  });

  it('a HIBCC device whose material has no GTIN is rejected with that reason (stock is booked by GTIN)', async () => {
    await seedMaterial(h, { code: 'KNEE-PAT-HIBCC', kind: 'implant', serialControlled: false, identifiers: [{ scheme: 'hibcc', value: '+M123PAT0101' }] });
    const sent = await send(h, fixture('dft-p03-v282-udi-hibcc-device-without-gtin.hl7'));
    expect(sent.message.status).toBe('rejected');
    expect(sent.message.error).toMatchObject({ code: 'LB_ERR_HL7_ITEM_UNIDENTIFIED', location: { segment: 'PRT', field: '10' } });
    expect(sent.message.error.message).toMatch(/HIBCC device M123PAT0101 is material KNEE-PAT-HIBCC, which has no GTIN/);
    await expectNothingWritten(sent.id);
  });

  it('a HIBCC UDI whose device identifier differs from PRT-16 raises a udi_mismatch alert on the device identifier', async () => {
    const sent = await send(h, fixture('dft-p03-v282-udi-hibcc-di-contradicts-prt-16.hl7'));
    expect(sent.message).toMatchObject({ status: 'processed', result: { usages: 1, udiMismatches: 1 } });
    const alerts = (await openAlerts(db(), 'udi_mismatch')).filter((a) => a.source_message_id === sent.id);
    expect(alerts.map((a) => [a.details.field, a.details.udiValue, a.details.givenValue])).toEqual([['gtin', 'M123KNEE401', 'M123KNEE402']]);
  });

  it.each([
    ['dft-p03-v282-ft1-4-date-2024-13-45.hl7', '2024-13-45'],
    ['dft-p03-v282-ft1-4-date-20241345.hl7', '20241345'],
  ])('FT1-4 %s is rejected with LB_ERR_HL7_DATE at FT1-4', async (name, value) => {
    const sent = await send(h, fixture(name));
    expect(sent.message.status).toBe('rejected');
    expect(sent.message.error).toMatchObject({ code: 'LB_ERR_HL7_DATE', location: { segment: 'FT1', occurrence: 1, field: '4', line: 5 } });
    expect(sent.message.error.message).toContain(JSON.stringify(value));
    await expectNothingWritten(sent.id);
  });

  it('FT1-10 quantity "abc" is rejected with LB_ERR_HL7_NUMBER at FT1-10', async () => {
    const sent = await send(h, fixture('dft-p03-v282-ft1-10-quantity-abc.hl7'));
    expect(sent.message.status).toBe('rejected');
    expect(sent.message.error).toMatchObject({ code: 'LB_ERR_HL7_NUMBER', location: { segment: 'FT1', occurrence: 1, field: '10', line: 5 } });
    expect(sent.message.error.message).toContain('"abc"');
    await expectNothingWritten(sent.id);
  });

  it('a Z-segment quantity that is not a number ("one") is rejected with LB_ERR_HL7_NUMBER at that field, not counted as 1', async () => {
    const sent = await send(h, fixture('dft-p03-v251-zsu-quantity-one-in-words.hl7'), 'zsu-qty');
    expect(sent.message.status).toBe('rejected');
    expect(sent.message.error).toMatchObject({ code: 'LB_ERR_HL7_NUMBER', location: { segment: 'ZSU', occurrence: 2, field: '7', line: 7 } });
    expect(sent.message.error.message).toContain('"one"');
    await expectNothingWritten(sent.id);
  });

  it('a message cut two characters into its last segment is rejected with LB_ERR_HL7_SEGMENT_INVALID at that line', async () => {
    const sent = await send(h, fixture('dft-p03-v282-truncated-after-pr.hl7'));
    expect(sent.message.status).toBe('rejected');
    expect(sent.message.error).toMatchObject({ code: 'LB_ERR_HL7_SEGMENT_INVALID', location: { line: 6, segmentIndex: 6 } });
    await expectNothingWritten(sent.id);
  });

  it('a message cut inside the PRT-10 UDI is rejected with the GS1 error at PRT-10, not booked with a partial GTIN', async () => {
    const sent = await send(h, fixture('dft-p03-v282-truncated-inside-prt-10-udi.hl7'));
    expect(sent.message.status).toBe('rejected');
    expect(sent.message.error.code).toMatch(/^LB_ERR_GS1_/);
    expect(sent.message.error.location).toMatchObject({ segment: 'PRT', field: '10', line: 6 });
    await expectNothingWritten(sent.id);
  });
});
