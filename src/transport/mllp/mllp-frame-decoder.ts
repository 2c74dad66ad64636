import { LotBridgeError } from '../../errors';
import { MLLP_CR, MLLP_FS, MLLP_VT } from './mllp-framing';

/** Why an open frame was cut short (the `reason` in `LB_ERR_MLLP_FRAME_TRUNCATED` details). */
export type MllpTruncationReason = 'new-frame-started' | 'end-of-stream' | 'idle-timeout' | 'server-stop';

/** Why a stream ends: what {@link MllpFrameDecoder.end} is told. */
export type MllpEndReason = Exclude<MllpTruncationReason, 'new-frame-started'>;

/** One thing the decoder found in the byte stream, in stream order. */
export type MllpDecodeEvent =
  | {
      type: 'frame';
      /** Bytes between VT and FS. May share memory with a received chunk (no copy when a frame sits in one chunk). */
      payload: Buffer;
      /** Stream offset of the frame's VT byte. */
      offset: number;
    }
  | {
      type: 'error';
      /** `LB_ERR_MLLP_BYTES_OUTSIDE_FRAME`, `LB_ERR_MLLP_FRAME_TRUNCATED` or `LB_ERR_MLLP_FRAME_TOO_LARGE`; sizes and offsets in `details`. */
      error: LotBridgeError;
      /** The bytes concerned: all of a truncated frame, the first `maxErrorBytes` of a garbage run or an oversize frame. */
      bytes: Buffer;
      /** Stream offset of the first byte concerned. */
      offset: number;
    }
  | {
      type: 'note';
      /** A frame ended with FS not followed by CR; the frame was accepted. */
      note: 'fs-without-cr';
      /** Stream offset of that FS byte. */
      offset: number;
    }
  | {
      type: 'note';
      /**
       * A run outside frames held only white space (CR, LF, space, tab): the LF of senders that
       * end frames with `FS CR LF`, blank lines between frames. Skipped, not an error: answering
       * it would put an extra answer into the sender's stream of ACKs.
       */
      note: 'blank-outside-frame';
      /** Stream offset of the run's first byte. */
      offset: number;
      /** Bytes in the run. */
      size: number;
    };

/** Limits of an {@link MllpFrameDecoder}. */
export interface MllpFrameDecoderOptions {
  /** Largest payload (bytes between VT and FS) delivered as a frame; larger ones become `LB_ERR_MLLP_FRAME_TOO_LARGE`. Default 1 MiB. */
  maxFrameBytes?: number;
  /** How many bytes of a garbage run or of an oversize frame are kept for the error report. Default 64 KiB. */
  maxErrorBytes?: number;
}

/** Default {@link MllpFrameDecoderOptions.maxFrameBytes}: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** Default {@link MllpFrameDecoderOptions.maxErrorBytes}: 64 KiB. */
export const DEFAULT_MAX_ERROR_BYTES = 64 * 1024;

const TRUNCATION_TEXT: Record<MllpTruncationReason, string> = {
  'new-frame-started': 'a VT started a new frame before its FS',
  'end-of-stream': 'the connection ended before its FS',
  'idle-timeout': 'the connection went idle before its FS',
  'server-stop': 'the server stopped before its FS',
};

/** Pieces shorter than this are copied into a growing buffer instead of being kept as slices. */
const SMALL_PIECE = 1024;

/**
 * Bytes collected as chunk slices (no copy until asked), of which at most `cap` are kept while
 * all are counted. Joining happens once, so collecting is linear in the bytes received. Small
 * pieces after the first (a sender trickling bytes) are copied into one buffer that doubles as it
 * fills, so a frame that comes a byte at a time costs amortised O(1) per byte and one slice per
 * ~1 KiB, not one Buffer object per byte.
 */
class CappedBytes {
  private parts: Buffer[] = [];
  /** Growing buffer for small pieces; its first `tailUsed` bytes are kept bytes after `parts`. */
  private tail: Buffer | undefined;
  private tailUsed = 0;
  /** Bytes kept in `parts` and `tail`. */
  kept = 0;
  /** Bytes seen, kept or not. */
  size = 0;

  constructor(private cap: number) {}

