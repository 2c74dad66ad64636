/** Where and why a text is not JSON (offset in UTF-16 code units, 0-based). */
export interface JsonSyntaxProblem {
  offset: number;
  message: string;
}

const WS = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

function describe(ch: string | undefined): string {
  if (ch === undefined) {
    return 'the end of the text';
  }
  return /[\x00-\x1f]/.test(ch) ? `control character U+${ch.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}` : `'${ch}'`;
}

/**
 * Finds the first syntax error of a JSON text, or undefined when it is valid JSON (RFC 8259).
 * Node's JSON.parse gives no position for several errors; this scanner always does. Iterative,
 * so deeply nested input cannot overflow the stack.
 * @param text - the JSON text (without a byte-order mark)
 */
export function findJsonSyntaxError(text: string): JsonSyntaxProblem | undefined {
  const n = text.length;
  const stack: string[] = [];
  let i = 0;
  type State = 'value' | 'valueOrEnd' | 'keyOrEnd' | 'key' | 'after';
  let state: State = 'value';
  const skipWs = (): void => {
    while (i < n && WS.has(text[i])) {
      i++;
    }
  };
  const fail = (message: string, at = i): JsonSyntaxProblem => ({ offset: at, message });

  const scanString = (): JsonSyntaxProblem | undefined => {
    const start = i;
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined) {
        return fail('the string that starts here is never closed', start);
      }
      if (c === '"') {
        i++;
        return undefined;
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            return fail('\\u must be followed by four hex digits');
          }
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) {
          return fail(`invalid escape \\${e ?? ''} in a string`);
        }
        i += 2;
        continue;
      }
      if (c.charCodeAt(0) < 0x20) {
        return fail(`${describe(c)} inside a string (escape it, e.g. \\n)`);
      }
      i++;
    }
  };

  const scanNumber = (): JsonSyntaxProblem | undefined => {
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) {
      return fail(`${describe(text[i + 1])} after '-' is not a number`, i + 1);
    }
    i += m[0].length;
    const next = text[i];
    if (next !== undefined && /[0-9.eE+-]/.test(next)) {
      return fail(`${describe(next)} is not allowed here in a number`);
    }
    return undefined;
  };

  for (;;) {
    skipWs();
    const c = text[i];
    if (state === 'value' || state === 'valueOrEnd') {
      if (state === 'valueOrEnd' && c === ']') {
        stack.pop();
        i++;
        state = 'after';
        continue;
      }
      if (c === '{') {
        stack.push('}');
        i++;
        state = 'keyOrEnd';
      } else if (c === '[') {
        stack.push(']');
        i++;
        state = 'valueOrEnd';
      } else if (c === '"') {
        const p = scanString();
        if (p) {
          return p;
        }
        state = 'after';
      } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
        const p = scanNumber();
        if (p) {
          return p;
        }
        state = 'after';
      } else if (c !== undefined && (text.startsWith('true', i) || text.startsWith('false', i) || text.startsWith('null', i))) {
        i += text.startsWith('false', i) ? 5 : 4;
        state = 'after';
      } else {
        return fail(c === ']' || c === '}' ? `unexpected ${describe(c)}: a value is missing (trailing comma?)` : `expected a value but found ${describe(c)}`);
      }
      continue;
    }
    if (state === 'keyOrEnd' || state === 'key') {
      if (state === 'keyOrEnd' && c === '}') {
        stack.pop();
        i++;
        state = 'after';
        continue;
      }
      if (c !== '"') {
        return fail(c === '}' ? "unexpected '}': a property is missing (trailing comma?)" : `expected a property name in double quotes but found ${describe(c)}`);
      }
      const p = scanString();
      if (p) {
        return p;
      }
      skipWs();
      if (text[i] !== ':') {
        return fail(`expected ':' after the property name but found ${describe(text[i])}`);
      }
      i++;
      state = 'value';
      continue;
    }
    // state === 'after': a complete value was read
    const close = stack[stack.length - 1];
    if (close === undefined) {
      return c === undefined ? undefined : fail(`unexpected ${describe(c)} after the end of the JSON value`);
    }
    if (c === ',') {
      i++;
      state = close === '}' ? 'key' : 'value';
    } else if (c === close) {
      stack.pop();
      i++;
    } else {
      return fail(`expected ',' or '${close}' but found ${describe(c)}`);
    }
  }
}

/**
 * Start offsets of the elements of a top-level JSON array. The text must be valid JSON whose first
 * value is an array (check with JSON.parse first).
 * @param text - the JSON text
 */
export function topLevelArrayElementOffsets(text: string): number[] {
  const offsets: number[] = [];
  let i = text.indexOf('[') + 1;
  let depth = 1;
  let inString = false;
  let expectStart = true;
  for (; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') {
        i++;
      } else if (c === '"') {
        inString = false;
      }
      continue;
    }
    if (WS.has(c)) {
      continue;
    }
    if (depth === 1 && expectStart && c !== ']') {
      offsets.push(i);
      expectStart = false;
    }
    if (c === '"') {
      inString = true;
    } else if (c === '[' || c === '{') {
      depth++;
    } else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) {
        break;
      }
    } else if (c === ',' && depth === 1) {
      expectStart = true;
    }
  }
  return offsets;
}
