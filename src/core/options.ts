/**
 * Manager options: what can be configured, the defaults, and the checks made at construction.
 *
 * @module
 */
import {
  type CookieOptions,
  type ResolvedCookieOptions,
  resolveCookieOptions,
} from '../cookie/options.ts';
import type { CryptoChoice } from './crypto.ts';
import { ConfigError } from './errors.ts';
import type { Logger } from './events.ts';
import type { Secret } from './keyring.ts';
import type { Store } from './store.ts';

/** IP binding with a prefix length per address family. */
export interface IPBindingOptions {
  /** Leading bits of an IPv4 address that must match. Default 32 (the exact address). */
  ipv4Prefix?: number;
  /** Leading bits of an IPv6 address that must match. Default 64 (the client's network). */
  ipv6Prefix?: number;
}

/** Options of `createSessionManager`. */
export interface SessionManagerOptions {
  /** Where sealed records live, e.g. `memoryStore()`. */
  store: Store;
  /** The server secret (at least 32 random bytes). Give this or `secrets`. */
  secret?: Secret | undefined;
  /** Server secrets for rotation: the first seals, all open. Give this or `secret`. */
  secrets?: readonly (Secret | undefined)[];
  /** The session cookie; secure defaults (see `CookieOptions`). */
  cookie?: CookieOptions;
  /** Seconds without a write after which a session expires (sliding). Default 86 400 (one day). */
  idleTimeout?: number;
  /** Seconds after creation after which a session expires, never extended. Default 2 592 000 (30 days). */
  absoluteTimeout?: number;
  /**
   * Seconds between writes that only refresh the idle expiry of an unchanged session, and between
   * two sendings of the unchanged cookie of a changed one. Default 60, or half the idle timeout
   * when that is shorter. Must be shorter than `idleTimeout`.
   */
  touchInterval?: number;
  /** Largest JSON payload (data and metadata) a session may store, in bytes. Default 65 536. */
  maxDataBytes?: number;
  /** Bind sessions to the client address (the original's `ip_bound`). Default `false`. */
  bindIP?: boolean | IPBindingOptions;
  /** Milliseconds since the epoch; inject one in tests. Default `Date.now`. */
  clock?: () => number;
  /** Receives debug lines for every event and errors of event listeners. Never anything secret. */
  logger?: Logger;
  /** `auto` (default): libsodium when sodium-native loads, else @noble. `native` or `portable` to force one. */
  crypto?: CryptoChoice;
  /** Compare-and-set attempts a commit makes under contention before failing. Each failed attempt means another request's write landed, so contention always makes progress. Default 100. */
  maxCommitAttempts?: number;
}

/** Options with defaults applied. Internal. */
export interface ResolvedOptions {
  cookie: ResolvedCookieOptions;
  idleTimeout: number;
  absoluteTimeoutMs: number;
  touchIntervalMs: number;
  maxDataBytes: number;
  binding: { ipv4: number; ipv6: number } | undefined;
  clock: () => number;
  maxCommitAttempts: number;
}

/** The longest timeout accepted, in seconds: 100 years (longer ones overflow the sealed times). */
const MAX_SECONDS = 100 * 365.25 * 86_400;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`${name} must be a positive number of seconds, got ${String(value)}`);
  }
  if (value > MAX_SECONDS) {
    throw new ConfigError(`${name} must be at most ${MAX_SECONDS} seconds (100 years)`);
  }
  return value;
}

/** A whole number of at least 1 (a count, a size in bytes). */
function whole(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(`${name} must be a whole number of at least 1, got ${String(value)}`);
  }
  return value;
}

function prefix(name: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new ConfigError(`bindIP.${name} must be a whole number from 0 to ${max}`);
  }
  return value;
}

function resolveBinding(bindIP: SessionManagerOptions['bindIP']): ResolvedOptions['binding'] {
  // `null`, as from a JSON configuration, means the default (off), as for the cookie options.
  if (bindIP === undefined || bindIP === null || bindIP === false) return undefined;
  if (bindIP !== true && (typeof bindIP !== 'object' || Array.isArray(bindIP))) {
    throw new ConfigError(
      'bindIP must be true, false or { ipv4Prefix, ipv6Prefix } (a string such as "false" is not a boolean)',
    );
  }
  const options = bindIP === true ? {} : bindIP;
  return {
    ipv4: prefix('ipv4Prefix', options.ipv4Prefix, 32, 32),
    ipv6: prefix('ipv6Prefix', options.ipv6Prefix, 64, 128),
  };
}

const CRYPTO_CHOICES: readonly unknown[] = ['auto', 'native', 'portable'];

/** Checks the options the manager itself only hands on (`crypto`, `logger`), and `clock`. */
function checkOthers(options: SessionManagerOptions): void {
  // `null`, as from a JSON configuration, means the default here, as for `bindIP` and `cookie`.
  if (options.crypto != null && !CRYPTO_CHOICES.includes(options.crypto)) {
    throw new ConfigError("crypto must be 'auto', 'native' or 'portable'");
  }
  for (const name of ['clock', 'logger'] as const) {
    const value = options[name];
    if (value != null && typeof value !== 'function') {
      throw new ConfigError(
        name === 'clock'
          ? 'clock must be a function returning milliseconds since the epoch'
          : 'logger must be a function (level, message, fields)',
      );
    }
  }
}

/** Applies defaults and checks every option; throws `ConfigError` with a fix. */
export function resolveOptions(options: SessionManagerOptions): ResolvedOptions {
  checkOthers(options);
  const store = options.store as Partial<Store> | undefined;
  if (
    !store ||
    typeof store.get !== 'function' ||
    typeof store.set !== 'function' ||
    typeof store.delete !== 'function'
  ) {
    throw new ConfigError(
      '`store` is required and must have get, set and delete (e.g. memoryStore())',
    );
  }
  const idleTimeout = positive('idleTimeout', options.idleTimeout, 86_400);
  const absoluteTimeout = positive('absoluteTimeout', options.absoluteTimeout, 30 * 86_400);
  const touchInterval = positive(
    'touchInterval',
    options.touchInterval,
    Math.min(60, idleTimeout / 2),
  );
  if (touchInterval >= idleTimeout) {
    throw new ConfigError(
      'touchInterval must be shorter than idleTimeout, or sessions would expire between refreshes',
    );
  }
  return {
    cookie: resolveCookieOptions(options.cookie),
    idleTimeout,
    absoluteTimeoutMs: absoluteTimeout * 1000,
    touchIntervalMs: touchInterval * 1000,
    maxDataBytes: whole('maxDataBytes', options.maxDataBytes, 65_536),
    binding: resolveBinding(options.bindIP),
    clock: options.clock ?? Date.now,
    maxCommitAttempts: whole('maxCommitAttempts', options.maxCommitAttempts, 100),
  };
}