  add(buf: Buffer): void {
    this.size += buf.length;
    if (this.kept >= this.cap || buf.length === 0) {
      return;
    }
    const take = Math.min(buf.length, this.cap - this.kept);
    const piece = take === buf.length ? buf : buf.subarray(0, take);
    this.kept += take;
    if (take >= SMALL_PIECE || (this.parts.length === 0 && this.tailUsed === 0)) {
      this.sealTail();
      this.parts.push(piece);
      return;
    }
    if (!this.tail || this.tail.length - this.tailUsed < take) {
      const grown = Buffer.allocUnsafe(Math.min(this.cap, Math.max(2 * SMALL_PIECE, 2 * (this.tailUsed + take))));
      this.tail?.copy(grown, 0, 0, this.tailUsed);
      this.tail = grown;
    }
    piece.copy(this.tail, this.tailUsed);
    this.tailUsed += take;
  }

  /** Lowers the cap, dropping kept bytes beyond it. */
  limit(cap: number): void {
    this.cap = cap;
    if (this.kept <= cap) {
      return;
    }
    this.sealTail();
    const parts: Buffer[] = [];
    let kept = 0;
    for (const p of this.parts) {
      if (kept >= cap) {
        break;
      }
      const take = Math.min(p.length, cap - kept);
      parts.push(take === p.length ? p : p.subarray(0, take));
      kept += take;
    }
    this.parts = parts;
    this.kept = kept;
  }

  bytes(): Buffer {
    this.sealTail();
    if (this.parts.length === 1) {
      return this.parts[0];
    }
    return Buffer.concat(this.parts, this.kept);
  }

  reset(cap: number): void {
    this.parts = [];
    this.tail = undefined;
    this.tailUsed = 0;
    this.kept = 0;
    this.size = 0;
    this.cap = cap;
  }

  /** Moves the filled part of the growing buffer into `parts`; later small pieces start a new one. */
  private sealTail(): void {
    if (this.tail && this.tailUsed > 0) {
      this.parts.push(this.tail.subarray(0, this.tailUsed));
    }
    this.tail = undefined;
    this.tailUsed = 0;
  }
}

/**
 * Incremental MLLP frame decoder, pure (no I/O, no timers): feed it the chunks of one byte stream
 * and it returns what it found, in stream order.
 *
 * - `VT payload FS CR` is a frame. A frame may span any number of chunks and a chunk may hold any
 *   number of frames; each byte is looked at a bounded number of times (native `indexOf`), and a
 *   frame is joined once, so decoding is linear in the bytes received.
 * - FS not followed by CR still ends the frame (delivered at once); a `note` follows when the next
 *   byte shows the CR is missing.
 * - Bytes before a VT are a garbage run, reported once as `LB_ERR_MLLP_BYTES_OUTSIDE_FRAME` when
 *   the run ends: at the next VT, at {@link end}, or when the owner calls {@link flushGarbage}
 *   (the server does after a quiet period, so an unframed sender still gets an answer). A run of
 *   white space only (`FS CR LF` senders, blank lines between frames) is a `blank-outside-frame`
 *   note instead.
 * - A VT inside an open frame reports that frame as `LB_ERR_MLLP_FRAME_TRUNCATED` and starts a new one.
 * - A frame over `maxFrameBytes` is counted but not kept (only its head, `maxErrorBytes`) and is
 *   reported as `LB_ERR_MLLP_FRAME_TOO_LARGE` at its FS with the size seen; decoding goes on.
 */
export class MllpFrameDecoder {
  /** Largest payload delivered as a frame. */
  readonly maxFrameBytes: number;
  /** Bytes kept for a garbage run or an oversize frame's head. */
  readonly maxErrorBytes: number;
  private inFrame = false;
  private oversize = false;
  private frameOffset = 0;
  private readonly frame: CappedBytes;
  private readonly garbage: CappedBytes;
  private garbageOffset = 0;
  /** True while every byte of the garbage run is white space. */
  private garbageBlank = true;
  /** Stream offset of an FS whose CR has not been seen yet, or -1. */
  private fsAwaitingCr = -1;
  /** Stream offset of the next chunk's first byte. */
  private consumed = 0;

  /** @param options - frame and error-report limits */
  constructor(options: MllpFrameDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxErrorBytes = options.maxErrorBytes ?? DEFAULT_MAX_ERROR_BYTES;
    if (!(this.maxFrameBytes > 0) || !(this.maxErrorBytes > 0)) {
      throw new RangeError('maxFrameBytes and maxErrorBytes must be positive');
    }
    this.frame = new CappedBytes(this.maxFrameBytes);
    this.garbage = new CappedBytes(this.maxErrorBytes);
  }

