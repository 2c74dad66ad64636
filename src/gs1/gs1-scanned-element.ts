import type { Gs1InputForm } from './gs1-decoded';

/**
 * An AI and its value as read from the input, before validation, with enough position data to
 * point at any character of it.
 */
export interface Gs1ScannedElement {
  ai: string;
  /** The value; percent-decoded for Digital Link, escapes removed for bracketed input. */
  value: string;
  /** 1-based input position of the AI's first digit. */
  aiPosition: number;
  /** 1-based input position of each character of `value`. */
  offsets: number[];
  /** 1-based input position just after the value (used when the value is empty or too short). */
  endPosition: number;
  form: Gs1InputForm;
}

/** The 1-based input position of character `index` of the element's value (or just after it). */
export function positionOf(el: Gs1ScannedElement, index: number): number {
  if (index < el.offsets.length) {
    return el.offsets[index] ?? el.endPosition;
  }
  return el.endPosition;
}
