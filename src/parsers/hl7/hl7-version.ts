import { LotBridgeError } from '../../errors';
import { describeHl7Location, hl7Location } from './hl7-location';
import type { MshHeader } from './read-msh';

/** The HL7 v2 versions published, oldest first (MSH-12.1 values). */
export const HL7_V2_VERSIONS = ['2.1', '2.2', '2.3', '2.3.1', '2.4', '2.5', '2.5.1', '2.6', '2.7', '2.7.1', '2.8', '2.8.1', '2.8.2', '2.9'] as const;

/** A published HL7 v2 version. */
export type Hl7Version = (typeof HL7_V2_VERSIONS)[number];

/**
 * True for a published HL7 v2 version.
 * @param v - MSH-12.1 as written
 */
export function isHl7Version(v: string | undefined): v is Hl7Version {
  return v !== undefined && (HL7_V2_VERSIONS as readonly string[]).includes(v);
}

/**
 * Negative when `a` is older than `b`, 0 when equal, positive when newer.
 * @param a - a version
 * @param b - another version
 */
export function compareHl7Versions(a: Hl7Version, b: Hl7Version): number {
  return HL7_V2_VERSIONS.indexOf(a) - HL7_V2_VERSIONS.indexOf(b);
}

/**
 * The message's version when MSH-12 names a published HL7 v2 version; LB_ERR_HL7_VERSION
 * (location MSH-12) otherwise, LB_ERR_HL7_REQUIRED_FIELD when MSH-12 is empty.
 * @param header - the MSH read (`readMsh`, or `message.header`)
 */
export function checkHl7Version(header: MshHeader): Hl7Version {
  const location = hl7Location({ segment: 'MSH', segmentIndex: 1, occurrence: 1, field: 12, line: header.line });
  const v = header.version;
  if (v === undefined) {
    throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', `MSH-12 (version id) is empty ${describeHl7Location(location)}`, { location });
  }
  if (!isHl7Version(v)) {
    throw new LotBridgeError('LB_ERR_HL7_VERSION', `MSH-12 "${v}" is not an HL7 v2 version (${HL7_V2_VERSIONS.join(', ')}) ${describeHl7Location(location)}`, {
      location,
      details: { version: v },
    });
  }
  return v;
}

/** MSH-9 read as message type, trigger event and structure. */
export interface Hl7MessageType {
  /** MSH-9.1, e.g. `DFT`. */
  type: string;
  /** MSH-9.2, e.g. `P03`. */
  trigger: string;
  /** MSH-9.3 when written (v2.3.1+). */
  structure?: string;
}

/**
 * MSH-9 as type and trigger; LB_ERR_HL7_MESSAGE_TYPE (location MSH-9) when either is missing,
 * or when `supported` is given and `type^trigger` is not in it.
 * @param header - the MSH read
 * @param supported - the `type^trigger` pairs the caller handles, e.g. `['DFT^P03', 'OMS^O05']`
 */
export function checkHl7MessageType(header: MshHeader, supported?: readonly string[]): Hl7MessageType {
  const location = hl7Location({ segment: 'MSH', segmentIndex: 1, occurrence: 1, field: 9, line: header.line });
  const { messageType: type, triggerEvent: trigger } = header;
  const written = header.rawFields[9] ?? '';
  if (!type || !trigger) {
    throw new LotBridgeError('LB_ERR_HL7_MESSAGE_TYPE', `MSH-9 "${written}" is not a message type with a trigger event (type^trigger, e.g. DFT^P03) ${describeHl7Location(location)}`, {
      location,
    });
  }
  if (supported && !supported.includes(`${type}^${trigger}`)) {
    throw new LotBridgeError('LB_ERR_HL7_MESSAGE_TYPE', `MSH-9 "${type}^${trigger}" is not a supported message type (${supported.join(', ')}) ${describeHl7Location(location)}`, {
      location,
      details: { messageType: `${type}^${trigger}` },
    });
  }
  return header.messageStructure ? { type, trigger, structure: header.messageStructure } : { type, trigger };
}
