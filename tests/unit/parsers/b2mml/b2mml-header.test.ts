import { isLotBridgeError } from '../../../../src/errors';
import { decodeB2mmlText, parseB2mml, readB2mmlHeader } from '../../../../src/parsers/b2mml';
import { childText, children } from '../../../../src/parsers/b2mml';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return isLotBridgeError(err) ? err.code : 'not a LotBridgeError';
  }
  return undefined;
};

describe('B2MML header (intake) and parse', () => {
  it.each([
    ['a default V0700 namespace with releaseID', '<ProductionPerformance xmlns="http://www.mesa.org/xml/B2MML" releaseID="V0700"><ID>PP-1</ID></ProductionPerformance>', { noun: 'ProductionPerformance', verb: null, version: 'V0700', docId: 'PP-1' }],
    ['a prefixed V0600 namespace', '<b:MaterialInformation xmlns:b="http://www.mesa.org/xml/B2MML-V0600"><b:ID>MI-1</b:ID></b:MaterialInformation>', { noun: 'MaterialInformation', version: 'V0600', docId: 'MI-1' }],
    ['the V0401 namespace of the WBF', '<MaterialInformation xmlns="http://www.wbf.org/xml/b2mml-v0401"><ID>MI-2</ID></MaterialInformation>', { version: 'V0401' }],
    ['no namespace at all', '<MaterialInformation><ID>MI-3</ID></MaterialInformation>', { namespace: null, version: 'V0700' }],
    ['a Sync verb document (BODID and sender)', '<SyncMaterialLot xmlns="http://www.mesa.org/xml/B2MML-V0500"><ApplicationArea><Sender><LogicalID>MES-1</LogicalID></Sender><BODID>B-77</BODID></ApplicationArea><DataArea><Sync/><MaterialLot><ID>L1</ID></MaterialLot></DataArea></SyncMaterialLot>', { verb: 'Sync', noun: 'MaterialLot', sender: 'MES-1', docId: 'B-77', version: 'V0500' }],
    ['a Process verb document', '<ProcessProductionPerformance xmlns="http://www.mesa.org/xml/B2MML"><ApplicationArea><BODID>B-78</BODID></ApplicationArea></ProcessProductionPerformance>', { verb: 'Process', noun: 'ProductionPerformance', docId: 'B-78' }],
    ['an ID with an entity and leading zeros', '<MaterialInformation><Description>a &amp; b</Description><ID>&#48;0042</ID></MaterialInformation>', { docId: '00042' }],
  ])('reads %s', (_case, xml, expected) => {
    expect(readB2mmlHeader(xml)).toMatchObject(expected);
  });

  it('takes no document id from a bare MaterialLot (its ID names the lot, not the document)', () => {
    const h = readB2mmlHeader('<MaterialLot xmlns="http://www.mesa.org/xml/B2MML"><ID>LOT-9</ID></MaterialLot>');
    expect(h.noun).toBe('MaterialLot');
    expect(h.docId).toBeUndefined();
  });

  it.each([
    ['a DOCTYPE', '<!DOCTYPE x SYSTEM "http://evil/x.dtd"><MaterialInformation/>', 'LB_ERR_B2MML_DOCTYPE'],
    ['a lower-case doctype', '<!doctype x><MaterialInformation/>', 'LB_ERR_B2MML_DOCTYPE'],
    ['an unbound prefix', '<b:MaterialLot><b:ID>1</b:ID></b:MaterialLot>', 'LB_ERR_B2MML_NAMESPACE'],
    ['releaseID V0800', '<MaterialLot releaseID="V0800"/>', 'LB_ERR_B2MML_VERSION'],
    ['a B2MML-V0300 namespace', '<MaterialLot xmlns="http://www.mesa.org/xml/B2MML-V0300"/>', 'LB_ERR_B2MML_VERSION'],
    ['text before the root', 'hello <MaterialLot/>', 'LB_ERR_B2MML_NOT_WELL_FORMED'],
    ['no root at all', '<?xml version="1.0"?>  ', 'LB_ERR_B2MML_NOT_WELL_FORMED'],
    ['a Cancel verb', '<CancelMaterialLot/>', 'LB_ERR_B2MML_UNKNOWN_ROOT'],
  ])('refuses %s', (_case, xml, code) => {
    expect(codeOf(() => readB2mmlHeader(xml))).toBe(code);
  });

  it('decodes a UTF-8 BOM, UTF-16 LE with a BOM, and the XML declaration encoding', () => {
    expect(decodeB2mmlText(Buffer.from('\uFEFF<a>é</a>', 'utf8'))).toBe('<a>é</a>');
    expect(decodeB2mmlText(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<a>é</a>', 'utf16le')]))).toBe('<a>é</a>');
    expect(decodeB2mmlText(Buffer.from('<?xml version="1.0" encoding="windows-1252"?><a>\x80</a>', 'latin1'))).toContain('<a>€</a>');
    expect(codeOf(() => decodeB2mmlText(Buffer.from('<?xml version="1.0" encoding="EBCDIC-037"?><a/>')))).toBe('LB_ERR_INGEST_ENCODING');
  });

  it('keeps leading zeros and long numeric ids as strings and decodes CDATA and character references', () => {
    const doc = parseB2mml(Buffer.from('<MaterialLot><ID>000000000000000000000012345</ID><Description><![CDATA[x < y]]> &#x263A;</Description><MaterialDefinitionID>007</MaterialDefinitionID></MaterialLot>'));
    expect(childText(doc.root, 'ID')).toBe('000000000000000000000012345');
    expect(childText(doc.root, 'MaterialDefinitionID')).toBe('007');
    expect(childText(doc.root, 'Description')).toBe('x < y ☺');
  });

  it('strips namespace prefixes from every element and keeps repetitions as arrays', () => {
    const doc = parseB2mml(Buffer.from('<p:MaterialInformation xmlns:p="http://www.mesa.org/xml/B2MML"><p:MaterialLot><p:ID>A</p:ID></p:MaterialLot><p:MaterialLot><p:ID>B</p:ID></p:MaterialLot></p:MaterialInformation>'));
    expect(children(doc.root, 'MaterialLot').map((l) => childText(l, 'ID'))).toEqual(['A', 'B']);
  });

  it('refuses an undefined entity reference (no entity is ever expanded)', () => {
    expect(codeOf(() => parseB2mml(Buffer.from('<MaterialLot><ID>&xxe;</ID></MaterialLot>')))).toBe('LB_ERR_B2MML_NOT_WELL_FORMED');
  });
});

describe('B2MML header: odd character references', () => {
  it('leaves a character reference beyond Unicode as written instead of failing the intake read', () => {
    expect(readB2mmlHeader('<MaterialInformation><ID>MI-&#x110000;</ID></MaterialInformation>').docId).toBe('MI-&#x110000;');
  });
});
