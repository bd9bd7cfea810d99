import { Worker } from 'node:worker_threads';
import { AppError } from '@agora/kernel';
import type { catalog } from '@agora/contracts';
import type { ImageJobResult } from './image-worker.js';

/** Uploads processed at once per catalog process: each holds up to ~600 MB while it decodes (docs/catalog.md). */
export const IMAGE_JOBS_AT_ONCE = 1;
/** Uploads waiting for their turn; one more is refused with 503 and Retry-After. */
export const IMAGE_JOBS_WAITING_MAX = 4;
/** The longest one upload may take (the largest image takes seconds); then its worker is stopped. */
export const IMAGE_JOB_TIMEOUT_MS = 60_000;
const RETRY_AFTER_SECONDS = 5;

/**
 * The worker's compiled file: beside this one when it runs compiled, in the package's `dist` when it
 * runs from the TypeScript sources (tests): a worker thread does not inherit the loader that runs
 * them, and the test setup builds `dist` before the tests start.
 */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? '../../dist/src/app/image-worker.js' : './image-worker.js', import.meta.url);
/** The process's flags, less the condition that resolves packages to their TypeScript sources (the worker runs compiled code). */
const WORKER_EXEC_ARGV = process.execArgv.filter((arg, i, all) => !arg.includes('@agora/source') && !(arg === '--conditions' && all[i + 1] === '@agora/source') && !(arg === '-C' && all[i + 1] === '@agora/source'));

export interface ProcessedImage {
  width: number;
  height: number;
  files: { width: number; bytes: Uint8Array }[];
}

let running = 0;
const waiting: (() => void)[] = [];

/**
 * Decodes an upload whose header was checked and encodes its widths in a worker thread, so the
 * catalog keeps answering meanwhile. At most IMAGE_JOBS_AT_ONCE run; IMAGE_JOBS_WAITING_MAX wait.
 */
export async function processImage(bytes: Uint8Array, type: catalog.ProductImageType): Promise<ProcessedImage> {
  if (running >= IMAGE_JOBS_AT_ONCE) {
    if (waiting.length >= IMAGE_JOBS_WAITING_MAX) throw new AppError('UNAVAILABLE', 'Too many image uploads are being processed; try again shortly', { retryAfterSeconds: RETRY_AFTER_SECONDS });
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  running++;
  try {
    return await inWorker(bytes, type);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function inWorker(bytes: Uint8Array, type: catalog.ProductImageType): Promise<ProcessedImage> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: { bytes, type }, execArgv: WORKER_EXEC_ARGV });
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      outcome();
    };
    const timer = setTimeout(() => finish(() => reject(new AppError('UNAVAILABLE', `The image was not processed within ${IMAGE_JOB_TIMEOUT_MS} ms`, { retryAfterSeconds: RETRY_AFTER_SECONDS }))), IMAGE_JOB_TIMEOUT_MS);
    worker.once('message', (result: ImageJobResult) =>
      finish(() => {
        if (result.ok) resolve({ width: result.width, height: result.height, files: result.files });
        else if (result.code !== undefined) reject(new AppError(result.code, result.message, result.errors === undefined ? {} : { errors: result.errors }));
        else reject(new Error(`image worker: ${result.message}`));
      }),
    );
    worker.once('error', (err) => finish(() => reject(err)));
    worker.once('exit', (code) => finish(() => reject(new Error(`image worker exited with code ${code} before answering`))));
  });
}
