import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isValidEventPattern, matchesEventType, matchesGlob, parseEventPatterns } from '../../../src/routing/event-pattern';
import { checkHl7Ack, controlIdOf } from '../../../src/delivery/hl7-ack-check';
import { destinationKey, normalizeDestination, normalizePolicy } from '../../../src/delivery/destination';
import { parseFlowFile, prepareFlowFile, readDefaultFlows } from '../../../src/nodered/flow-files';
import { DestinationLimiter } from '../../../src/delivery/destination-limiter';

const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('event patterns', () => {
  it('expands message.received to the two types a message ends the pipeline with', () => {
    expect(parseEventPatterns('message.received, recall.opened  lot.*')).toEqual(['message.processed', 'message.routed', 'recall.opened', 'lot.*']);
  });
  it('matches exact types, prefixes and *; refuses malformed patterns', () => {
    expect(matchesEventType('lot.*', 'lot.released')).toBe(true);
    expect(matchesEventType('lot.*', 'lotx.released')).toBe(false);
    expect(matchesEventType('*', 'anything')).toBe(true);
    expect(matchesEventType('recall.opened', 'recall.closed')).toBe(false);
    expect(['*', 'a.b', 'a.*', 'stock.below_rop'].every(isValidEventPattern)).toBe(true);
    expect(['a..b', '*.a', 'a b', 'a.*.b', ''].some(isValidEventPattern)).toBe(false);
  });
  it('filters connectors and message types by glob, HL7 carets included', () => {
    expect(matchesGlob('ADT^*', 'ADT^A08')).toBe(true);
    expect(matchesGlob('ADT^*', 'ORM^O01')).toBe(false);
    expect(matchesGlob('hl7*', 'hl7-mllp')).toBe(true);
    expect(matchesGlob('', undefined)).toBe(true);
    expect(matchesGlob('wms', undefined)).toBe(false);
  });
});

describe('HL7 ACK check of MLLP deliveries', () => {
  const sent = 'MSH|^~\\&|HUB|LB|LIS|HOSP|20260301||ADT^A01|CTL-9|P|2.5\rPID|1||1';
  it('reads MSH-10 with any field separator', () => {
    expect(controlIdOf('MSH#^~\\&#A#B#C#D#2026##ADT^A01#X-1#P#2.5')).toBe('X-1');
  });
  it('accepts AA and CA naming the sent control id', () => {
    expect(checkHl7Ack('MSH|^~\\&|LIS|HOSP|HUB|LB|2026||ACK|A1|P|2.5\rMSA|AA|CTL-9', sent)).toMatchObject({ code: 'AA', controlId: 'CTL-9' });
    expect(checkHl7Ack('MSH|^~\\&|LIS|HOSP|HUB|LB|2026||ACK|A1|P|2.5\nMSA|CA|CTL-9\n', sent).code).toBe('CA');
  });
  it('fails AE/AR with the ACK text and ERR, at MSA-1', () => {
    let err: any;
    try {
      checkHl7Ack('MSH|^~\\&|LIS|HOSP|HUB|LB|2026||ACK|A1|P|2.5\rMSA|AR|CTL-9|Unsupported event\rERR|||200^Unsupported message type^HL70357|E', sent);
    } catch (e) {
      err = e;
    }
    expect(err.code).toBe('LB_ERR_DELIVERY_NACK');
    expect(err.location).toEqual({ segment: 'MSA', field: '1' });
    expect(err.message).toContain('Unsupported event; 200 Unsupported message type HL70357');
    expect(err.details.ack).toMatchObject({ code: 'AR', text: 'Unsupported event' });
  });
  it('retries an answer that is no ACK or answers another control id', () => {
    expect(() => checkHl7Ack('HTTP/1.1 400 Bad Request', sent)).toThrow(expect.objectContaining({ code: 'LB_ERR_DELIVERY_ACK_INVALID', kind: 'transient' }));
    expect(() => checkHl7Ack('MSH|^~\\&|LIS|HOSP|HUB|LB|2026||ACK|A1|P|2.5\rMSA|AA|CTL-8', sent)).toThrow(expect.objectContaining({ code: 'LB_ERR_DELIVERY_ACK_INVALID', location: { segment: 'MSA', field: '2' } }));
    expect(() => checkHl7Ack('MSH|^~\\&|LIS|HOSP|HUB|LB|2026||ACK|A1|P|2.5\rMSA|OK|CTL-9', sent)).toThrow(expect.objectContaining({ code: 'LB_ERR_DELIVERY_ACK_INVALID' }));
  });
});

