/**
 * Output of the `pithos` command: lines on stdout and stderr with every registered secret masked,
 * and progress for long operations: a bar (or a spinner when the total is unknown) redrawn on a
 * terminal, occasional plain lines in a pipe or a cron log. Internal to the command.
 *
 * @module
 */
import type { CommandIO } from './args.ts';

/** The shortest value `redact` masks: shorter ones would garble ordinary words. */
const MIN_REDACTED = 6;
/** How often a terminal line is redrawn, and how often a plain progress line is written. */
const REDRAW_MS = 100;
const PLAIN_EVERY_MS = 5_000;
const BAR_WIDTH = 24;
const SPINNER = ['|', '/', '-', '\\'];

/** The command's IO on this process's streams. */
export function processIO(): CommandIO {
  // Output piped into `head` and the like: a closed pipe ends the command quietly, as in other
  // command-line tools, instead of an unhandled 'error' event and a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  const secrets: string[] = [];
  const mask = (text: string): string =>
    secrets.reduce((masked, secret) => masked.split(secret).join('***'), text);
  return {
    out: (line) => void process.stdout.write(`${mask(line)}\n`),
    err: (line) => void process.stderr.write(`${mask(line)}\n`),
    errRaw: (text) => void process.stderr.write(mask(text)),
    isTTY: process.stderr.isTTY === true,
    env: process.env,
    redact(secret) {
      if (secret.length >= MIN_REDACTED && !secrets.includes(secret)) secrets.push(secret);
    },
  };
}

/** Seconds since `start`, as "1.2 s". */
export function elapsed(start: number): string {
  return `${((performance.now() - start) / 1000).toFixed(1)} s`;
}

/** Progress of one long operation. */
export interface Progress {
  /** Reports how far it got: `fraction` in 0..1 when known, and a short detail. */
  update(fraction: number | undefined, detail: string): void;
  /** Removes the progress line (terminal) before the result is printed. */
  finish(): void;
}

function bar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  const percent = `${Math.floor(Math.min(1, fraction) * 100)}%`.padStart(4);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${percent}`;
}

/** Starts showing the progress of `label` ("pruning") on standard error. */
export function startProgress(io: CommandIO, label: string): Progress {
  const start = performance.now();
  let fraction: number | undefined;
  let detail = '';
  let frame = 0;
  let lastPlain = start;
  if (!io.isTTY) {
    return {
      update(next, text) {
        if (performance.now() - lastPlain < PLAIN_EVERY_MS) return;
        lastPlain = performance.now();
        const percent = next === undefined ? '' : ` ${Math.floor(next * 100)}%,`;
        io.err(`${label}:${percent} ${text} (${elapsed(start)})`);
      },
      finish() {},
    };
  }
  const draw = (): void => {
    const shown = fraction === undefined ? SPINNER[frame++ % SPINNER.length] : bar(fraction);
    const suffix = detail === '' ? '' : `  ${detail}`;
    io.errRaw(`\r\x1b[K${label} ${shown} ${elapsed(start)}${suffix}`);
  };
  const timer = setInterval(draw, REDRAW_MS);
  timer.unref();
  draw();
  return {
    update(next, text) {
      fraction = next;
      detail = text;
    },
    finish() {
      clearInterval(timer);
      io.errRaw('\r\x1b[K');
    },
  };
}

/** A byte count for people: "311592 bytes (304.3 KiB)". */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = '';
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return unit === '' ? `${bytes} bytes` : `${bytes} bytes (${value.toFixed(1)} ${unit})`;
}
