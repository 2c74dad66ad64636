import type { Gs1SkippedLinterName } from './ai-table.generated';

/** One decoded GS1 element string: the AI, its value (percent-decoded for Digital Link) and the dictionary title. */
export interface Gs1Element {
  ai: string;
  value: string;
  title: string;
}

/** A dictionary check the decoder knowingly did not run (see GS1_SKIPPED_LINTERS and docs/gs1.md). */
export interface Gs1UncheckedLinter {
  ai: string;
  linter: Gs1SkippedLinterName;
  reason: string;
}

/** How the scanned text was written. */
export type Gs1InputForm = 'bracketed' | 'raw' | 'digital-link';

/**
 * The result of {@link decodeGs1}. `elements` are in the order scanned; the convenience fields
 * come from the first element with that AI.
 */
export interface Gs1Decoded {
  scheme: 'gs1';
  /** The AIM symbology identifier the scanner sent, e.g. `]d2` (GS1 DataMatrix), when there was one. */
  symbology?: string;
  input: Gs1InputForm;
  elements: Gs1Element[];
  /** 14 digits, from (01) or else (02); GTIN-8/12/13 read from EAN/UPC or a bare number are padded with zeros. */
  gtin?: string;
  /** (10) batch/lot. */
  lot?: string;
  /** (17) expiry as YYYY-MM-DD; day 00 resolves to the last day of the month. */
  expiry?: string;
  /** (15) best before as YYYY-MM-DD; day 00 resolves to the last day of the month. */
  bestBefore?: string;
  /** (11) production date as YYYY-MM-DD; day 00 resolves to the first day of the month. */
  productionDate?: string;
  /** (21) serial number. */
  serial?: string;
  /** (00) SSCC, 18 digits. */
  sscc?: string;
  /** (30) variable count or else (37) count of trade items, as a number. */
  quantity?: number;
  /** Checks named by the dictionary that were not run for these elements; absent when every check ran. */
  unchecked?: Gs1UncheckedLinter[];
}

/** Options for {@link decodeGs1}. */
export interface Gs1DecodeOptions {
  /** "Today" for the GS1 two-digit-year (century) rule; defaults to the current time. */
  now?: Date;
  /**
   * Check mandatory associations (`req`) and invalid pairings (`ex`); default true. GS1 evaluates them
   * over all carriers on one item, so a caller that decodes two barcodes of one label separately can
   * turn this off and check the combined elements with `checkGs1Associations`.
   */
  checkAssociations?: boolean;
}
