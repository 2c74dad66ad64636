import { parseHl7Message } from '../../../../src/parsers/hl7';
import { fixture, thrown } from './hl7-test-helpers';

describe('parseHl7Message: realistic messages', () => {
  it('reads a DFT^P03 v2.8.2 with FT1 and the PRT device segments after each FT1', () => {
    const msg = parseHl7Message(fixture('dft-p03-v282-ft1-prt-udi.hl7'));
    expect(msg.header).toMatchObject({
      sendingApplication: 'ORIS',
      sendingFacility: 'STMARY',
      messageType: 'DFT',
      triggerEvent: 'P03',
      messageStructure: 'DFT_P03',
      controlId: 'ORIS-20260315-000417',
      version: '2.8.2',
      acceptAckType: 'AL',
      applicationAckType: 'NE',
      charset: 'UNICODE UTF-8',
    });
    expect(msg.segments.map((s) => s.name)).toEqual(['MSH', 'EVN', 'PID', 'PV1', 'FT1', 'PRT', 'PRT', 'FT1', 'PRT', 'FT1']);
    const groups = msg.segmentGroups('FT1', { members: ['PRT'] }).map((g) => ({
      code: g.leader.get(7),
      quantity: g.leader.get(10),
      devices: g.members.map((p) => ({
        at: [p.index, p.occurrence, p.line],
        role: p.get(4),
        udi: p.get(10),
        udiRoot: p.get(10, 3),
        di: p.get(16),
        made: p.get(17),
        expiry: p.get(18),
        lot: p.get(19),
        serial: p.get(20),
      })),
    }));
    expect(groups).toEqual([
      {
        code: 'IMPL-HIP',
        quantity: '1',
        devices: [
          {
            at: [6, 1, 6],
            role: 'EQUIP',
            udi: '(01)04012345000115(11)250601(17)300531(10)L2506A(21)S000193',
            udiRoot: '2.51.1.1',
            di: '04012345000115',
            made: '20250601',
            expiry: '20300531',
            lot: 'L2506A',
            serial: 'S000193',
          },
          {
            at: [7, 2, 7],
            role: 'EQUIP',
            udi: '(01)04012345000214(17)281130(10)C77Q(21)HX-0042',
            udiRoot: '2.51.1.1',
            di: '04012345000214',
            made: undefined,
            expiry: '20281130',
            lot: 'C77Q',
            serial: 'HX-0042',
          },
        ],
      },
      {
        code: 'IMPL-SCR',
        quantity: '2',
        devices: [
          {
            at: [9, 3, 9],
            role: 'EQUIP',
            udi: '(01)04012345000320(17)291031(10)SCR-2409-7',
            udiRoot: '2.51.1.1',
            di: '04012345000320',
            made: undefined,
            expiry: '20291031',
            lot: 'SCR-2409-7',
            serial: undefined,
          },
        ],
      },
      { code: 'SUP-DRP', quantity: '1', devices: [] },
    ]);
    expect(msg.get('PRT', 3, 19)).toBe('SCR-2409-7');
    expect(msg.get('PRT', { segmentIndex: 7 }, 20)).toBe('HX-0042');
    expect(msg.get('PRT', { segmentIndex: 8 }, 20)).toBeUndefined(); // segment 8 is an FT1
    expect(msg.segment('PRT', 2)?.location(18)).toEqual({
      segment: 'PRT',
      segmentIndex: 7,
      occurrence: 2,
      field: '18',
      line: 7,
      path: 'PRT[2]-18',
    });
  });

  it('reads a DFT^P03 v2.5.1 with OBX device observations and a ZSU Z-segment per FT1', () => {
    const msg = parseHl7Message(fixture('dft-p03-v251-obx-zsu.hl7'));
    const usage = msg.segmentGroups('FT1', { members: ['OBX', 'ZSU'] }).map((g) => ({
      item: g.leader.get(7),
      observations: Object.fromEntries(g.members.filter((s) => s.name === 'OBX').map((o) => [o.get(3), o.get(5)])),
      zsu: g.members.filter((s) => s.name === 'ZSU').map((z) => ({ udi: z.get(2), gtin: z.get(3), lot: z.get(4), serial: z.get(5), expiry: z.get(6) })),
    }));
    expect(usage).toEqual([
      {
        item: 'STENT-DES',
        observations: { DEVLOT: 'B2603-118', DEVSN: 'DES30018-00417', DEVEXP: '20280229', DEVQTY: '1' },
        zsu: [{ udi: '(01)05412345678908(17)280229(10)B2603-118(21)DES30018-00417', gtin: '05412345678908', lot: 'B2603-118', serial: 'DES30018-00417', expiry: '20280229' }],
      },
      {
        item: 'GW-014',
        observations: { DEVLOT: 'GW2512-03' },
        zsu: [{ udi: '(01)05412345679011(10)GW2512-03', gtin: '05412345679011', lot: 'GW2512-03', serial: undefined, expiry: '20271031' }],
      },
    ]);
    expect(msg.segment('OBX', 4)?.get(6)).toBe('{unit}');
    expect(msg.segment('OBX', 4)?.get(6, 3)).toBe('UCUM');
  });

  it('reads an OMS^O05 requisition with ORC and RQD per order', () => {
    const msg = parseHl7Message(fixture('oms-o05-orc-rqd.hl7'));
    const orders = msg.segmentGroups('ORC', { members: ['RQD'] }).map((g) => ({
      placer: `${g.leader.get(2)}/${g.leader.get(2, 2)}`,
      enteredBy: g.leader.get(10, 2),
      lines: g.members.map((r) => [r.get(1), r.get(2), r.get(3), r.get(3, 3), r.get(5), r.get(6), r.get(7), r.get(10)]),
    }));
    expect(orders).toEqual([
      { placer: 'REQ-7781/MMIS', enteredBy: 'Weber', lines: [['1', 'STENT-DES', '05412345678908', 'GTIN', '10', 'BX', '4410-CATH', '20260412']] },
      { placer: 'REQ-7782/MMIS', enteredBy: 'Weber', lines: [['2', 'GW-014', '05412345679011', 'GTIN', '25', 'EA', '4410-CATH', '20260413']] },
    ]);
    expect(msg.get('NTE', 1, 3)).toBe('Weekly replenishment, cath lab');
    expect(msg.get('TQ1', 1, 7)).toBe('20260412080000+0200');
  });

  it('reads an MFN^M16 item master with ITM, IVT and the ILT lots of each item', () => {
    const msg = parseHl7Message(fixture('mfn-m16-itm-ivt-ilt.hl7'));
    expect(msg.header.version).toBe('2.6');
    const items = msg.segmentGroups('MFE', { members: ['ITM', 'IVT', 'ILT'] }).map((g) => {
      const itm = g.members.find((s) => s.name === 'ITM')!;
      return {
        key: g.leader.get(4),
        item: itm.get(1),
        description: itm.get(2),
        manufacturerGln: itm.get(7, 3),
        catalog: itm.get(9),
        location: g.members.find((s) => s.name === 'IVT')?.get(2),
        lots: g.members.filter((s) => s.name === 'ILT').map((l) => ({ lot: l.get(2), expiry: l.get(3), received: l.get(5), onHand: l.get(9), unit: l.get(10) })),
      };
    });
    expect(items).toEqual([
      {
        key: 'STENT-DES',
        item: 'STENT-DES',
        description: 'Drug-eluting stent 3.0 x 18 mm',
        manufacturerGln: '4012345000009',
        catalog: 'DES-3018',
        location: 'CATHLAB-CAB2',
        lots: [
          { lot: 'B2603-118', expiry: '20280229', received: '12', onHand: '9', unit: 'EA' },
          { lot: 'B2511-044', expiry: '20271130', received: '10', onHand: '1', unit: 'EA' },
        ],
      },
      {
        key: 'GW-014',
        item: 'GW-014',
        description: 'Guide wire 0.014 in, 190 cm',
        manufacturerGln: '4012345000009',
        catalog: 'GW-014-190',
        location: 'CATHLAB-CAB1',
        lots: [{ lot: 'GW2512-03', expiry: '20271031', received: '50', onHand: '38', unit: 'EA' }],
      },
    ]);
  });

  it('reads an ADT^A01 with repetitions, components and the field tree', () => {
    const msg = parseHl7Message(fixture('adt-a01.hl7'));
    const pid = msg.segment('PID')!;
    expect(pid.repetitionCount(3)).toBe(2);
    expect([pid.get(3, 1, 1, 1), pid.get(3, 5, 1, 1), pid.get(3, 1, 1, 2), pid.get(3, 4, 1, 2), pid.get(3, 1, 1, 3)]).toEqual([
      'PAT0049211',
      'MR',
      'D-2233445',
      'KV',
      undefined,
    ]);
    expect(pid.field(3)).toEqual([
      [['PAT0049211'], [''], [''], ['STMARY'], ['MR']],
      [['D-2233445'], [''], [''], ['KV'], ['NI']],
    ]);
    expect(pid.field(4)).toEqual([]);
    expect(pid.fields[5]).toEqual([[['Muster'], ['Erika'], [''], [''], [''], [''], ['L']]]);
    expect(pid.fields[0]).toEqual([[['PID']]]);
    expect(pid.fieldCount).toBe(11);
    expect(pid.get(12)).toBeUndefined();
    expect(msg.get('PV1', 1, 19)).toBe('V-998877');
    expect(msg.get('PV1', 1, 7, 2)).toBe('Becker');
    expect(msg.msh.get(1)).toBe('|');
    expect(msg.msh.get(2)).toBe('^~\\&');
    expect(msg.msh.field(2)).toEqual([[['^~\\&']]]);
    expect(msg.segmentsNamed('OBX')).toEqual([]);
  });

  it('gives the same segments for CR, LF, CRLF and mixed terminators, and with MLLP framing', () => {
    const values = (text: string): unknown => {
      const m = parseHl7Message(text);
      return m.segments.map((s) => [s.name, s.index, s.line, s.raw]);
    };
    const expected = values(fixture('adt-a01.hl7'));
    expect(values(fixture('adt-a01-lf-line-ends.hl7'))).toEqual(expected);
    expect(values(fixture('adt-a01-crlf-line-ends.hl7'))).toEqual(expected);
    expect(values(fixture('adt-a01.hl7').replace('\rPID', '\nPID').replace('\rPV1', '\r\nPV1'))).toEqual(expected);
    expect(values(fixture('adt-a01-mllp-framed.hl7', 'latin1'))).toEqual(expected);
    expect(parseHl7Message(fixture('adt-a01-mllp-framed.hl7', 'latin1')).framed).toBe(true);
    expect((expected as unknown[]).length).toBe(4);
  });

  it('counts blank lines in line numbers but not as segments', () => {
    const msg = parseHl7Message(`\n${fixture('adt-a01-lf-line-ends.hl7').replace('\nPID', '\n\nPID')}`);
    expect(msg.segments.map((s) => [s.name, s.index, s.line])).toEqual([
      ['MSH', 1, 2],
      ['EVN', 2, 3],
      ['PID', 3, 5],
      ['PV1', 4, 6],
    ]);
  });

  it('honours custom delimiters from MSH-1/MSH-2 (MSH#$*@!) for fields, escapes and subcomponents', () => {
    const msg = parseHl7Message(fixture('dft-p03-custom-delimiters.hl7'));
    expect(msg.delimiters).toEqual({ field: '#', component: '$', repetition: '*', escape: '@', subcomponent: '!' });
    expect(msg.header).toMatchObject({ messageType: 'DFT', triggerEvent: 'P03', controlId: 'ORIS-CUSTOM-0001', version: '2.8.2', sendingApplication: 'ORIS' });
    expect(msg.get('PID', 1, 3, 4, 2)).toBe('1.2.276.0.76.3.1.999.1');
    expect(msg.get('PID', 1, 3, 1, 1, 2)).toBe('D-2233445');
    expect(msg.get('PID', 1, 5, 2)).toBe('Erika');
    expect(msg.get('FT1', 1, 7, 2)).toBe('Hip stem$cementless');
    expect(msg.get('FT1', 1, 9)).toBe('Hip stem | cup ! liner');
    expect([msg.get('PRT', 1, 16), msg.get('PRT', 1, 19), msg.get('PRT', 1, 20)]).toEqual(['04012345000115', 'L2506A', 'S000193']);
  });

  it('decodes escape sequences in values (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\X..\\ \\.br\\) and keeps them in raw values', () => {
    const msg = parseHl7Message(fixture('adt-a08-escaped-delimiters.hl7'));
    expect(msg.get('PID', 1, 5)).toBe('O\\Brien^Jr');
    expect(msg.get('PID', 1, 5, 2)).toBe('Mary');
    expect(msg.get('NTE', 1, 3)).toBe('Implant & screw set: lots L1|L2~L3 \rend\nsecond line');
    expect(msg.get('NTE', 2, 3)).toBe('Smith & Nephew, ratio 1^2, path C:\\implants, hex LOT ok, bold text');
    expect(msg.segment('NTE')?.rawValue(3)).toBe('Implant \\T\\ screw set: lots L1\\F\\L2\\R\\L3 \\X0D\\end\\.br\\second line');
    expect(msg.segment('PID')?.field(5)).toEqual([[['O\\Brien^Jr'], ['Mary']]]);
  });
});

