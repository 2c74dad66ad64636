import { MllpFrameDecoder, type MllpDecodeEvent, type MllpEndReason } from '../../../../src/transport/mllp/mllp-frame-decoder';
import { encodeMllpFrame } from '../../../../src/transport/mllp/mllp-framing';

const VT = '\x0b';
const FS = '\x1c';
const CR = '\r';
const frame = (text: string): string => `${VT}${text}${FS}${CR}`;
const msg = (n: number): string => `MSH|^~\\&|LAB|HOSP|LOTBRIDGE|HUB|20260301101500||ORU^R01|CTRL${n}|P|2.5\rOBX|1|ST|LOT^Lot||L-${n}`;

/** Events as plain values: frame text, error code + bytes + details, notes. */
type Seen =
  | { frame: string; offset: number }
  | { error: string; bytes: string; details: Record<string, unknown> | undefined }
  | { note: string; offset: number };

function seen(events: MllpDecodeEvent[]): Seen[] {
  return events.map((ev) => {
    switch (ev.type) {
      case 'frame':
        return { frame: ev.payload.toString('latin1'), offset: ev.offset };
      case 'error':
        return { error: ev.error.code, bytes: ev.bytes.toString('latin1'), details: ev.error.details };
      case 'note':
        return { note: ev.note, offset: ev.offset };
    }
  });
}

/** Feeds the chunks, then ends the stream when `end` is given. */
function decode(chunks: Array<string | Buffer>, opts: { maxFrameBytes?: number; maxErrorBytes?: number; end?: MllpEndReason } = {}): Seen[] {
  const d = new MllpFrameDecoder(opts);
  const events: MllpDecodeEvent[] = [];
  for (const c of chunks) {
    events.push(...d.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c));
  }
  if (opts.end) {
    events.push(...d.end(opts.end));
  }
  return seen(events);
}

const bytewise = (s: string): string[] => [...s];

