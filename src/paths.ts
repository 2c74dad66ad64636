import fs from 'node:fs';
import path from 'node:path';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        const name = (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name;
        if (name === 'lotbridge') {
          return dir;
        }
      } catch {
        // an unreadable package.json is not ours: keep looking upward
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`lotbridge package root not found above ${start}`);
    }
    dir = parent;
  }
}

/** Absolute path of the project root (the folder with LotBridge's package.json), from src/ or dist/src/. */
export const projectRoot = findRoot(__dirname);

/** Absolute path of a file under the project root. */
export function fromRoot(...parts: string[]): string {
  return path.join(projectRoot, ...parts);
}
