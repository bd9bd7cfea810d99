import { useId, useState, type FormEvent } from 'react';
import { ApiError, api } from '../api';
import { announce } from '../announce';
import type { Product } from '../types';
import { Alert, ErrorAlert } from './Alert';
import { TextField } from './Field';
import { ProductImage } from './ProductImage';

/** The types the API keeps (it stores every upload as WebP in several widths). */
const ACCEPTED = ['image/png', 'image/jpeg', 'image/webp'];
/** The API's limit (`productImageBytes`, 4 MiB), checked here first so a large file is not sent for nothing. */
const MAX_IMAGE_BYTES = 4 * 1024 * 1024;

/** The file's bytes in base64, as the upload's `data` takes them. */
function base64Of(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error ?? new Error('The file could not be read'));
    reader.readAsDataURL(file);
  });
}

/** An admin's image upload for one product: the current picture, a file, its alt text, and Upload. */
export function ImageUpload({ product: initial }: { product: Product }) {
  const fileId = useId();
  // The product as the last upload answered it (the form's draft is left as the admin has it).
  const [product, setProduct] = useState(initial);
  const [file, setFile] = useState<File | undefined>(undefined);
  const [alt, setAlt] = useState('');
  const [fieldError, setFieldError] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  /** Changed after an upload, so the file field starts empty again. */
  const [inputKey, setInputKey] = useState(0);

  const choose = (chosen: File | undefined) => {
    setFile(chosen);
    setDone(false);
    setError(undefined);
    if (chosen && !ACCEPTED.includes(chosen.type)) setFieldError('Choose a PNG, JPEG or WebP image.');
    else if (chosen && chosen.size > MAX_IMAGE_BYTES) setFieldError(`This file is ${(chosen.size / 1024 / 1024).toFixed(1)} MB; an image may be at most 4 MB.`);
    else setFieldError(undefined);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) {
      setFieldError('Choose an image file first.');
      return;
    }
    if (fieldError || busy) return;
    setBusy(true);
    setError(undefined);
    try {
      const body = { contentType: file.type, data: await base64Of(file), ...(alt.trim() ? { alt: alt.trim() } : {}) };
      const updated = await api.put<Product>(`/api/v1/admin/products/${encodeURIComponent(product.id)}/image`, body);
      setProduct(updated);
      setDone(true);
      setFile(undefined);
      setInputKey((k) => k + 1);
      announce('Image uploaded.');
    } catch (err) {
      const fields = err instanceof ApiError ? err.fieldErrors() : {};
      setFieldError(fields.data ?? fields.contentType);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="image-upload" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
      <div className="image-upload-current">
        <ProductImage product={product} variant="card" />
        <p className="muted small">{product.image.generated ? 'A picture drawn from the name and category: no image uploaded yet.' : 'The uploaded image.'}</p>
      </div>
      <div className="image-upload-fields">
        <div className={`field${fieldError ? ' field-invalid' : ''}`}>
          <label htmlFor={fileId}>Image file</label>
          <input
            key={inputKey}
            id={fileId}
            type="file"
            accept={ACCEPTED.join(',')}
            onChange={(e) => choose(e.target.files?.[0])}
            aria-invalid={fieldError ? true : undefined}
            aria-describedby={`${fileId}-hint${fieldError ? ` ${fileId}-error` : ''}`}
          />
          <p className="field-hint" id={`${fileId}-hint`}>
            PNG, JPEG or WebP, at most 4 MB. It is kept in widths up to 1280 pixels.
          </p>
          {fieldError ? (
            <p className="field-error" id={`${fileId}-error`}>
              {fieldError}
            </p>
          ) : null}
        </div>
        <TextField label="Alt text" value={alt} onChange={(e) => setAlt(e.target.value)} hint="What the image shows, for people who cannot see it. Empty: the product name." maxLength={300} />
        <button type="submit" className="button button-secondary" disabled={busy}>
          {busy ? 'Uploading…' : 'Upload image'}
        </button>
        {done ? <Alert kind="success" title="Image uploaded." /> : null}
        <ErrorAlert error={fieldError ? undefined : error} title="The image was not uploaded." />
      </div>
    </form>
  );
}
