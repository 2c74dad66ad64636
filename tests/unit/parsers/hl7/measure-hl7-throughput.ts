/**
 * Throughput of the HL7 parsing layer on realistic DFT^P03 messages, next to hl7-standard 1.0.4
 * on the same text. Not a jest test (no timing assertions); run from the project root:
 *
 *   npx tsc -p tsconfig.json --noEmit false --outDir dist/measure && \
 *     node dist/measure/tests/unit/parsers/hl7/measure-hl7-throughput.js
 *
 * Env: MEASURE_SECONDS (per case, default 2). Prints msgs/s (median of 5 rounds) per case.
 */
import fs from 'node:fs';
import path from 'node:path';
import HL7 from 'hl7-standard';
import { buildHl7Ack, parseHl7Message, readHl7DateTime, readHl7Number } from '../../../../src/parsers/hl7';

const fixtureDir = path.join(process.cwd(), 'tests/fixtures/hl7');
const small = fs.readFileSync(path.join(fixtureDir, 'dft-p03-v282-ft1-prt-udi.hl7'), 'utf8');

/** A larger DFT^P03: the fixture's header plus 12 FT1, each with 2 PRT (UDI, lot, serial, dates). */
function largeDft(): string {
  const lines = small.split('\r').filter(Boolean);
  const head = lines.slice(0, 4);
  const ft1 = lines.find((l) => l.startsWith('FT1|1|'))!;
  const prt = lines.find((l) => l.startsWith('PRT|1|'))!;
  const body: string[] = [];
  for (let i = 1; i <= 12; i++) {
    body.push(ft1.replace('FT1|1|TX-417-1', `FT1|${i}|TX-417-${i}`));
    body.push(prt.replace('PRT|1|', `PRT|${2 * i - 1}|`).replace('L2506A', `L25${i}A`));
    body.push(prt.replace('PRT|1|', `PRT|${2 * i}|`).replace('S000193', `S0${i}194`));
  }
  return `${[...head, ...body].join('\r')}\r`;
}

/** What a DFT mapper reads: every FT1 with its PRTs, quantity, UDI, lot, serial, expiry and manufacture date. */
function extract(text: string): number {
  const msg = parseHl7Message(text);
  let n = 0;
  for (const g of msg.segmentGroups('FT1', { members: ['PRT'] })) {
    n += readHl7Number(g.leader, 10) ?? 0;
    n += g.leader.get(7)?.length ?? 0;
    for (const p of g.members) {
      n += (p.get(10)?.length ?? 0) + (p.get(19)?.length ?? 0) + (p.get(20)?.length ?? 0);
      n += readHl7DateTime(p, 18, { zone: 'Europe/Berlin' })?.utc.length ?? 0;
      n += readHl7DateTime(p, 17, { zone: 'Europe/Berlin' })?.utc.length ?? 0;
    }
  }
  return n;
}

function extractWithHl7Standard(text: string): number {
  const h = new HL7(text);
  h.transform();
  let n = 0;
  const prts = h.getSegments('PRT');
  for (let i = 0; i < prts.length; i++) {
    n += String(h.get('PRT.19', i) ?? '').length + String(h.get('PRT.18', i) ?? '').length + String(h.get('PRT.10.1', i) ?? '').length;
  }
  return n;
}

function rate(name: string, fn: () => unknown, seconds: number): void {
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const until = process.hrtime.bigint() + BigInt(Math.round((seconds / 5) * 1e9));
    const start = process.hrtime.bigint();
    let count = 0;
    while (process.hrtime.bigint() < until) {
      for (let k = 0; k < 50; k++) {
        fn();
      }
      count += 50;
    }
    rounds.push(count / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  rounds.sort((a, b) => a - b);
  console.log(`${name.padEnd(58)} ${Math.round(rounds[2]).toLocaleString('en-US').padStart(9)} msgs/s`);
}

const seconds = Number(process.env.MEASURE_SECONDS ?? 2);
const large = largeDft();
const now = new Date('2026-03-15T13:30:12Z');
console.log(`node ${process.version}, one thread; small DFT ${small.length} chars / 10 segments, large DFT ${large.length} chars / 40 segments`);
rate('parseHl7Message, small DFT^P03', () => parseHl7Message(small), seconds);
rate('parseHl7Message, large DFT^P03', () => parseHl7Message(large), seconds);
rate('parseHl7Message + FT1/PRT extract (dates, NM), small', () => extract(small), seconds);
rate('parseHl7Message + FT1/PRT extract (dates, NM), large', () => extract(large), seconds);
rate('buildHl7Ack (AA) from the parsed small DFT', () => buildHl7Ack({ inbound: parseHl7Message(small), controlId: 'A1', now }), seconds);
rate('hl7-standard 1.0.4 transform, small', () => new HL7(small).transform(), seconds);
rate('hl7-standard 1.0.4 transform + PRT gets, small', () => extractWithHl7Standard(small), seconds);
rate('hl7-standard 1.0.4 transform + PRT gets, large', () => extractWithHl7Standard(large), seconds);
