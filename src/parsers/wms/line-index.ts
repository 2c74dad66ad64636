/** Line and column of an offset in a text, 1-based. */
export interface LineColumn {
  line: number;
  column: number;
}

/**
 * Offsets of line starts in a text (lines end at LF; a CR before it belongs to the line), so many
 * offsets can be turned into line/column numbers without rescanning the text.
 */
export class LineIndex {
  private readonly starts: number[] = [0];

  /** @param text - the text whose offsets will be looked up */
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
      this.starts.push(i + 1);
    }
  }

  /**
   * The 1-based line and column of a character offset.
   * @param offset - 0-based offset into the text (UTF-16 code units)
   */
  at(offset: number): LineColumn {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return { line: lo + 1, column: offset - this.starts[lo] + 1 };
  }
}
