/** The part of hl7-standard 1.0.4 (no bundled types) that the differential test and the measurement use. */
declare module 'hl7-standard' {
  interface Hl7StandardSegment {
    type: string;
    index: number;
    data: Record<string, unknown>;
  }
  class HL7 {
    constructor(data?: string, opts?: { lineEndings?: string });
    transformed: Record<string, Hl7StandardSegment[]>;
    container: HL7[];
    transform(cb?: (err: Error | null) => void, batch?: boolean): void;
    get(field: string, index?: number, sectionIndex?: number, subIndex?: number): unknown;
    getSegments(segment?: string): Hl7StandardSegment[];
  }
  export = HL7;
}
