// GridFS plumbing for applicant documents (bucket `documents`). GridFS writes cannot join a
// transaction, so callers store the file first and reference it in a transaction afterwards.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, ObjectId, type Db } from 'mongodb';
import type { Actor } from '../users/types.js';

/** GridFS `documents.files` metadata of an uploaded applicant document. */
export interface DocumentFileMeta {
  applicationId: string;
  contentType: 'image/png' | 'image/jpeg' | 'image/tiff';
  originalName: string;
  sha256: string;
  uploadedBy: Actor;
}

const DOCUMENTS_BUCKET = 'documents';
const bucket = (db: Db) => new GridFSBucket(db, { bucketName: DOCUMENTS_BUCKET });
const EXT = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/tiff': 'tif' } as const;

export interface StoredFile {
  id: ObjectId;
  size: number;
  sha256: string;
}

export async function storeFile(db: Db, data: Buffer, meta: Omit<DocumentFileMeta, 'sha256'>): Promise<StoredFile> {
  const sha256 = createHash('sha256').update(data).digest('hex');
  const id = new ObjectId();
  const upload = bucket(db).openUploadStreamWithId(id, `${meta.applicationId}/${id.toHexString()}.${EXT[meta.contentType]}`, {
    metadata: { ...meta, sha256 } satisfies DocumentFileMeta,
  });
  await pipeline(Readable.from([data]), upload);
  return { id, size: data.length, sha256 };
}

/** Reads a whole file (documents are bounded by UPLOAD_LIMIT_BYTES); null when it does not exist. */
export async function readFile(db: Db, id: ObjectId, maxBytes = 64 * 1024 * 1024): Promise<Buffer | null> {
  const file = await db.collection(`${DOCUMENTS_BUCKET}.files`).findOne({ _id: id }, { projection: { length: 1 } });
  if (!file) return null;
  if (Number(file.length) > maxBytes) throw new Error(`document ${id.toHexString()} is larger than ${maxBytes} bytes`);
  const parts: Buffer[] = [];
  for await (const chunk of bucket(db).openDownloadStream(id)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Best-effort removal of a file no application refers to (after a failed transaction). */
export async function deleteFile(db: Db, id: ObjectId): Promise<void> {
  await bucket(db)
    .delete(id)
    .catch(() => {});
}