describe('MllpFrameDecoder', () => {
  it('decodes one frame in one chunk, with the VT offset', () => {
    expect(decode([frame(msg(1))])).toEqual([{ frame: msg(1), offset: 0 }]);
  });

  it('decodes the same frames when fed byte by byte', () => {
    const stream = frame(msg(1)) + frame(msg(2)) + frame('');
    const first = msg(1).length + 3;
    expect(decode(bytewise(stream), { end: 'end-of-stream' })).toEqual([
      { frame: msg(1), offset: 0 },
      { frame: msg(2), offset: first },
      { frame: '', offset: first + msg(2).length + 3 },
    ]);
  });

  it('joins a frame split at every possible point into two chunks', () => {
    const stream = frame(msg(7)) + frame(msg(8));
    for (let cut = 0; cut <= stream.length; cut++) {
      const got = decode([stream.slice(0, cut), stream.slice(cut)], { end: 'end-of-stream' });
      expect({ cut, got: got.map((g) => ('frame' in g ? g.frame : g)) }).toEqual({ cut, got: [msg(7), msg(8)] });
    }
  });

  it('joins a 256 KiB frame trickled a byte at a time into the exact payload', () => {
    const payload = Buffer.alloc(256 * 1024);
    for (let i = 0; i < payload.length; i++) {
      payload[i] = 0x20 + (i % 90);
    }
    const stream = encodeMllpFrame(payload);
    const d = new MllpFrameDecoder();
    const events: MllpDecodeEvent[] = [];
    const started = Date.now();
    for (let i = 0; i < stream.length; i++) {
      events.push(...d.push(stream.subarray(i, i + 1)));
    }
    expect(events.length === 1 && events[0].type === 'frame' && events[0].payload.equals(payload)).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('decodes the same events whatever the chunk boundaries (random chunkings of a mixed stream)', () => {
    const stream = `junk${frame('A')}${VT}B${FS}${frame('C'.repeat(3000))}${VT}cut${frame('D')}xx${frame('')}${VT}${'E'.repeat(2500)}${FS}${CR}`;
    const opts = { maxFrameBytes: 2600, maxErrorBytes: 10, end: 'end-of-stream' as const };
    const expected = decode([stream], opts);
    expect(expected.map((e) => ('frame' in e ? `frame:${e.frame.slice(0, 3)}` : 'error' in e ? e.error : e.note))).toEqual([
      'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME',
      'frame:A',
      'frame:B',
      'fs-without-cr',
      'LB_ERR_MLLP_FRAME_TOO_LARGE',
      'LB_ERR_MLLP_FRAME_TRUNCATED',
      'frame:D',
      'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME',
      'frame:',
      'frame:EEE',
    ]);
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let run = 0; run < 200; run++) {
      const chunks: string[] = [];
      for (let i = 0; i < stream.length; ) {
        const n = 1 + Math.floor(random() * (random() < 0.5 ? 8 : 2000));
        chunks.push(stream.slice(i, i + n));
        i += n;
      }
      expect(decode(chunks, opts)).toEqual(expected);
    }
  });

  it('decodes 1,000 frames from one chunk, in order, linear in time', () => {
    const messages = Array.from({ length: 1000 }, (_, i) => msg(i));
    const chunk = Buffer.concat(messages.map((m) => encodeMllpFrame(Buffer.from(m, 'latin1'))));
    const d = new MllpFrameDecoder();
    const started = process.hrtime.bigint();
    const events = d.push(chunk);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(events.map((e) => (e.type === 'frame' ? e.payload.toString('latin1') : e.type))).toEqual(messages);
    // ~0.5 ms on a 2-core runner; 100 ms would mean a quadratic scan or copy.
    expect(ms).toBeLessThan(100);
  });

  it('hands back a frame inside one chunk without copying it', () => {
    const chunk = Buffer.from(frame('ABC'), 'latin1');
    const [ev] = new MllpFrameDecoder().push(chunk);
    expect(ev.type === 'frame' && ev.payload.buffer === chunk.buffer).toBe(true);
  });

  it('reports bytes before a VT once per run, with the bytes, then decodes the frame', () => {
    expect(decode(['junk', ' more', `\r\n${frame('A')}`])).toEqual([
      { error: 'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME', bytes: 'junk more\r\n', details: { offset: 0, size: 11, keptBytes: 11, head: '6a756e6b', endedBy: 'frame-start' } },
      { frame: 'A', offset: 11 },
    ]);
  });

  it('keeps a garbage run open across chunks until flushGarbage() and starts a new run after it', () => {
    const d = new MllpFrameDecoder();
    expect(d.push(Buffer.from('MSH|1'))).toEqual([]);
    expect(d.hasPendingGarbage).toBe(true);
    expect(d.push(Buffer.from('|2'))).toEqual([]);
    expect(seen(d.flushGarbage())).toEqual([{ error: 'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME', bytes: 'MSH|1|2', details: { offset: 0, size: 7, keptBytes: 7, head: '4d53487c', endedBy: 'quiet' } }]);
    expect(d.hasPendingGarbage).toBe(false);
    expect(seen([...d.push(Buffer.from('xy')), ...d.end('end-of-stream')])).toEqual([
      { error: 'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME', bytes: 'xy', details: { offset: 7, size: 2, keptBytes: 2, head: '7879', endedBy: 'end-of-stream' } },
    ]);
  });

  it('caps the bytes kept from a long garbage run but counts them all', () => {
    const [ev] = decode(['x'.repeat(300), 'y'.repeat(300), frame('ok')], { maxErrorBytes: 256 });
    expect(ev).toEqual({ error: 'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME', bytes: 'x'.repeat(256), details: { offset: 0, size: 600, keptBytes: 256, head: '78787878', endedBy: 'frame-start' } });
  });

  it('reports a frame cut by the end of the stream as truncated, with the bytes received so far', () => {
    expect(decode([frame('A'), `${VT}MSH|partial`], { end: 'end-of-stream' })).toEqual([
      { frame: 'A', offset: 0 },
      { error: 'LB_ERR_MLLP_FRAME_TRUNCATED', bytes: 'MSH|partial', details: { offset: 4, size: 11, reason: 'end-of-stream' } },
    ]);
  });

  it('names the idle timeout and the server stop as the reason of a truncation', () => {
    expect(decode([`${VT}abc`], { end: 'idle-timeout' })).toEqual([{ error: 'LB_ERR_MLLP_FRAME_TRUNCATED', bytes: 'abc', details: { offset: 0, size: 3, reason: 'idle-timeout' } }]);
    expect(decode([`${VT}`], { end: 'server-stop' })).toEqual([{ error: 'LB_ERR_MLLP_FRAME_TRUNCATED', bytes: '', details: { offset: 0, size: 0, reason: 'server-stop' } }]);
  });

  it('accepts FS without CR as the end of a frame and notes it when the next byte is not CR', () => {
    expect(decode([`${VT}A${FS}${VT}B${FS}${CR}${VT}C${FS}`], { end: 'end-of-stream' })).toEqual([
      { frame: 'A', offset: 0 },
      { note: 'fs-without-cr', offset: 2 },
      { frame: 'B', offset: 3 },
      { frame: 'C', offset: 7 },
      { note: 'fs-without-cr', offset: 9 },
    ]);
  });

  it('delivers a frame at its FS even when the CR comes in the next chunk, and swallows that CR', () => {
    const d = new MllpFrameDecoder();
    expect(seen(d.push(Buffer.from(`${VT}A${FS}`)))).toEqual([{ frame: 'A', offset: 0 }]);
    expect(seen([...d.push(Buffer.from(`${CR}${VT}B${FS}${CR}`)), ...d.end('end-of-stream')])).toEqual([{ frame: 'B', offset: 4 }]);
  });

  it('treats FS followed by other bytes as an accepted frame, a note, then garbage', () => {
    expect(decode([`${VT}A${FS}x${VT}B${FS}${CR}`])).toEqual([
      { frame: 'A', offset: 0 },
      { note: 'fs-without-cr', offset: 2 },
      { error: 'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME', bytes: 'x', details: { offset: 3, size: 1, keptBytes: 1, head: '78', endedBy: 'frame-start' } },
      { frame: 'B', offset: 4 },
    ]);
  });

  it('notes a run of only white space between frames (FS CR LF, a blank line) instead of reporting it as garbage', () => {
    expect(decode([`${VT}A${FS}${CR}\n${VT}B${FS}\r\n`, ' \t\r\n', `${VT}C${FS}${CR}\n`], { end: 'end-of-stream' })).toEqual([
      { frame: 'A', offset: 0 },
      { note: 'blank-outside-frame', offset: 4 },
      { frame: 'B', offset: 5 },
      { note: 'blank-outside-frame', offset: 9 },
      { frame: 'C', offset: 14 },
      { note: 'blank-outside-frame', offset: 18 },
    ]);
    const d = new MllpFrameDecoder();
    d.push(Buffer.from('\r\n'));
    expect(d.hasPendingGarbage).toBe(true);
    const [note] = d.flushGarbage();
    expect(note).toEqual({ type: 'note', note: 'blank-outside-frame', offset: 0, size: 2 });
  });

  it('still reports a run that mixes white space and other bytes, white space included', () => {
    expect(decode([`${VT}A${FS}${CR}\n junk\r\n${VT}B${FS}${CR}`])).toEqual([
      { frame: 'A', offset: 0 },
      { error: 'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME', bytes: '\n junk\r\n', details: { offset: 4, size: 8, keptBytes: 8, head: '0a206a75', endedBy: 'frame-start' } },
      { frame: 'B', offset: 12 },
    ]);
  });

  it('reports a frame interrupted by a new VT as truncated and decodes the new one', () => {
    expect(decode([`${VT}MSH|first`, `-part${VT}MSH|second${FS}${CR}`])).toEqual([
      { error: 'LB_ERR_MLLP_FRAME_TRUNCATED', bytes: 'MSH|first-part', details: { offset: 0, size: 14, reason: 'new-frame-started' } },
      { frame: 'MSH|second', offset: 15 },
    ]);
  });

  it('reports an oversize frame at its FS with the size seen, keeps its head, and decodes the next frame', () => {
    const big = 'B'.repeat(5000);
    const stream = frame(big) + frame('small');
    // Fed in 700-byte chunks, as TCP would.
    const chunks: string[] = [];
    for (let i = 0; i < stream.length; i += 700) {
      chunks.push(stream.slice(i, i + 700));
    }
    expect(decode(chunks, { maxFrameBytes: 1000, maxErrorBytes: 100 })).toEqual([
      { error: 'LB_ERR_MLLP_FRAME_TOO_LARGE', bytes: 'B'.repeat(100), details: { offset: 0, size: 5000, maxFrameBytes: 1000, keptBytes: 100, complete: true } },
      { frame: 'small', offset: 5003 },
    ]);
  });

  it('accepts a frame of exactly maxFrameBytes and refuses one byte more', () => {
    expect(decode([frame('x'.repeat(10))], { maxFrameBytes: 10 })).toEqual([{ frame: 'x'.repeat(10), offset: 0 }]);
    const [ev] = decode([frame('x'.repeat(11))], { maxFrameBytes: 10 });
    expect(ev).toMatchObject({ error: 'LB_ERR_MLLP_FRAME_TOO_LARGE', details: { size: 11, complete: true } });
  });

  it('reports an oversize frame cut by the end of the stream as too large, not complete', () => {
    expect(decode([`${VT}${'z'.repeat(50)}`], { maxFrameBytes: 20, maxErrorBytes: 5, end: 'end-of-stream' })).toEqual([
      { error: 'LB_ERR_MLLP_FRAME_TOO_LARGE', bytes: 'zzzzz', details: { offset: 0, size: 50, maxFrameBytes: 20, keptBytes: 5, complete: false, reason: 'end-of-stream' } },
    ]);
  });

  it('says what and where in the error message', () => {
    const d = new MllpFrameDecoder({ maxFrameBytes: 4 });
    const [ev] = d.push(Buffer.from(`${VT}123456${FS}${CR}`));
    expect(ev.type === 'error' && ev.error.message).toBe(
      'an MLLP frame of 6 byte(s) at stream offset 0 exceeds maxFrameBytes 4; its bytes were discarded up to its FS',
    );
    expect(ev.type === 'error' && ev.error.kind).toBe('input');
  });

  it('is empty and reusable after end()', () => {
    const d = new MllpFrameDecoder();
    d.push(Buffer.from(`${VT}abc`));
    expect(d.openFrameBytes).toBe(3);
    d.end('end-of-stream');
    expect(d.openFrameBytes).toBe(0);
    expect(seen(d.push(Buffer.from(frame('next'))))).toEqual([{ frame: 'next', offset: 4 }]);
  });
});