describe('destinations', () => {
  it.each([
    [{ kind: 'http' }, 'url'],
    [{ kind: 'http', url: 'ftp://x/y' }, 'url'],
    [{ kind: 'http', url: 'https://u:p@erp.example/x' }, 'url'],
    [{ kind: 'http', url: 'https://erp.example/x', method: 'GET' }, 'method'],
    [{ kind: 'http', url: 'https://erp.example/x', headers: { 'bad header': 'x' } }, 'headers.bad header'],
    [{ kind: 'http', url: 'https://erp.example/x', headers: { 'x-a': 'a\r\nInjected: 1' } }, 'headers.x-a'],
    [{ kind: 'mllp', host: 'lis', port: 70000 }, 'port'],
    [{ kind: 'mllp', port: 2575 }, 'host'],
    [{ kind: 'file', dir: 'relative/out' }, 'dir'],
    [{ kind: 'file', dir: '/tmp', fileName: '../etc/passwd' }, 'fileName'],
    [{ kind: 'sftp' }, 'kind'],
  ])('refuses %j naming the field', (d, field) => {
    expect(() => normalizeDestination(d)).toThrow(expect.objectContaining({ code: 'LB_ERR_DELIVERY_INVALID', details: { field } }));
  });
  it('normalizes and keys destinations per scheme, host and port', () => {
    const d = normalizeDestination({ kind: 'http', url: 'https://ERP.example:8443/hook', headers: { 'X-Src': 'lb' } });
    expect(d).toEqual({ kind: 'http', url: 'https://erp.example:8443/hook', method: 'POST', headers: { 'x-src': 'lb' } });
    expect(destinationKey(d)).toBe('https://erp.example:8443');
    expect(destinationKey(normalizeDestination({ kind: 'mllp', host: 'lis', port: '2575', tls: true }))).toBe('mllps://lis:2575');
    expect(normalizePolicy({})).toEqual({ attempts: 8, backoffMs: 2000, timeoutMs: 30000, concurrency: 4 });
    expect(() => normalizePolicy({ attempts: 0 })).toThrow(expect.objectContaining({ code: 'LB_ERR_DELIVERY_INVALID' }));
  });
  it('lets at most N sends per destination run at once, in arrival order', async () => {
    const lim = new DestinationLimiter();
    const order: number[] = [];
    const r1 = await lim.acquire('k', 2);
    const r2 = await lim.acquire('k', 2);
    const p3 = lim.acquire('k', 2).then((r) => { order.push(3); return r; });
    const p4 = lim.acquire('k', 2).then((r) => { order.push(4); return r; });
    expect(lim.active('k')).toBe(2);
    r1();
    (await p3)();
    r2();
    (await p4)();
    expect(order).toEqual([3, 4]);
    expect(lim.active('k')).toBe(0);
  });
});

describe('flow files', () => {
  it('reports invalid JSON with the line, a non-array, a node without type, a repeated id', () => {
    expect(() => parseFlowFile('[{"id":"a","type":"x"},\n{"id":"b" "type":"y"}]', 'f.json')).toThrow(expect.objectContaining({ code: 'LB_ERR_FLOWS_INVALID', location: expect.objectContaining({ line: 2 }) }));
    expect(() => parseFlowFile('{"id":"a"}', 'f.json')).toThrow(/must hold a JSON array of nodes, not object/);
    expect(() => parseFlowFile('[{"id":"a"}]', 'f.json')).toThrow(expect.objectContaining({ location: { path: 'f.json[0].type', index: 0 } }));
    expect(() => parseFlowFile('[{"id":"a","type":"x"},{"id":"a","type":"y"}]', 'f.json')).toThrow(/node \[1\] repeats id a/);
  });
  it('the shipped default flows are valid, use only core and LotBridge node types, and hold no secrets', () => {
    const { nodes, files } = readDefaultFlows(path.join(ROOT, 'flows'));
    expect(files).toHaveLength(4);
    const ours = ['lotbridge-event', 'lotbridge-deliver', 'lotbridge-done'];
    expect([...new Set(nodes.map((n) => n.type))].filter((t) => !['tab', 'function', 'catch', 'debug', ...ours].includes(t))).toEqual([]);
    expect(nodes.filter((n) => n.type === 'tab').every((t) => typeof t.info === 'string' && (t.info as string).length > 50)).toBe(true);
    expect(JSON.stringify(nodes)).not.toMatch(/password|token|secret/i);
    expect(nodes.filter((n) => n.type === 'lotbridge-deliver').every((n) => /^\$\{LOTBRIDGE_FLOW_[A-Z_]+\}$/.test(String(n.url || n.host)))).toBe(true);
  });
  it('copies the defaults on first start, keeps an existing file, and sets an invalid one aside', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-flows-'));
    try {
      expect(prepareFlowFile(dir, 'flows.json', path.join(ROOT, 'flows'))).toMatchObject({ state: 'copied-defaults', files: expect.arrayContaining(['10-recall-notify-customers.json']) });
      expect(prepareFlowFile(dir, 'flows.json', path.join(ROOT, 'flows')).state).toBe('existing');
      fs.writeFileSync(path.join(dir, 'flows.json'), 'not json');
      const st = prepareFlowFile(dir, 'flows.json', path.join(ROOT, 'flows'));
      expect(st).toMatchObject({ state: 'invalid', error: { code: 'LB_ERR_FLOWS_INVALID' } });
      expect(fs.existsSync(path.join(dir, 'flows.json'))).toBe(false);
      expect(fs.readFileSync((st as { movedTo: string }).movedTo, 'utf8')).toBe('not json');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
