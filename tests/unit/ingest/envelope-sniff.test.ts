import { sniffEdifact, sniffX12 } from '../../../src/ingest/envelope-sniff';

describe('envelope readers of the stored-and-routed formats give each its dedup key, the same over every transport', () => {
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
    expect(sniffX12('ISA*short')).toEqual({});
    expect(sniffEdifact('<xml/>')).toEqual({});
  });
});