  /** True while a garbage run waits to be reported (see {@link flushGarbage}). */
  get hasPendingGarbage(): boolean {
    return this.garbage.size > 0;
  }

  /** Bytes received so far of the frame in progress (0 when none is open). */
  get openFrameBytes(): number {
    return this.inFrame ? this.frame.size : 0;
  }

  /** Total bytes pushed so far. */
  get bytesSeen(): number {
    return this.consumed;
  }

  /**
   * Decodes one chunk of the stream.
   *
   * @param chunk - the next bytes received
   * @returns frames, errors and notes completed by this chunk, in stream order
   */
  push(chunk: Buffer): MllpDecodeEvent[] {
    const out: MllpDecodeEvent[] = [];
    const len = chunk.length;
    // The next VT / FS at or after the last search start; -2 = not searched yet. Each search
    // result stays valid until pos passes it, so every byte is scanned at most once per byte value.
    let nextVt = -2;
    let nextFs = -2;
    let pos = 0;
    while (pos < len) {
      if (!this.inFrame) {
        if (this.fsAwaitingCr !== -1) {
          const fsAt = this.fsAwaitingCr;
          this.fsAwaitingCr = -1;
          if (chunk[pos] === MLLP_CR) {
            pos++;
            continue;
          }
          out.push({ type: 'note', note: 'fs-without-cr', offset: fsAt });
        }
        if (nextVt === -2 || (nextVt !== -1 && nextVt < pos)) {
          nextVt = chunk.indexOf(MLLP_VT, pos);
        }
        const vt = nextVt;
        const end = vt === -1 ? len : vt;
        if (end > pos) {
          if (this.garbage.size === 0) {
            this.garbageOffset = this.consumed + pos;
            this.garbageBlank = true;
          }
          if (this.garbageBlank) {
            this.garbageBlank = isBlank(chunk, pos, end);
          }
          this.garbage.add(chunk.subarray(pos, end));
        }
        if (vt === -1) {
          break;
        }
        this.flushGarbageInto(out, 'frame-start');
        this.openFrame(this.consumed + vt);
        pos = vt + 1;
        continue;
      }
      if (nextVt === -2 || (nextVt !== -1 && nextVt < pos)) {
        nextVt = chunk.indexOf(MLLP_VT, pos);
      }
      if (nextFs === -2 || (nextFs !== -1 && nextFs < pos)) {
        nextFs = chunk.indexOf(MLLP_FS, pos);
      }
      const fs = nextFs;
      const vt = nextVt;
      if (fs !== -1 && (vt === -1 || fs < vt)) {
        this.addToFrame(chunk.subarray(pos, fs));
        out.push(this.closeFrame());
        this.fsAwaitingCr = this.consumed + fs;
        pos = fs + 1;
      } else if (vt !== -1) {
        this.addToFrame(chunk.subarray(pos, vt));
        out.push(this.cutFrame('new-frame-started'));
        this.openFrame(this.consumed + vt);
        pos = vt + 1;
      } else {
        this.addToFrame(chunk.subarray(pos));
        break;
      }
    }
    this.consumed += len;
    return out;
  }

  /**
   * Reports the garbage run collected so far (if any) as one `LB_ERR_MLLP_BYTES_OUTSIDE_FRAME`.
   * Bytes that follow start a new run.
   *
   * @returns zero or one error event
   */
  flushGarbage(): MllpDecodeEvent[] {
    const out: MllpDecodeEvent[] = [];
    this.flushGarbageInto(out, 'quiet');
    return out;
  }

  /**
   * The stream ended (or is being given up): reports an open frame as truncated (or too large),
   * a pending garbage run, and a final FS without CR. The decoder is then empty and can be reused.
   *
   * @param reason - why the stream ended; goes into the truncation error's details
   * @returns the events this produced, in stream order
   */
  end(reason: MllpEndReason): MllpDecodeEvent[] {
    const out: MllpDecodeEvent[] = [];
    if (this.fsAwaitingCr !== -1) {
      out.push({ type: 'note', note: 'fs-without-cr', offset: this.fsAwaitingCr });
      this.fsAwaitingCr = -1;
    }
    if (this.inFrame) {
      out.push(this.cutFrame(reason));
    }
    this.flushGarbageInto(out, reason);
    return out;
  }

