import type { HibccDateFormat } from './hibcc-date';

/**
 * How the HIBC data was laid out: a primary symbol alone, a secondary symbol alone (its link character
 * cannot be checked), one symbol holding both (`/`-concatenated, one check character), or a primary and
 * a secondary symbol whose link character matched the primary's check character.
 */
export type HibccStructure = 'primary' | 'secondary' | 'concatenated' | 'linked';

/**
 * The result of {@link decodeHibcc}: the HIBC Supplier Labeling Standard (ANSI/HIBC 2.x) data of one
 * item. Every data field is present only when the barcode carries it.
 */
export interface HibccDecoded {
  scheme: 'hibcc';
  /** The AIM symbology identifier the scanner sent (`]A0`, `]C0`, `]d1`, `]Q1`), when there was one. */
  symbology?: string;
  structure: HibccStructure;
  /** Labeler Identification Code: 4 characters, the first a letter. */
  lic?: string;
  /** Product or catalog number: 1 to 18 letters and digits. */
  product?: string;
  /** Unit of measure (packaging level) digit 0-9; 0 is the unit of use. */
  unitOfMeasure?: number;
  /** The UDI device identifier: LIC + product + unit of measure (no `+` flag, no check character). */
  deviceIdentifier?: string;
  /** Lot or batch number (`$`, `$$…` or after a Julian date). */
  lot?: string;
  /** Serial number (`$+`, `$$+…` or the supplementary `/S` field). */
  serial?: string;
  /** Expiry date as YYYY-MM-DD (`MMYY` resolves to the last day of the month). */
  expiry?: string;
  /** The expiry hour 0-23 of the `YYMMDDHH` and `YYJJJHH` formats. */
  expiryHour?: number;
  /** The format the expiry date was written in (`YYYYMMDD` for the supplementary `/14D` field). */
  expiryFormat?: HibccDateFormat;
  /** Date of manufacture as YYYY-MM-DD (supplementary `/16D` field). */
  manufactureDate?: string;
  /** Quantity (`$$8` two digits, `$$9` five digits, or the supplementary `/Q` field). */
  quantity?: number;
  /** The modulo 43 check character of the primary (or only) symbol. */
  checkCharacter: string;
  /** The link character of a secondary symbol (equals the primary's check character when linked). */
  linkCharacter?: string;
}

/** Options for {@link decodeHibcc}. */
export interface HibccDecodeOptions {
  /** "Today" for the two-digit-year rule; defaults to the current time. */
  now?: Date;
}
