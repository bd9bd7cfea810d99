/**
 * Configuration comes from the environment only and is validated at start: a bad value stops
 * the process with a message naming the variable.
 */
export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

export interface IntOptions {
  min?: number;
  max?: number;
}

export class EnvReader {
  constructor(private readonly env: Env = process.env) {}

  string(name: string, fallback: string): string;
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    return raw;
  }

  required(name: string): string {
    const raw = this.string(name);
    if (raw === undefined) throw new ConfigError(name, 'is required');
    return raw;
  }

  int(name: string, fallback: number, options: IntOptions = {}): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `must be an integer, got "${raw}"`);
    const value = Number(raw);
    if (!Number.isSafeInteger(value)) throw new ConfigError(name, `is out of range: "${raw}"`);
    if (options.min !== undefined && value < options.min) throw new ConfigError(name, `must be >= ${options.min}, got ${value}`);
    if (options.max !== undefined && value > options.max) throw new ConfigError(name, `must be <= ${options.max}, got ${value}`);
    return value;
  }

  /**
   * A group of integer settings, each from its own variable (`names[key]`) within its bounds, its
   * default when unset: the one way every `*_FromEnv` reads a settings record.
   */
  ints<K extends string>(names: Readonly<Record<K, string>>, defaults: Readonly<Record<K, number>>, bounds: Readonly<Record<K, IntOptions>>): Record<K, number> {
    const settings = { ...defaults } as Record<K, number>;
    for (const key of Object.keys(defaults) as K[]) settings[key] = this.int(names[key], defaults[key], bounds[key]);
    return settings;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.string(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'on', 'yes'].includes(raw)) return true;
    if (['0', 'false', 'off', 'no'].includes(raw)) return false;
    throw new ConfigError(name, `must be on/off (or true/false, 1/0), got "${raw}"`);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
    return raw as T;
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new ConfigError(name, `is not a valid URL`);
    }
    if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
    return raw;
  }
}
