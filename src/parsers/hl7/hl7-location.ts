import type { MessageLocation } from '../../errors';

/**
 * Where a value sits in an HL7 v2 message. It extends the shared {@link MessageLocation}
 * (`segment`, `field` as text, `line`, `path`) with the numeric HL7 positions, so an error's
 * `location` (and its JSON) carries them and the ACK builder can fill ERR-1 / ERR-2 from it.
 */
export interface Hl7Location extends MessageLocation {
  /** Segment id, e.g. `PRT`. */
  segment: string;
  /** 1-based position of the segment in the message (MSH = 1). */
  segmentIndex?: number;
  /**
   * 1-based occurrence among the segments with this id (the third PRT = 3). This is what
   * ERR-1.2 (v2.1–2.4) and ERL-2 "Segment Sequence" (v2.5+) mean, not the Set-ID.
   */
  occurrence?: number;
  /** Field number as text (`"19"`), as {@link MessageLocation.field} is typed. */
  field?: string;
  /** 1-based field repetition. */
  repetition?: number;
  /** 1-based component. */
  component?: number;
  /** 1-based subcomponent. */
  subcomponent?: number;
  /** 1-based line of the segment in the text parsed (in a batch file: the file's line). */
  line?: number;
  /** Readable path: `PRT[2]-18`, `PID[1]-3(2).4.2` (occurrence in brackets, repetition in parentheses). */
  path?: string;
}

/** The numeric parts of an {@link Hl7Location}, used to build one. */
export interface Hl7Position {
  /** Segment id. */
  segment: string;
  /** 1-based position in the message. */
  segmentIndex?: number;
  /** 1-based occurrence among segments with this id. */
  occurrence?: number;
  /** Field number. */
  field?: number;
  /** 1-based repetition. */
  repetition?: number;
  /** 1-based component. */
  component?: number;
  /** 1-based subcomponent. */
  subcomponent?: number;
  /** 1-based line in the text. */
  line?: number;
}

/**
 * Builds the location of a segment or value, with its readable path.
 * @param p - the positions known
 */
export function hl7Location(p: Hl7Position): Hl7Location {
  const loc: Hl7Location = { segment: p.segment };
  if (p.segmentIndex !== undefined) {
    loc.segmentIndex = p.segmentIndex;
  }
  if (p.occurrence !== undefined) {
    loc.occurrence = p.occurrence;
  }
  if (p.field !== undefined) {
    loc.field = String(p.field);
    if (p.repetition !== undefined) {
      loc.repetition = p.repetition;
    }
    if (p.component !== undefined) {
      loc.component = p.component;
      if (p.subcomponent !== undefined) {
        loc.subcomponent = p.subcomponent;
      }
    }
  }
  if (p.line !== undefined) {
    loc.line = p.line;
  }
  loc.path = hl7Path(p);
  return loc;
}

/**
 * `PRT[2]-18.1`: segment id, occurrence in brackets, field, repetition in parentheses (only
 * when above 1), component and subcomponent after dots.
 * @param p - the positions known
 */
export function hl7Path(p: Hl7Position): string {
  let s = p.segment + (p.occurrence !== undefined ? `[${p.occurrence}]` : '');
  if (p.field === undefined) {
    return s;
  }
  s += `-${p.field}`;
  if (p.repetition !== undefined && p.repetition > 1) {
    s += `(${p.repetition})`;
  }
  if (p.component !== undefined) {
    s += `.${p.component}`;
    if (p.subcomponent !== undefined) {
      s += `.${p.subcomponent}`;
    }
  }
  return s;
}

/**
 * The words an error message ends with: `(segment PRT #2, field 18, line 7)`.
 * @param loc - the location
 */
export function describeHl7Location(loc: Hl7Location): string {
  const parts = [`segment ${loc.segment}${loc.occurrence !== undefined && loc.occurrence > 1 ? ` #${loc.occurrence}` : ''}`];
  if (loc.field !== undefined) {
    parts.push(`field ${loc.field}`);
  }
  if (loc.repetition !== undefined && loc.repetition > 1) {
    parts.push(`repetition ${loc.repetition}`);
  }
  if (loc.component !== undefined) {
    parts.push(`component ${loc.component}`);
  }
  if (loc.subcomponent !== undefined) {
    parts.push(`subcomponent ${loc.subcomponent}`);
  }
  if (loc.line !== undefined) {
    parts.push(`line ${loc.line}`);
  }
  return `(${parts.join(', ')})`;
}
