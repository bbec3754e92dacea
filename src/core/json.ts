/**
 * JSON-only session data: the compile-time shape and the run-time check. The original pithos
 * stored JSON and never code; values JSON cannot carry faithfully are refused, not dropped.
 *
 * @module
 */
import { DataError } from './errors.ts';

/** A JSON primitive. */
export type JSONPrimitive = string | number | boolean | null;

/** Any JSON value. */
export type JSONValue = JSONPrimitive | JSONValue[] | { [key: string]: JSONValue | undefined };

/**
 * `T` with every part that JSON cannot carry replaced by `never`. A type `T` is JSON-compatible
 * when `T extends JSONShape<T>`: functions, symbols, bigints, `Date`, `Map`, `Set`, class
 * instances with methods and `undefined` inside arrays all fail that test.
 */
export type JSONShape<T> = T extends JSONPrimitive
  ? T
  : T extends
        | bigint
        | symbol
        | ((...args: never[]) => unknown)
        | Date
        | Map<unknown, unknown>
        | Set<unknown>
    ? never
    : T extends readonly (infer Item)[]
      ? readonly JSONShape<Item>[]
      : T extends object
        ? { [K in keyof T]: JSONShape<T[K]> }
        : never;

/**
 * Resolves to `{}` when `Data` is JSON-compatible, and otherwise to a required property whose
 * name explains the problem, so that `createSessionManager<Data>()` does not compile.
 */
export type JSONOnly<Data> = [Data] extends [Record<string, JSONValue>]
  ? unknown
  : [Data] extends [JSONShape<Data>]
    ? unknown
    : {
        'session data must be JSON: no functions, symbols, bigints, Dates, Maps, Sets or class instances': never;
      };

/** The most nesting accepted in session data. */
export const MAX_DEPTH = 64;

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'bigint') return 'a BigInt';
  const name = (value as object).constructor?.name;
  return name ? `a ${name}` : 'an object without a plain prototype';
}

function refuse(value: unknown, path: string, why = 'JSON cannot carry it faithfully'): never {
  throw new DataError(
    'DATA_NOT_JSON',
    `session data at ${path || '(root)'} is ${describe(value)}: ${why}`,
    path,
  );
}

function checkObject(value: object, path: string, depth: number, parents: object[]): void {
  if (depth > MAX_DEPTH) refuse(value, path, `nesting deeper than ${MAX_DEPTH} levels`);
  if (parents.includes(value)) refuse(value, path, 'it contains a cycle');
  parents.push(value);
  // JSON.stringify skips symbol keys without a word: refuse them rather than lose them.
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (Object.prototype.propertyIsEnumerable.call(value, symbol)) {
      refuse(value, path, `JSON cannot hold its symbol key ${symbol.toString()}`);
    }
  }
  if (Array.isArray(value)) {
    // A subclass comes back as a plain array, without its methods.
    if (Object.getPrototypeOf(value) !== Array.prototype) refuse(value, path);
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (item === undefined)
        refuse(item, `${path}[${i}]`, 'arrays cannot hold undefined or holes');
      checkValue(item, `${path}[${i}]`, depth + 1, parents);
    }
    // Every index holds a value (checked above), so more keys than items are named properties,
    // which JSON.stringify leaves out of an array.
    if (Object.keys(value).length !== value.length) {
      refuse(value, path, 'JSON keeps only the items of an array, not its named properties');
    }
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) refuse(value, path);
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      // An undefined property is left out, as JSON.stringify does: reading it back gives undefined.
      if (item !== undefined) checkValue(item, path ? `${path}.${key}` : key, depth + 1, parents);
    }
  }
  parents.pop();
}

function checkValue(value: unknown, path: string, depth: number, parents: object[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) refuse(value, path, 'JSON has no NaN or Infinity');
      return;
    case 'object':
      if (value === null) return;
      if (value instanceof Date) {
        // Dates are stored as ISO-8601 strings, as the original pithos stored datetimes.
        if (Number.isNaN(value.getTime())) refuse(value, path, 'it is an invalid date');
        return;
      }
      checkObject(value, path, depth, parents);
      return;
    default:
      refuse(value, path);
  }
}

/**
 * Throws a `DataError` (code `DATA_NOT_JSON`) naming the path of the first part of `value` that
 * JSON cannot carry faithfully.
 */
export function assertJSON(value: unknown, path: string): void {
  if (value === undefined) refuse(value, path, 'use delete() to remove a key');
  // Objects need the list of their parents (for cycles); primitives, the common case, do not.
  checkValue(value, path, 0, typeof value === 'object' && value !== null ? [] : NO_PARENTS);
}

const NO_PARENTS: object[] = [];
