import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, EnvReader } from '@agora/kernel';
import { loadConfig } from '../src/config.js';
import { requireInternalSecret, serviceAddress } from '../src/service-runner.js';

/** What `agora service` takes from the environment for zero-trust calls (docs/security.md). */

const base = { AGORA_DATA_DIR: mkdtempSync(join(tmpdir(), 'agora-trust-')), AGORA_JWT_SECRET: 'x'.repeat(48) };
const SECRET = 's'.repeat(48);

describe('where a service listens', () => {
  it('on loopback when HOST is a wildcard or unset, never on every interface', () => {
    for (const host of ['0.0.0.0', '::', '']) expect(serviceAddress(host, new EnvReader({})), host).toBe('127.0.0.1');
    expect(serviceAddress(loadConfig(base).host, new EnvReader({}))).toBe('127.0.0.1');
  });

  it('on HOST when it names an address, on AGORA_ADVERTISE_HOST when set, never on a wildcard advertised', () => {
    expect(serviceAddress('10.0.0.5', new EnvReader({}))).toBe('10.0.0.5');
    expect(serviceAddress('0.0.0.0', new EnvReader({ AGORA_ADVERTISE_HOST: '10.0.0.6' }))).toBe('10.0.0.6');
    for (const wildcard of ['0.0.0.0', '::']) {
      expect(() => serviceAddress('127.0.0.1', new EnvReader({ AGORA_ADVERTISE_HOST: wildcard })), wildcard).toThrow(ConfigError);
    }
  });
});

describe('AGORA_INTERNAL_SECRET', () => {
  it('is required by agora service, naming the variable', () => {
    const error = (() => {
      try {
        requireInternalSecret(loadConfig(base));
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('AGORA_INTERNAL_SECRET');
    expect(requireInternalSecret(loadConfig({ ...base, AGORA_INTERNAL_SECRET: SECRET }))).toBe(SECRET);
  });

  it('must be at least 32 bytes', () => {
    expect(() => loadConfig({ ...base, AGORA_INTERNAL_SECRET: 'short' })).toThrow(/AGORA_INTERNAL_SECRET/);
  });
});
