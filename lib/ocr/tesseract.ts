// Runs Debian's tesseract as a child process: the CPU work never shares an event loop with
// anything else, and the job's AbortSignal (shutdown, lease loss, timeout) kills it. The image's
// header dimensions are checked first (decompression bombs), and the process runs under an
// address-space limit (util-linux prlimit --as) with a minimal environment.
import { spawn } from 'node:child_process';
import { imageRefusal } from '../domain/documents/image-size.js';
import { PermanentError } from '../queue/errors.js';

export class OcrError extends Error {
  override name = 'OcrError';
}

/** The image may not be decoded (too many pixels, unreadable header): retrying cannot help. */
export class ImageRejectedError extends PermanentError {
  override name = 'ImageRejectedError';
}

/** Defaults of IMAGE_MAX_PIXELS and OCR_MEMORY_LIMIT_MB (lib/config.ts). */
export const DEFAULT_MAX_PIXELS = 40_000_000;
export const DEFAULT_MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024;

export interface OcrOptions {
  bin?: string;
  lang?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Refuse images with more pixels than this (summed over TIFF pages). */
  maxPixels?: number;
  /** The engine's address-space limit (RLIMIT_AS); beyond it its allocations fail and it exits. */
  memoryLimitBytes?: number;
}

/** Feeds the image on stdin and returns the recognized text from stdout. */
export function recognize(image: Buffer, opts: OcrOptions = {}): Promise<string> {
  const refusal = imageRefusal(image, opts.maxPixels ?? DEFAULT_MAX_PIXELS);
  if (refusal) return Promise.reject(new ImageRejectedError(`ocr refused: ${refusal}`));
  const signals = [opts.signal, opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined].filter((s): s is AbortSignal => !!s);
  const signal = signals.length ? AbortSignal.any(signals) : undefined;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new OcrError(`ocr aborted before start: ${String(signal.reason)}`));
    const limit = `--as=${opts.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES}`;
    const args = [limit, '--', opts.bin ?? '/usr/bin/tesseract', 'stdin', 'stdout', '-l', opts.lang ?? 'eng', '--psm', '3'];
    const proc = spawn('prlimit', args, {
      // A minimal environment: the engine inherits no setting of ours (MONGO_URI, secrets).
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', OMP_THREAD_LIMIT: '1' },
    });
    const out: Buffer[] = [];
    let err = '';
    const onAbort = () => proc.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    proc.stdout.on('data', (d: Buffer) => out.push(d));
    proc.stderr.on('data', (d: Buffer) => {
      if (err.length < 4000) err += d;
    });
    proc.stdin.on('error', () => {
      /* reported through the exit code */
    });
    proc.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new OcrError(`cannot run tesseract: ${e.message}`));
    });
    proc.once('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(new OcrError(`ocr aborted: ${String(signal.reason)}`));
      if (code !== 0) return reject(new OcrError(`tesseract exited with ${code ?? sig}: ${err.trim().slice(0, 500)}`));
      resolve(Buffer.concat(out).toString('utf8'));
    });
    proc.stdin.end(image);
  });
}