  private openFrame(offset: number): void {
    this.inFrame = true;
    this.oversize = false;
    this.frameOffset = offset;
    this.frame.reset(this.maxFrameBytes);
  }

  private addToFrame(buf: Buffer): void {
    if (!this.oversize && this.frame.size + buf.length > this.maxFrameBytes) {
      this.oversize = true;
      this.frame.limit(this.maxErrorBytes);
    }
    this.frame.add(buf);
  }

  /** The open frame reached its FS. */
  private closeFrame(): MllpDecodeEvent {
    this.inFrame = false;
    if (this.oversize) {
      return this.tooLarge(true);
    }
    const payload = this.frame.bytes();
    this.frame.reset(this.maxFrameBytes);
    return { type: 'frame', payload, offset: this.frameOffset };
  }

  /** The open frame ends without FS. */
  private cutFrame(reason: MllpTruncationReason): MllpDecodeEvent {
    this.inFrame = false;
    if (this.oversize) {
      return this.tooLarge(false, reason);
    }
    const bytes = this.frame.bytes();
    const size = this.frame.size;
    this.frame.reset(this.maxFrameBytes);
    const error = new LotBridgeError(
      'LB_ERR_MLLP_FRAME_TRUNCATED',
      `an MLLP frame of ${size} byte(s) at stream offset ${this.frameOffset} has no FS end byte: ${TRUNCATION_TEXT[reason]}`,
      { details: { offset: this.frameOffset, size, reason } },
    );
    return { type: 'error', error, bytes, offset: this.frameOffset };
  }

  private tooLarge(complete: boolean, reason?: MllpTruncationReason): MllpDecodeEvent {
    const bytes = this.frame.bytes();
    const size = this.frame.size;
    const kept = this.frame.kept;
    this.frame.reset(this.maxFrameBytes);
    this.oversize = false;
    const ending = complete ? 'its bytes were discarded up to its FS' : `and has no FS end byte: ${TRUNCATION_TEXT[reason ?? 'end-of-stream']}`;
    const error = new LotBridgeError(
      'LB_ERR_MLLP_FRAME_TOO_LARGE',
      `an MLLP frame of ${complete ? '' : 'at least '}${size} byte(s) at stream offset ${this.frameOffset} exceeds maxFrameBytes ${this.maxFrameBytes}; ${ending}`,
      { details: { offset: this.frameOffset, size, maxFrameBytes: this.maxFrameBytes, keptBytes: kept, complete, ...(reason ? { reason } : {}) } },
    );
    return { type: 'error', error, bytes, offset: this.frameOffset };
  }

  /**
   * @param endedBy - what ended the run: a VT (`frame-start`: a frame follows at once, so the owner
   *   may store the run without answering it, or the sender would read that answer as its frame's),
   *   a quiet period (`quiet`: an unframed sender waits for an answer) or the end of the stream
   */
  private flushGarbageInto(out: MllpDecodeEvent[], endedBy: 'frame-start' | 'quiet' | MllpEndReason): void {
    if (this.garbage.size === 0) {
      return;
    }
    const size = this.garbage.size;
    const offset = this.garbageOffset;
    if (this.garbageBlank) {
      this.garbage.reset(this.maxErrorBytes);
      out.push({ type: 'note', note: 'blank-outside-frame', offset, size });
      return;
    }
    const bytes = this.garbage.bytes();
    this.garbage.reset(this.maxErrorBytes);
    const error = new LotBridgeError(
      'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME',
      `${size} byte(s) at stream offset ${offset} are outside an MLLP frame (a frame starts with VT 0x0B)`,
      // The first 4 bytes tell a TLS hello (16 03 ..), an HTTP request or unframed HL7 (MSH|) apart without logging content.
      { details: { offset, size, keptBytes: bytes.length, head: bytes.subarray(0, 4).toString('hex'), endedBy } },
    );
    out.push({ type: 'error', error, bytes, offset });
  }
}

/** True when bytes [from, to) of the chunk are all CR, LF, space or tab. */
function isBlank(chunk: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const b = chunk[i];
    if (b !== 0x0d && b !== 0x0a && b !== 0x20 && b !== 0x09) {
      return false;
    }
  }
  return true;
}
