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
// WHATWG's latin1 is windows-1252, which maps ASCII bytes to the same characters: decoding ASCII
// digits with it builds one flat string faster than joining or concatenating pieces.
const ascii = new TextDecoder('latin1');
let hexScratch = new Uint8Array(128);

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  if (hexScratch.length < bytes.length * 2) hexScratch = new Uint8Array(bytes.length * 2);
  const out = hexScratch;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    out[2 * i] = HEX_DIGITS[byte >> 4] as number;
    out[2 * i + 1] = HEX_DIGITS[byte & 15] as number;
  }
  return ascii.decode(out.subarray(0, bytes.length * 2));
}

/** Bytes of lower-case or upper-case hex; `undefined` for anything else. */
export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64URL_INDEX = new Int16Array(128).fill(-1);
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

/**
 * Bytes from unpadded base64url whose length is a multiple of 4, or `undefined` for any other
 * input. Never throws.
 */
export function fromBase64URL(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const out = new Uint8Array((text.length / 4) * 3);
  for (let i = 0, o = 0; i < text.length; i += 4, o += 3) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const code = text.charCodeAt(i + j);
      const value = code < 128 ? (B64URL_INDEX[code] as number) : -1;
      if (value < 0) return undefined;
      n = (n << 6) | value;
    }
    out[o] = n >> 16;
    out[o + 1] = (n >> 8) & 255;
    out[o + 2] = n & 255;
  }
  return out;
}
