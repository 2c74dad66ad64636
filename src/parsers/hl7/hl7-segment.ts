import type { Hl7Delimiters } from './hl7-delimiters';
import { unescapeHl7, type Hl7HexDecoding } from './hl7-escape';
import { hl7Location, type Hl7Location } from './hl7-location';

/** One repetition of a field: components, each a list of subcomponents (decoded text). */
export type Hl7Repetition = string[][];
/** A field: its repetitions (an empty field has none). */
export type Hl7Field = Hl7Repetition[];

/** Segments whose field 1 is the field separator and field 2 the encoding characters. */
const HEADER_SEGMENTS = new Set(['MSH', 'FHS', 'BHS']);

/** Where a segment sits, given by the parser. */
export interface Hl7SegmentPosition {
  /** 1-based position in the message. */
  index: number;
  /** 1-based occurrence among segments with the same id. */
  occurrence: number;
  /** 1-based line in the text parsed. */
  line: number;
}

/**
 * One segment of a parsed message. It keeps the text as written and splits it on demand:
 * fields when built, repetitions/components/subcomponents only when read. Values read through
 * {@link Hl7Segment.get} are unescaped; `raw*` accessors return the text as written.
 * Field numbers are HL7's: MSH-1 is the field separator, MSH-2 the encoding characters.
 */
export class Hl7Segment {
  /** Segment id, e.g. `PRT`. */
  readonly name: string;
  /** 1-based position in the message (MSH = 1). */
  readonly index: number;
  /** 1-based occurrence among the segments with this id. */
  readonly occurrence: number;
  /** 1-based line of the segment in the text parsed. */
  readonly line: number;
  /** The segment as written, without its terminator. */
  readonly raw: string;
  /** The message's delimiters. */
  readonly delimiters: Hl7Delimiters;
  private splitFields?: string[];
  private readonly header: boolean;
  private readonly hexDecoding: Hl7HexDecoding;

  /**
   * @param raw - the segment text without terminator, starting with its 3-character id
   * @param delimiters - the message's delimiters
   * @param position - where it sits in the message and text
   * @param hexDecoding - how `\X..\` escapes are read (from MSH-18)
   */
  constructor(raw: string, delimiters: Hl7Delimiters, position: Hl7SegmentPosition, hexDecoding: Hl7HexDecoding = 'auto') {
    this.raw = raw;
    this.delimiters = delimiters;
    // fields are split on first use: most segments of a message are never read
    const end = raw.indexOf(delimiters.field);
    this.name = end < 0 ? raw : raw.slice(0, end);
    this.header = HEADER_SEGMENTS.has(this.name);
    this.index = position.index;
    this.occurrence = position.occurrence;
    this.line = position.line;
    this.hexDecoding = hexDecoding;
  }

  /** The segment split on the field separator (`[0]` is the id). */
  private get parts(): string[] {
    return (this.splitFields ??= this.raw.split(this.delimiters.field));
  }

  /** The highest field number present (trailing empty fields written with separators count). */
  get fieldCount(): number {
    return this.header ? this.parts.length : this.parts.length - 1;
  }

  /**
   * A field as written (escaped, with its separators), `''` when present but empty, undefined when
   * the segment ends before it.
   * @param field - 1-based field number
   */
  rawField(field: number): string | undefined {
    if (!Number.isInteger(field) || field < 1) {
      return undefined;
    }
    if (this.header) {
      return field === 1 ? this.delimiters.field : this.parts[field - 1];
    }
    return this.parts[field];
  }

  /**
   * One value, unescaped: repetition → component → subcomponent, each 1-based and 1 by default
   * (so `get(19)` is PRT-19's first component, the whole value of a primitive field). Undefined
   * when absent or empty. The HL7 null `""` is returned as written (`'""'`).
   * @param field - field number
   * @param component - component number (default 1)
   * @param subcomponent - subcomponent number (default 1)
   * @param repetition - repetition number (default 1)
   */
  get(field: number, component = 1, subcomponent = 1, repetition = 1): string | undefined {
    const raw = this.rawValue(field, component, subcomponent, repetition);
    return raw === undefined ? undefined : unescapeHl7(raw, this.delimiters, this.hexDecoding);
  }

  /**
   * Like {@link Hl7Segment.get} but returns the value as written (escape sequences kept).
   * @param field - field number
   * @param component - component number (default 1)
   * @param subcomponent - subcomponent number (default 1)
   * @param repetition - repetition number (default 1)
   */
  rawValue(field: number, component = 1, subcomponent = 1, repetition = 1): string | undefined {
    const f = this.rawField(field);
    if (!f) {
      return undefined;
    }
    if (this.header && field <= 2) {
      return component === 1 && subcomponent === 1 && repetition === 1 ? f : undefined;
    }
    const d = this.delimiters;
    let v = f;
    if (v.includes(d.repetition)) {
      v = v.split(d.repetition)[repetition - 1] ?? '';
    } else if (repetition !== 1) {
      return undefined;
    }
    if (v.includes(d.component)) {
      v = v.split(d.component)[component - 1] ?? '';
    } else if (component !== 1) {
      return undefined;
    }
    if (v.includes(d.subcomponent)) {
      v = v.split(d.subcomponent)[subcomponent - 1] ?? '';
    } else if (subcomponent !== 1) {
      return undefined;
    }
    return v === '' ? undefined : v;
  }

  /**
   * A field split into repetitions, components and subcomponents, unescaped; `[]` when empty
   * or absent. MSH-1 and MSH-2 come back whole (`[[['|']]]`, `[[['^~\\&']]]`).
   * @param field - field number
   */
  field(field: number): Hl7Field {
    const f = this.rawField(field);
    if (!f) {
      return [];
    }
    if (this.header && field <= 2) {
      return [[[f]]];
    }
    const d = this.delimiters;
    return f.split(d.repetition).map((rep) => rep.split(d.component).map((comp) => comp.split(d.subcomponent).map((sub) => unescapeHl7(sub, d, this.hexDecoding))));
  }

  /** Every field as {@link Hl7Segment.field} gives it, indexed by field number (`fields[0]` holds the segment id). */
  get fields(): Hl7Field[] {
    const out: Hl7Field[] = [[[[this.name]]]];
    for (let n = 1; n <= this.fieldCount; n++) {
      out.push(this.field(n));
    }
    return out;
  }

  /**
   * How many repetitions a field has (0 when empty or absent).
   * @param field - field number
   */
  repetitionCount(field: number): number {
    const f = this.rawField(field);
    if (!f) {
      return 0;
    }
    return this.header && field <= 2 ? 1 : f.split(this.delimiters.repetition).length;
  }

  /**
   * The location of this segment or of one of its values, for errors.
   * @param field - field number, when the location is a field
   * @param component - component number
   * @param subcomponent - subcomponent number
   * @param repetition - repetition number
   */
  location(field?: number, component?: number, subcomponent?: number, repetition?: number): Hl7Location {
    return hl7Location({ segment: this.name, segmentIndex: this.index, occurrence: this.occurrence, field, component, subcomponent, repetition, line: this.line });
  }
}
