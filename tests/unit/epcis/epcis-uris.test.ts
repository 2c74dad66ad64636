import { EpcisUris } from '../../../src/epcis/epcis-export';

/** How canonical keys become EPCIS identifiers: a GS1 Digital Link only for a real GTIN or GLN (check digit included). */
describe('EpcisUris', () => {
  const uris = new EpcisUris('https://hub.example.com/epcis/');

  it('writes a lot and a serial of a valid GTIN as GS1 Digital Link URIs, GTIN-8/12/13 as 14 digits', () => {
    expect(uris.lotClass('09506000134352', 'FG-KNEE', 'FG-1')).toBe('https://id.gs1.org/01/09506000134352/10/FG-1');
    expect(uris.lotClass('9506000134352', 'FG-KNEE', 'FG-1')).toBe('https://id.gs1.org/01/09506000134352/10/FG-1');
    expect(uris.lotClass('95060002', 'SMALL', null)).toBe('https://id.gs1.org/01/00000095060002');
    expect(uris.instance('09506000134352', 'FG-KNEE', 'SN/1')).toBe('https://id.gs1.org/01/09506000134352/21/SN%2F1');
  });

  it('puts a GTIN with a wrong check digit, or of a wrong length, under the private base', () => {
    expect(uris.lotClass('09506000134353', 'FG-KNEE', 'FG-1')).toBe('https://hub.example.com/epcis/material/FG-KNEE/lot/FG-1');
    expect(uris.instance('09506000134353', 'FG-KNEE', 'SN-1')).toBe('https://hub.example.com/epcis/material/FG-KNEE/serial/SN-1');
    expect(uris.lotClass('950600013435', 'FG-KNEE', 'FG-1')).toBe('https://hub.example.com/epcis/material/FG-KNEE/lot/FG-1');
    expect(uris.lotClass('1234567', 'M', null)).toBe('https://hub.example.com/epcis/material/M');
  });

  it('writes a location with a valid GLN as a Digital Link, one with a wrong check digit under the private base', () => {
    expect(uris.location('9506000000015', 'WH-1')).toBe('https://id.gs1.org/414/9506000000015');
    expect(uris.location('9506000000019', 'WH-1')).toBe('https://hub.example.com/epcis/location/WH-1');
    expect(uris.location('950600000001', 'WH 1')).toBe('https://hub.example.com/epcis/location/WH%201');
    expect(uris.location(null, 'WH-1')).toBe('https://hub.example.com/epcis/location/WH-1');
  });
});