describe('parseHl7Message: refused input, with locations', () => {
  it('refuses a text without MSH (LB_ERR_HL7_MSH_MISSING)', () => {
    const err = thrown(() => parseHl7Message(fixture('missing-msh.hl7')));
    expect(err.code).toBe('LB_ERR_HL7_MSH_MISSING');
    expect(err.message).toBe('the text starts with "EVN", not with an MSH segment (line 1)');
    expect(err.location).toEqual({ segment: 'MSH', line: 1 });
    expect(thrown(() => parseHl7Message('')).message).toBe('the text is empty, not with an MSH segment');
  });

  it('refuses a short MSH and names every missing required field (LB_ERR_HL7_REQUIRED_FIELD)', () => {
    const err = thrown(() => parseHl7Message(fixture('msh-short.hl7')));
    expect(err.code).toBe('LB_ERR_HL7_REQUIRED_FIELD');
    expect(err.message).toBe(
      'MSH is short (it ends after field 3): MSH-9 (message type), MSH-10 (message control id), MSH-11 (processing id), MSH-12 (version id) are missing (segment MSH, field 9, line 1)',
    );
    expect(err.location).toEqual({ segment: 'MSH', segmentIndex: 1, occurrence: 1, field: '9', line: 1, path: 'MSH[1]-9' });
    expect(err.details).toEqual({ missingFields: [9, 10, 11, 12] });
  });

  it('refuses a segment cut short and points at its line and index (LB_ERR_HL7_SEGMENT_INVALID)', () => {
    const err = thrown(() => parseHl7Message(fixture('dft-p03-truncated-segment.hl7')));
    expect(err.code).toBe('LB_ERR_HL7_SEGMENT_INVALID');
    expect(err.location).toEqual({ segment: 'PR', segmentIndex: 6, line: 6, path: 'PR' });
    expect(err.message).toContain('line 6 (starting "PR", 2 characters) is not a segment');
  });

  it('refuses a value split by a raw line break (the rest of the value is no segment)', () => {
    const text = fixture('dft-p03-v282-ft1-prt-udi.hl7').replace('Hip stem, cementless', 'Hip stem,\rcementless');
    const err = thrown(() => parseHl7Message(text));
    expect(err.code).toBe('LB_ERR_HL7_SEGMENT_INVALID');
    expect(err.location).toMatchObject({ segment: 'cem', segmentIndex: 6, line: 6 });
  });

  it('refuses lower-case and short segment ids', () => {
    const base = fixture('adt-a01.hl7');
    expect(thrown(() => parseHl7Message(`${base}zsu|1\r`)).location).toMatchObject({ segment: 'zsu', segmentIndex: 5 });
    expect(thrown(() => parseHl7Message(`${base}ZS|1\r`)).code).toBe('LB_ERR_HL7_SEGMENT_INVALID');
    expect(parseHl7Message(`${base}ZSU\r`).segment('ZSU')?.fieldCount).toBe(0);
  });

  it('refuses unusable encoding characters (LB_ERR_HL7_ENCODING_CHARACTERS)', () => {
    const e1 = thrown(() => parseHl7Message('MSH|^~|HIS|STMARY\r'));
    expect(e1.code).toBe('LB_ERR_HL7_ENCODING_CHARACTERS');
    expect(e1.location).toMatchObject({ segment: 'MSH', field: '2', line: 1 });
    const e2 = thrown(() => parseHl7Message('MSH|^~^&|HIS|STMARY\r'));
    expect(e2.message).toContain('each delimiter must be a distinct character');
    expect(thrown(() => parseHl7Message('MSHA^~\\&A\r')).location).toMatchObject({ field: '1' });
  });

  it('refuses a text holding several messages or a batch (LB_ERR_HL7_BATCH)', () => {
    const a01 = fixture('adt-a01.hl7');
    const err = thrown(() => parseHl7Message(a01 + a01));
    expect(err.code).toBe('LB_ERR_HL7_BATCH');
    expect(err.location).toMatchObject({ segment: 'MSH', segmentIndex: 5, line: 5 });
    const batch = thrown(() => parseHl7Message(fixture('batch-fhs-bhs-3-messages.hl7')));
    expect(batch.code).toBe('LB_ERR_HL7_MSH_MISSING');
    expect(batch.message).toContain('it is a batch file, split it into messages first');
  });

  it('refuses an MLLP block without its end block (LB_ERR_HL7_FRAMING)', () => {
    const framed = fixture('adt-a01-mllp-framed.hl7', 'latin1');
    expect(thrown(() => parseHl7Message(framed.slice(0, -2))).code).toBe('LB_ERR_HL7_FRAMING');
    expect(thrown(() => parseHl7Message(framed + framed)).message).toContain('after the MLLP end block');
  });

  it('numbers lines from firstLine, for messages inside a batch file', () => {
    const err = thrown(() => parseHl7Message(fixture('dft-p03-truncated-segment.hl7'), { firstLine: 40 }));
    expect(err.location).toMatchObject({ segmentIndex: 6, line: 45 });
  });
});
