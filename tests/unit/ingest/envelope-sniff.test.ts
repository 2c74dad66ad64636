import { sniffEdifact, sniffHl7, sniffX12 } from '../../../src/ingest/envelope-sniff';

describe('envelope readers give each format its dedup key, the same over every transport', () => {
  it('HL7: MSH-3 + MSH-4 + MSH-10, with MSH-9 as the type', () => {
    const msg = 'MSH|^~\\&|OR_SYS|ST_MARY|LOTBRIDGE|ACME|20260301101500||DFT^P03^DFT_P03|CTRL-0001|P|2.5.1\rEVN|P03|20260301101500\r';
    expect(sniffHl7(msg)).toEqual({ messageType: 'DFT^P03', sender: 'OR_SYS|ST_MARY', receiver: 'LOTBRIDGE|ACME', controlId: 'CTRL-0001', dedupKey: 'hl7:OR_SYS|ST_MARY|CTRL-0001' });
  });

  it('HL7: a message with no MSH-10 falls back to the body hash (no key)', () => {
    expect(sniffHl7('MSH|^~\\&|A|B|C|D|20260301||ADT^A08|||2.5\r').dedupKey).toBeUndefined();
  });

  it('X12: ISA05/06 + ISA07/08 + ISA13 and the ST01 type', () => {
    const isa = 'ISA*00*          *00*          *ZZ*SUPPLIERA      *ZZ*ACMEMED        *260301*1015*^*00501*000000905*0*P*>~';
    const info = sniffX12(`${isa}GS*SH*SUPPLIERA*ACMEMED*20260301*1015*905*X*005010~ST*856*0001~`);
    expect(info).toMatchObject({ messageType: '856', controlId: '000000905', dedupKey: 'x12:ZZ/SUPPLIERA|ZZ/ACMEMED|000000905' });
  });

  it('EDIFACT: UNB sender + recipient + 0020, with and without UNA', () => {
    const body = "UNB+UNOC:3+5412345000013:14+4012345000009:14+260301:1015+CTRL77'UNH+1+DESADV:D:96A:UN'BGM+351+DES587441+9'";
    expect(sniffEdifact(body)).toMatchObject({ messageType: 'DESADV', controlId: 'CTRL77', dedupKey: 'edifact:5412345000013|4012345000009|CTRL77' });
    expect(sniffEdifact(`UNA:+.? '${body}`).dedupKey).toBe('edifact:5412345000013|4012345000009|CTRL77');
  });

  it('returns nothing (never throws) for text that is not its format', () => {
    expect(sniffHl7('hello')).toEqual({});
    expect(sniffX12('ISA*short')).toEqual({});
    expect(sniffEdifact('<xml/>')).toEqual({});
  });
});
