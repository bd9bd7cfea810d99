import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@agora/kernel';
import { defineSaga, type SagaLogEntry } from '@agora/platform';
import { createTestDatabase, postgresBackend } from '@agora/platform/testing';
import { FAULT_KILL_VARIABLE, assertKillPointExists, killAtObserver, matchesKillPoint, parseKillPoint, type KillPoint } from '../../apps/agora/src/faults.js';
import { agoraLauncher, launchArgs } from '@agora/cli/launch';
import { baseEnv } from './harness.js';

/** The test-only crash hook of the order service, plugged in by the composition root (apps/agora/src/faults.ts). */

const entry = (saga: string, step: string, phase: 'run' | 'compensate', status: 'STARTED' | 'WAITING' | 'DONE' | 'FAILED' | 'RETRYING', sagaStatus: SagaLogEntry['status'] = 'RUNNING'): SagaLogEntry => ({
  sagaId: '01890000-0000-7000-8000-000000000000',
  saga,
  status: sagaStatus,
  durable: status !== 'STARTED',
  step: { name: step, phase, status, attempt: 1 },
});

const postgres = await postgresBackend.available();

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('AGORA_FAULT_KILL_AT', () => {
  it('is off when unset or empty', () => {
    expect(parseKillPoint(undefined)).toBeUndefined();
    expect(parseKillPoint('')).toBeUndefined();
  });

  it('parses saga:step:phase:status and an optional saga status', () => {
    expect(parseKillPoint('checkout:reserveStock:run:STARTED')).toEqual({ saga: 'checkout', step: 'reserveStock', phase: 'run', status: 'STARTED', text: 'checkout:reserveStock:run:STARTED' });
    expect(parseKillPoint('checkout:authorizePayment:run:WAITING:RUNNING')).toMatchObject({ status: 'WAITING', sagaStatus: 'RUNNING' });
    expect(parseKillPoint('checkout:reserveStock:compensate:DONE')).toMatchObject({ phase: 'compensate', status: 'DONE' });
  });

  it.each([
    'checkout',
    'checkout:reserveStock:run',
    'checkout:reserveStock:run:STARTED:RUNNING:extra',
    'checkout:reserveStock:undo:STARTED',
    'checkout:reserveStock:run:BEGUN',
    'checkout:reserveStock:run:DONE:SLEEPING',
    '1checkout:reserveStock:run:DONE',
    'checkout::run:DONE',
  ])('refuses %j with a ConfigError naming the variable', (value) => {
    const err = configErrorOf(() => parseKillPoint(value));
    expect(err.variable).toBe(FAULT_KILL_VARIABLE);
    expect(err.message).toContain(FAULT_KILL_VARIABLE);
  });

  it('refuses a saga, step or compensation that does not exist (it would never fire)', () => {
    const saga = defineSaga<unknown>('checkout', [
      { name: 'reserveStock', run: async () => ({}), compensate: async () => undefined },
      { name: 'confirm', run: async () => ({}) },
    ]);
    const point = (text: string): KillPoint => parseKillPoint(text) as KillPoint;
    expect(() => assertKillPointExists(point('checkout:reserveStock:compensate:STARTED'), [saga])).not.toThrow();
    for (const text of ['refund:reserveStock:run:DONE', 'checkout:reserveStok:run:DONE', 'checkout:confirm:compensate:STARTED']) {
      expect(configErrorOf(() => assertKillPointExists(point(text), [saga])).variable).toBe(FAULT_KILL_VARIABLE);
    }
  });

  it('matches exactly one kind of log entry, and kills at the first match', () => {
    const point = parseKillPoint('checkout:authorizePayment:run:WAITING:WAITING') as KillPoint;
    expect(matchesKillPoint(point, entry('checkout', 'authorizePayment', 'run', 'WAITING', 'WAITING'))).toBe(true);
    expect(matchesKillPoint(point, entry('checkout', 'authorizePayment', 'run', 'WAITING', 'RUNNING'))).toBe(false);
    expect(matchesKillPoint(point, entry('checkout', 'authorizePayment', 'compensate', 'WAITING', 'WAITING'))).toBe(false);
    expect(matchesKillPoint(point, entry('cancelOrder', 'authorizePayment', 'run', 'WAITING', 'WAITING'))).toBe(false);
    expect(matchesKillPoint(point, { sagaId: 'x', saga: 'checkout', status: 'WAITING', durable: true })).toBe(false);

    const kills: string[] = [];
    const observe = killAtObserver(parseKillPoint('checkout:commitStock:run:DONE') as KillPoint, (p, e) => kills.push(`${p.text}@${e.step?.name}`));
    observe(entry('checkout', 'commitStock', 'run', 'STARTED'));
    observe(entry('checkout', 'capturePayment', 'run', 'DONE'));
    expect(kills).toEqual([]);
    observe(entry('checkout', 'commitStock', 'run', 'DONE'));
    expect(kills).toEqual(['checkout:commitStock:run:DONE@commitStock']);
  });

  describe.runIf(postgres)('at start (PostgreSQL)', () => {
    it.each(['checkout:reserveStock:run', 'checkout:nope:run:DONE'])('agora start with %j stops with a configuration error naming the variable', async (value) => {
      const database = await createTestDatabase('agora_fault_config');
      const dataDir = mkdtempSync(join(tmpdir(), 'agora-fault-config-'));
      try {
        const launcher = agoraLauncher();
        const child = spawn(launcher.node, launchArgs(launcher, ['start']), {
          env: { PATH: process.env.PATH ?? '', ...baseEnv(database.url, dataDir), PORT: '0', [FAULT_KILL_VARIABLE]: value },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
        expect(code, stderr).toBe(78);
        expect(stderr).toContain(`configuration error: ${FAULT_KILL_VARIABLE}`);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
        await database.drop();
      }
    }, 60_000);
  });
});
