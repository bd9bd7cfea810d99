import { describe, expect, it } from 'vitest';
import { ConfigError } from '@agora/kernel';
import { parseDiscoveryKeyPrefix } from '@agora/platform';
import { renderNginxConfig } from '../src/nginx.js';

describe('agora nginx-config', () => {
  it('fills the template: listen address, one upstream server per gateway with passive health checks', () => {
    const config = renderNginxConfig({ listen: '127.0.0.1:8088', gateways: ['8080', '10.0.0.7:8081'] });
    expect(config).toContain('listen 127.0.0.1:8088;');
    expect(config).toContain('    server 127.0.0.1:8080 max_fails=3 fail_timeout=5s;\n    server 10.0.0.7:8081 max_fails=3 fail_timeout=5s;');
    expect(config).toMatch(/upstream agora_gateways \{\s+least_conn;/);
    // Only directives are filled in; the comments keep naming the placeholders.
    expect(config.split('\n').filter((line) => !line.trimStart().startsWith('#')).join('\n')).not.toMatch(/\{\{/);
    expect(config).toContain('replace {{LISTEN}} and {{GATEWAYS}}');
  });

  it('refuses what is not a port or host:port, and an empty gateway list', () => {
    expect(() => renderNginxConfig({ listen: '8088', gateways: [] })).toThrow(ConfigError);
    expect(() => renderNginxConfig({ listen: '8088', gateways: ['8080;evil'] })).toThrow(/--gateways/);
    expect(() => renderNginxConfig({ listen: 'everywhere', gateways: ['8080'] })).toThrow(/--listen/);
    expect(() => renderNginxConfig({ listen: '8088', gateways: ['70000'] })).toThrow(/--gateways/);
  });
});

describe('AGORA_DISCOVERY_PREFIX', () => {
  it('defaults to agora:discovery and refuses characters that would break key and channel names', () => {
    expect(parseDiscoveryKeyPrefix({})).toBe('agora:discovery');
    expect(parseDiscoveryKeyPrefix({ AGORA_DISCOVERY_PREFIX: 'staging:discovery' })).toBe('staging:discovery');
    expect(() => parseDiscoveryKeyPrefix({ AGORA_DISCOVERY_PREFIX: 'has space' })).toThrow(/AGORA_DISCOVERY_PREFIX/);
    expect(() => parseDiscoveryKeyPrefix({ AGORA_DISCOVERY_PREFIX: 'a*' })).toThrow(/AGORA_DISCOVERY_PREFIX/);
  });
});
