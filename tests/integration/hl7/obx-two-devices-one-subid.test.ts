import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { messagesOf, mllpPortOf, mllpSend, parseAck } from '../../helpers/hl7';

/*
 * Review finding: OBX device rows are grouped by OBX-4 (sub-id), and within a group a later LOT or
 * SERIAL row silently overwrote an earlier one. A sender that leaves OBX-4 empty and lists two
 * implants under one FT1 (LOT, SERIAL, LOT, SERIAL) had one usage booked (the second implant) and
 * the first implant lost without a word: a hole in the patient's implant record that a recall
 * would miss. Expected: a clear error at the OBX row that contradicts its group (or two devices),
 * never a silent loss.
 */
const msg = (controlId: string): string =>
  [
    `MSH|^~\\&|SUPPLYTRK|CITYHOSP|LOTBRIDGE|MEDTECH|20260402091500||DFT^P03^DFT_P03|${controlId}|P|2.5.1`,
    'EVN|P03|20260402091500',
    'PID|1||884422^^^CITYHOSP^MR||Schmidt^Hans||19550203|M',
    'PV1|1|O|CATHLAB^^^CITYHOSP',
    // FT1-10 empty: "with several devices under one FT1, each device counts 1"
    'FT1|1|CL-7701||20260402084500|20260402091500|CG|04012345000115^Hip stem^GTIN||Hip stem|||||||',
    'OBX|1|ST|LOT^Lot number^99LB||LA-2601||||||F',
    'OBX|2|ST|SERIAL^Serial number^99LB||SA-0001||||||F',
    'OBX|3|ST|LOT^Lot number^99LB||LB-2602||||||F',
    'OBX|4|ST|SERIAL^Serial number^99LB||SB-0002||||||F',
  ].join('\r') + '\r';

describe('HL7: two devices in OBX rows without sub-ids', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_MLLP_PORT: '0' } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('does not drop the first of two implants described by OBX rows of one (empty) sub-id', async () => {
    const [answer] = await mllpSend(mllpPortOf(h), Buffer.from(msg('OBX-2DEV-0001'), 'latin1'));
    expect(parseAck(answer)).toMatchObject({ code: 'AA', controlId: 'OBX-2DEV-0001' });
    const [row] = await messagesOf(h, 'OBX-2DEV-0001');
    const m = await h.waitForStatus(row.id);
    if (m.status === 'processed') {
      // mapped: both implants are on record
      const usages = await h.hub.db('device_usages as u').join('serials as s', 's.id', 'u.serial_id').where({ 'u.source_message_id': row.id }).select('s.serial_number');
      expect(usages.map((u: { serial_number: string }) => u.serial_number).sort()).toEqual(['SA-0001', 'SB-0002']);
    } else {
      // refused: with a clear error at the OBX row that starts a second device in the group
      expect(m.status).toBe('rejected');
      expect(m.error.location).toMatchObject({ segment: 'OBX', occurrence: 3, field: '5' });
    }
  });
});
