/** Small byte helpers shared by the core (no Node APIs). @module */

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A string from UTF-8 bytes; throws on invalid UTF-8. */
export function fromUTF8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Constant-time equality of two byte arrays (length is not secret). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

const HEX_DIGITS = utf8('0123456789abcdef');
/**
 * Character codes of the hex text being built, by its length, reused between (synchronous) calls:
 * the core's hex strings come in two lengths (64 and 32 digits).
 */
const hexCodes = new Map<number, number[]>();

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  const length = bytes.length * 2;
  if (length > 1024) return toHexLong(bytes);
  let codes = hexCodes.get(length);
  if (codes === undefined) {
    codes = new Array<number>(length).fill(0);
    if (hexCodes.size < 8) hexCodes.set(length, codes);
  }
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    codes[2 * i] = HEX_DIGITS[byte >> 4] as number;
    codes[2 * i + 1] = HEX_DIGITS[byte & 15] as number;
  }
  // One flat string from the codes in one call: cheaper than concatenating pieces (which leaves
  // a rope to flatten when the string is hashed as a Map key) or decoding through a TextDecoder.
  return String.fromCharCode.apply(null, codes);
}

/** Hex of a long input, in pieces (`apply` takes a bounded number of arguments). */
function toHexLong(bytes: Uint8Array): string {
  let out = '';
  for (let offset = 0; offset < bytes.length; offset += 512) {
    out += toHex(bytes.subarray(offset, offset + 512));
  }
  return out;
}

/** Bytes of lower-case or upper-case hex; `undefined` for anything else. */
export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** By byte: a base64url digit's value, or -1. */
const B64URL_INDEX = new Int16Array(256).fill(-1);
for (let i = 0; i < B64URL.length; i++) B64URL_INDEX[B64URL.charCodeAt(i)] = i;

/** Unpadded base64url of bytes whose length is a multiple of 3. */
export function toBase64URL(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i + 2 < bytes.length; i += 3) {
    const n =
      ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out += `${B64URL[n >> 18]}${B64URL[(n >> 12) & 63]}${B64URL[(n >> 6) & 63]}${B64URL[n & 63]}`;
  }
  return out;
}

/** The text being decoded, as bytes: one copy in one call, then the loop reads plain bytes. */
let base64Scratch = new Uint8Array(128);

/**
 * Bytes from unpadded base64url whose length is a multiple of 4, or `undefined` for any other
 * input. Never throws.
 */
export function fromBase64URL(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  // Reading the text as UTF-8 bytes in one call is cheaper than charCodeAt() per character on a
  // string sliced out of a header (105 against 163 ns for a token here). Only ASCII text gives as
  // many bytes as characters.
  if (base64Scratch.length < text.length * 3) base64Scratch = new Uint8Array(text.length * 3);
  const bytes = base64Scratch;
  const { written } = encoder.encodeInto(text, bytes);
  if (written !== text.length) {
    bytes.fill(0, 0, written);
    return undefined;
  }
  const out = new Uint8Array((text.length / 4) * 3);
  let invalid = 0;
  for (let i = 0, o = 0; i < written; i += 4, o += 3) {
    const a = B64URL_INDEX[bytes[i] as number] as number;
    const b = B64URL_INDEX[bytes[i + 1] as number] as number;
    const c = B64URL_INDEX[bytes[i + 2] as number] as number;
    const d = B64URL_INDEX[bytes[i + 3] as number] as number;
    // The text is a token, a secret: no copy of it stays in the scratch buffer.
    bytes[i] = 0;
    bytes[i + 1] = 0;
    bytes[i + 2] = 0;
    bytes[i + 3] = 0;
    // Invalid characters map to -1, which sets the sign bit of `invalid`.
    invalid |= a | b | c | d;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o] = n >> 16;
    out[o + 1] = (n >> 8) & 255;
    out[o + 2] = n & 255;
  }
  return invalid < 0 ? undefined : out;
}
