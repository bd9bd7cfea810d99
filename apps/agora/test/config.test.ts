import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@agora/kernel';
import { DB_POOL_MAX_DEFAULT, DB_POOL_MAX_LIMIT, SERVICES_WITH_STORAGE, loadConfig } from '../src/config.js';

const base = { AGORA_DATA_DIR: mkdtempSync(join(tmpdir(), 'agora-config-')), AGORA_JWT_SECRET: 'x'.repeat(48) };

describe('AGORA_DB_POOL_MAX', () => {
  it('defaults to more connections than one process has services sharing the pool', () => {
    expect(loadConfig(base).dbPoolMax).toBe(DB_POOL_MAX_DEFAULT);
    expect(DB_POOL_MAX_DEFAULT).toBeGreaterThan(2 * SERVICES_WITH_STORAGE.length);
    // Two processes fit under PostgreSQL's default max_connections (100), with room for psql.
    expect(2 * DB_POOL_MAX_DEFAULT).toBeLessThan(100);
  });

  it('takes a value in 1..DB_POOL_MAX_LIMIT and refuses one outside', () => {
    expect(loadConfig({ ...base, AGORA_DB_POOL_MAX: '1' }).dbPoolMax).toBe(1);
    expect(loadConfig({ ...base, AGORA_DB_POOL_MAX: String(DB_POOL_MAX_LIMIT) }).dbPoolMax).toBe(DB_POOL_MAX_LIMIT);
    for (const bad of ['0', String(DB_POOL_MAX_LIMIT + 1), 'many']) {
      expect(() => loadConfig({ ...base, AGORA_DB_POOL_MAX: bad }), bad).toThrow(ConfigError);
    }
  });
});

describe('AGORA_NATS_STREAM_REPLICAS', () => {
  it('defaults to one copy (a single NATS server) and takes 1..5, the range JetStream accepts', () => {
    expect(loadConfig(base).natsStreamReplicas).toBe(1);
    expect(loadConfig({ ...base, AGORA_NATS_STREAM_REPLICAS: '3' }).natsStreamReplicas).toBe(3);
    for (const bad of ['0', '6', 'three']) {
      expect(() => loadConfig({ ...base, AGORA_NATS_STREAM_REPLICAS: bad }), bad).toThrow(ConfigError);
    }
  });
});
