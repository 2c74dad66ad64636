import type { Hl7Delimiters } from './hl7-delimiters';
import type { Hl7Segment } from './hl7-segment';
import type { MshHeader } from './read-msh';

/** Picks one segment among those with an id: its occurrence (1-based, the default 1) or its position in the message. */
export type Hl7SegmentSelector = number | { occurrence: number } | { segmentIndex: number };

/** A segment and the segments that belong to it (e.g. an FT1 and its PRTs). */
export interface Hl7SegmentGroup {
  /** The segment that opens the group. */
  leader: Hl7Segment;
  /** The member segments that follow it, in message order. */
  members: Hl7Segment[];
}

/** Options of {@link Hl7Message.segmentGroups}. */
export interface Hl7GroupOptions {
  /** Segment ids kept as members; all segments up to the next leader when omitted. */
  members?: readonly string[];
  /** Segment ids that close the group early (e.g. `['FT1', 'ZPM']`); the next leader always closes it. */
  until?: readonly string[];
}

/** A parsed HL7 v2 message: its delimiters, header and segments, with locations kept. Build with `parseHl7Message`. */
export class Hl7Message {
  /** The message text (MLLP framing removed). */
  readonly text: string;
  /** MSH-1/MSH-2 of this message. */
  readonly delimiters: Hl7Delimiters;
  /** All segments in order; `segments[0]` is the MSH. */
  readonly segments: readonly Hl7Segment[];
  /** What the MSH says. */
  readonly header: MshHeader;
  /** True when the text came in an MLLP block. */
  readonly framed: boolean;
  private readonly byName = new Map<string, Hl7Segment[]>();

  /**
   * @param text - the message text
   * @param delimiters - its delimiters
   * @param segments - its segments, MSH first
   * @param header - the MSH read
   * @param framed - whether it came MLLP-framed
   */
  constructor(text: string, delimiters: Hl7Delimiters, segments: Hl7Segment[], header: MshHeader, framed: boolean) {
    this.text = text;
    this.delimiters = delimiters;
    this.segments = segments;
    this.header = header;
    this.framed = framed;
    for (const s of segments) {
      const list = this.byName.get(s.name);
      if (list) {
        list.push(s);
      } else {
        this.byName.set(s.name, [s]);
      }
    }
  }

  /** The MSH segment. */
  get msh(): Hl7Segment {
    return this.segments[0];
  }

  /**
   * The segments with an id, in message order (`[]` when none).
   * @param name - segment id, e.g. `FT1`
   */
  segmentsNamed(name: string): readonly Hl7Segment[] {
    return this.byName.get(name) ?? [];
  }

  /**
   * One segment with an id.
   * @param name - segment id
   * @param which - its occurrence (a number or `{ occurrence }`, 1-based, default 1) or `{ segmentIndex }` (1-based position in the message)
   */
  segment(name: string, which: Hl7SegmentSelector = 1): Hl7Segment | undefined {
    if (typeof which === 'number') {
      return this.byName.get(name)?.[which - 1];
    }
    if ('occurrence' in which) {
      return this.byName.get(name)?.[which.occurrence - 1];
    }
    const s = this.segments[which.segmentIndex - 1];
    return s?.name === name ? s : undefined;
  }

  /**
   * One value, unescaped, or undefined when the segment or value is absent or empty.
   * `msg.get('PRT', 2, 19)` is the lot number of the second PRT.
   * @param name - segment id
   * @param which - which segment (see {@link Hl7Message.segment})
   * @param field - field number
   * @param component - component (default 1)
   * @param subcomponent - subcomponent (default 1)
   * @param repetition - repetition (default 1)
   */
  get(name: string, which: Hl7SegmentSelector, field: number, component?: number, subcomponent?: number, repetition?: number): string | undefined {
    return this.segment(name, which)?.get(field, component, subcomponent, repetition);
  }

  /**
   * Groups segments under a leader: each `leader` segment with the segments after it up to the
   * next leader (or a segment named in `until`). `segmentGroups('FT1', { members: ['PRT'] })`
   * gives every FT1 with its PRTs. Segments before the first leader belong to no group.
   * @param leader - id of the segment that opens a group
   * @param opts - which followers are members, which close the group
   */
  segmentGroups(leader: string, opts: Hl7GroupOptions = {}): Hl7SegmentGroup[] {
    const groups: Hl7SegmentGroup[] = [];
    let current: Hl7SegmentGroup | undefined;
    for (const s of this.segments) {
      if (s.name === leader) {
        current = { leader: s, members: [] };
        groups.push(current);
      } else if (current) {
        if (opts.until?.includes(s.name)) {
          current = undefined;
        } else if (!opts.members || opts.members.includes(s.name)) {
          current.members.push(s);
        }
      }
    }
    return groups;
  }
}
