/** The progress display and output redaction of the `pithos` command, on a fake terminal. */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import type { CommandIO } from '../../src/cli/args.ts';
import { formatBytes, startProgress } from '../../src/cli/output.ts';

const CLEAR = '\r\x1b[K';

/** The last write, with the terminal's "back to column 0, clear the line" replaced by `<clear>`. */
function last(io: { written: string[] }): string {
  return (io.written.at(-1) ?? '').replace(CLEAR, '<clear>');
}

function fakeIO(isTTY: boolean): CommandIO & { written: string[] } {
  const written: string[] = [];
  return {
    written,
    out: (line) => written.push(`${line}\n`),
    err: (line) => written.push(`${line}\n`),
    errRaw: (text) => written.push(text),
    isTTY,
    env: {},
    redact() {},
  };
}

describe('progress', () => {
  it('draws a bar on a terminal, a spinner while the total is unknown, and clears it', () => {
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      const io = fakeIO(true);
      const progress = startProgress(io, 'pruning');
      assert.match(last(io), /^<clear>pruning \| \d+\.\d s$/);
      progress.update(0.5, '10 files scanned, 2 removed');
      mock.timers.tick(100);
      assert.match(
        last(io),
        /^<clear>pruning \[#{12}\.{12}\] {2}50% \d+\.\d s {2}10 files scanned, 2 removed$/,
      );
      progress.finish();
      assert.equal(last(io), '<clear>');
      const count = io.written.length;
      mock.timers.tick(1_000);
      assert.equal(io.written.length, count, 'drew after finish');
    } finally {
      mock.timers.reset();
    }
  });

  it('writes nothing on a pipe for a short operation', () => {
    const io = fakeIO(false);
    const progress = startProgress(io, 'pruning');
    progress.update(0.5, 'half');
    progress.finish();
    assert.deepEqual(io.written, []);
  });
});

describe('formatBytes', () => {
  it('keeps the exact count and adds a unit past 1 KiB', () => {
    assert.equal(formatBytes(0), '0 bytes');
    assert.equal(formatBytes(1023), '1023 bytes');
    assert.equal(formatBytes(311_592), '311592 bytes (304.3 KiB)');
    assert.equal(formatBytes(5 * 1024 ** 3), '5368709120 bytes (5.0 GiB)');
  });
});
