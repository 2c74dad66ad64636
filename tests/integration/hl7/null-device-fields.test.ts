import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { countRows, hl7Fixture, messagesOf, mllpPortOf, mllpSend, parseAck, setHl7Field } from '../../helpers/hl7';

/*
 * Review finding: HL7's explicit null `""` ("no value, delete it") is treated as data in the device
 * fields of a DFT^P03: the typed readers (dates, numbers, required values) know `""`, but the device
 * readers took PRT-19/PRT-20 (and OBX-5, Z fields) with Hl7Segment.get, which returns `""` as written.
 * Engines configured to "send nulls" write `""` for every empty field. A PRT-20 `""` made a
 * non-serialised device "serial \"\"" (FT1-10 = 2 then rejected it with LB_ERR_HL7_SERIAL_QUANTITY),
 * and a PRT-19 `""` booked the usage into a lot literally named `""`.
 */
describe('HL7: the HL7 null "" in device fields', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_MLLP_PORT: '0' } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  /** The single-implant DFT^P03 without UDI carrier (PRT-16 GTIN, PRT-18 expiry), with PRT-19/PRT-20/FT1-10 as given. */
  const dft = (controlId: string, lot: string, serial: string, quantity: string): Buffer => {
    let m = hl7Fixture('transport/dft-p03-v282-single-implant.hl7');
    m = setHl7Field(m, 'MSH', 10, controlId);
    m = setHl7Field(m, 'FT1', 2, `TX-${controlId}`);
    m = setHl7Field(m, 'FT1', 10, quantity);
    m = setHl7Field(m, 'PRT', 10, '""');
    m = setHl7Field(m, 'PRT', 19, lot);
    m = setHl7Field(m, 'PRT', 20, serial);
    return m;
  };

  it('maps a device whose PRT-20 is "" (no serial) with FT1-10 = 2 as two units of its lot', async () => {
    const [answer] = await mllpSend(mllpPortOf(h), dft('NULL-SER-0001', 'L2506N', '""', '2'));
    expect(parseAck(answer)).toMatchObject({ code: 'AA', controlId: 'NULL-SER-0001' });
    const [row] = await messagesOf(h, 'NULL-SER-0001');
    const m = await h.waitForStatus(row.id);
    expect(m.error?.message).toBeUndefined();
    expect(m.status).toBe('processed');
    const usages = await h.hub.db('device_usages').where({ source_message_id: row.id }).select('quantity', 'serial_id', 'lot_id');
    expect(usages).toHaveLength(1);
    expect(usages[0]).toMatchObject({ serial_id: null });
    expect(Number(usages[0].quantity)).toBe(2);
    expect(await countRows(h, 'serials', { serial_number: '""' })).toBe(0);
  });

  it('records a device whose PRT-19 is "" as unlotted instead of creating a lot named ""', async () => {
    const [answer] = await mllpSend(mllpPortOf(h), dft('NULL-LOT-0001', '""', '""', '1'));
    expect(parseAck(answer)).toMatchObject({ code: 'AA', controlId: 'NULL-LOT-0001' });
    const [row] = await messagesOf(h, 'NULL-LOT-0001');
    const m = await h.waitForStatus(row.id);
    expect(m.status).toBe('processed');
    expect(m.result).toMatchObject({ unlotted: 1 });
    expect(await countRows(h, 'lots', { lot_number: '""' })).toBe(0);
  });

  it('books a usage whose FT1-16 is "" at the PV1-3 location, not at a location named ""', async () => {
    let m = dft('NULL-LOC-0001', 'L2506L', 'S2506L1', '1');
    m = setHl7Field(m, 'FT1', 16, '""');
    const [answer] = await mllpSend(mllpPortOf(h), m);
    expect(parseAck(answer)).toMatchObject({ code: 'AA', controlId: 'NULL-LOC-0001' });
    const [row] = await messagesOf(h, 'NULL-LOC-0001');
    expect((await h.waitForStatus(row.id)).status).toBe('processed');
    const usage = await h.hub.db('device_usages as u').join('locations as l', 'l.id', 'u.location_id').where({ 'u.source_message_id': row.id }).first('l.code');
    expect(usage.code).toBe('STMARY/OR3');
  });
});

