import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Makes sure `dist/` holds an up-to-date build of `entry` and every project file it imports,
 * for tests that must run compiled code in a child process (e.g. ESM-only packages loaded with
 * `await import()`, which ts-jest's CommonJS runtime cannot do). Compiles with the options of
 * tsconfig.build.json, only the stale files of that import closure, and without type checking, so
 * half-finished files elsewhere in the project never block it (`npm test` type-checks anyway).
 *
 * @param entry - a source path relative to the project root, e.g. `src/db/embedded-postgres.ts`
 * @returns the absolute path of the compiled entry under dist/
 */
export function ensureCompiled(entry: string): string {
  const configPath = path.join(ROOT, 'tsconfig.build.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(`tsconfig.build.json: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    },
  });
  if (!parsed) {
    throw new Error('tsconfig.build.json could not be read');
  }
  const options: ts.CompilerOptions = { ...parsed.options, noEmitOnError: false, noEmit: false };
  const outDir = options.outDir ?? path.join(ROOT, 'dist');
  const rootDir = options.rootDir ?? ROOT;
  const program = ts.createProgram({ rootNames: [path.join(ROOT, entry)], options });
  const outputOf = (file: string): string => path.join(outDir, path.relative(rootDir, file)).replace(/\.ts$/, '.js');
  const stale = program
    .getSourceFiles()
    .filter((sf) => !sf.isDeclarationFile && !sf.fileName.includes(`${path.sep}node_modules${path.sep}`) && !program.isSourceFileFromExternalLibrary(sf))
    .filter((sf) => {
      const out = outputOf(sf.fileName);
      return !fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(sf.fileName).mtimeMs;
    });
  for (const sf of stale) {
    const result = program.emit(sf);
    if (result.emitSkipped) {
      throw new Error(`could not compile ${sf.fileName}`);
    }
  }
  return outputOf(path.join(ROOT, entry));
}
