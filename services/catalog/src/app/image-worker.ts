/**
 * A worker thread's entry: decodes one upload and encodes each kept width, off the catalog's event
 * loop (a large JPEG takes seconds of CPU). Started by `image-processing.ts`, once per upload.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '@agora/kernel';
import type { catalog } from '@agora/contracts';
import { heightAt, widthsFor } from '../domain/image.js';
import { decodeImage, encodeWebpFile, resize } from './image-codec.js';

export interface ImageJob {
  bytes: Uint8Array;
  type: catalog.ProductImageType;
}

export type ImageJobResult =
  | { ok: true; width: number; height: number; files: { width: number; bytes: Uint8Array }[] }
  | { ok: false; code: AppError['code'] | undefined; message: string; errors: { path: string; message: string }[] | undefined };

async function run(job: ImageJob): Promise<ImageJobResult> {
  try {
    const pixels = await decodeImage(job.bytes, job.type);
    const files: { width: number; bytes: Uint8Array }[] = [];
    for (const width of widthsFor(pixels.width)) {
      files.push({ width, bytes: await encodeWebpFile(resize(pixels, width, heightAt(width, pixels.width, pixels.height))) });
    }
    return { ok: true, width: pixels.width, height: pixels.height, files };
  } catch (err) {
    if (err instanceof AppError) return { ok: false, code: err.code, message: err.message, errors: err.errors };
    return { ok: false, code: undefined, message: err instanceof Error ? err.message : String(err), errors: undefined };
  }
}

if (parentPort) {
  const port = parentPort;
  void run(workerData as ImageJob).then((result) => port.postMessage(result));
}
