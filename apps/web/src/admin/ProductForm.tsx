import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, NETWORK_ERROR, api, newIdempotencyKey } from '../api';
import { announce } from '../announce';
import { categoryLabel, moneyInputOf, parseMoneyInput } from '../format';
import type { Params } from '../match';
import { Link, navigate, useSearchParams } from '../router';
import type { CategorySummary, Product } from '../types';
import { Alert, ErrorAlert, Loading } from '../ui/Alert';
import { SelectField, TextAreaField, TextField } from '../ui/Field';
import { ImageUpload } from '../ui/ImageUpload';
import { PageTitle } from '../ui/PageTitle';
import { useAsync } from '../useAsync';
import { StockEditor } from './StockEditor';

const MAX_VARIANTS = 50;
const CURRENCY = 'USD';

interface VariantDraft {
  key: number;
  sku: string;
  title: string;
  price: string;
  currency: string;
}

interface Draft {
  name: string;
  description: string;
  category: string;
  variants: VariantDraft[];
}

let nextKey = 1;
const emptyVariant = (): VariantDraft => ({ key: nextKey++, sku: '', title: '', price: '', currency: CURRENCY });
const EMPTY: Draft = { name: '', description: '', category: '', variants: [] };
/** The category picker's choice that opens the field for a new category. */
const NEW_CATEGORY = '\u0000new';

function draftOf(product: Product): Draft {
  return {
    name: product.name,
    description: product.description,
    category: product.category,
    variants: product.variants.map((v) => ({ key: nextKey++, sku: v.sku, title: v.title, price: moneyInputOf(v.price.amount), currency: v.price.currency })),
  };
}

/** Client-side checks that say the same as the API would, before a round trip. */
function validate(draft: Draft): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!draft.name.trim()) errors.name = 'Enter a product name.';
  if (!draft.category) errors.category = 'Choose a category, or enter a new one.';
  else if (draft.category.length > 64) errors.category = 'Use at most 64 characters.';
  else if (!/^[a-z0-9][a-z0-9-]*$/.test(draft.category)) errors.category = 'Use lowercase letters, digits and dashes, starting with a letter or digit, e.g. home-kitchen.';
  if (draft.variants.length === 0) errors.variants = 'Add at least one variant.';
  const seen = new Set<string>();
  draft.variants.forEach((v, i) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v.sku)) errors[`variants[${i}].sku`] = 'Letters, digits, dot, dash or underscore; starts with a letter or digit.';
    else if (seen.has(v.sku)) errors[`variants[${i}].sku`] = 'Each variant needs its own SKU.';
    seen.add(v.sku);
    if (!v.title.trim()) errors[`variants[${i}].title`] = 'Enter a title, e.g. Standard.';
    if (parseMoneyInput(v.price) === undefined) errors[`variants[${i}].price.amount`] = 'Enter a price like 19.99.';
  });
  return errors;
}

function bodyOf(draft: Draft) {
  return {
    name: draft.name.trim(),
    description: draft.description.trim(),
    category: draft.category,
    variants: draft.variants.map((v) => ({ sku: v.sku.trim(), title: v.title.trim(), price: { amount: parseMoneyInput(v.price) ?? 0, currency: v.currency } })),
  };
}

function variantError(errors: Record<string, string>, i: number, field: 'sku' | 'title' | 'price'): string | undefined {
  if (field !== 'price') return errors[`variants[${i}].${field}`];
  return errors[`variants[${i}].price.amount`] ?? errors[`variants[${i}].price.currency`] ?? errors[`variants[${i}].price`];
}

export function AdminProductPage({ params }: { params: Params }) {
  const id = params.id;
  const isNew = id === undefined;
  const created = useSearchParams().get('created') === '1';
  const existing = useAsync((signal) => (id ? api.get<Product>(`/api/v1/products/${encodeURIComponent(id)}`, { signal }) : Promise.resolve(undefined)), [id]);
  const categories = useAsync((signal) => api.get<{ items: CategorySummary[] }>('/api/v1/categories', { signal }), []);
  const [draft, setDraft] = useState<Draft>({ ...EMPTY, variants: [emptyVariant()] });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [attemptKey, setAttemptKey] = useState<string | undefined>(undefined);
  /** The admin was told these variants would be free; saving again with them unchanged confirms it. */
  const [freeWarned, setFreeWarned] = useState(false);
  /** The admin chose "New category…": the category is typed, not picked. */
  const [typingCategory, setTypingCategory] = useState(false);

  useEffect(() => {
    if (existing.data) setDraft(draftOf(existing.data));
  }, [existing.data]);

  const update = (patch: Partial<Draft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    setSaved(false);
    // A new category answers the old one's error: it is checked again on saving.
    if (patch.category !== undefined) setErrors(({ category: _answered, ...rest }) => rest);
  };
  const updateVariant = (index: number, patch: Partial<VariantDraft>) => {
    setDraft((d) => ({ ...d, variants: d.variants.map((v, i) => (i === index ? { ...v, ...patch } : v)) }));
    setSaved(false);
    if (patch.price !== undefined) setFreeWarned(false);
  };
  const free = draft.variants.flatMap((v, i) => (parseMoneyInput(v.price) === 0 ? [i] : []));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const problems = validate(draft);
    setErrors(problems);
    setError(undefined);
    setSaved(false);
    if (Object.keys(problems).length > 0) {
      announce(`${Object.keys(problems).length} fields need attention.`);
      return;
    }
    // A price of 0 is allowed (a free sample) but is far more often a slip: it takes a second save.
    if (free.length > 0 && !freeWarned) {
      setFreeWarned(true);
      announce(`${free.length === 1 ? 'A variant is' : `${free.length} variants are`} priced at 0.00. Save again to confirm, or enter a price.`);
      return;
    }
    setBusy(true);
    try {
      if (isNew) {
        const key = attemptKey ?? newIdempotencyKey();
        setAttemptKey(key);
        const { body } = await api.post<Product>('/api/v1/admin/products', bodyOf(draft), { idempotencyKey: key });
        setAttemptKey(undefined);
        announce(`Product ${body.name} created.`);
        navigate(`/admin/products/${body.id}?created=1`);
        return;
      }
      const product = await api.patch<Product>(`/api/v1/admin/products/${encodeURIComponent(id)}`, bodyOf(draft));
      existing.setData(product);
      setSaved(true);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === NETWORK_ERROR)) setAttemptKey(undefined);
      if (err instanceof ApiError) setErrors(err.fieldErrors());
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (!isNew && !existing.data) {
    return (
      <>
        <PageTitle title="Product · Admin">Edit product</PageTitle>
        {existing.loading ? <Loading label="Loading the product…" /> : <ErrorAlert error={existing.error} />}
      </>
    );
  }

  const shownFields = ['name', 'description', 'category', 'variants', ...draft.variants.flatMap((_, i) => [`variants[${i}].sku`, `variants[${i}].title`, `variants[${i}].price.amount`, `variants[${i}].price.currency`, `variants[${i}].price`])];
  const title = isNew ? 'New product' : `Edit ${existing.data?.name ?? 'product'}`;
  return (
    <>
      <p className="small">
        <Link to="/admin/products">← All products</Link>
      </p>
      <PageTitle title={`${title} · Admin`}>{title}</PageTitle>
      {created ? <Alert kind="success" title="Product created. Set its stock below: new SKUs start with none." /> : null}
      {saved ? <Alert kind="success" title="Changes saved." /> : null}
      {freeWarned && free.length > 0 ? (
        <Alert kind="warning" title={`${free.length === 1 ? 'A variant is' : `${free.length} variants are`} priced at 0.00: shoppers would get ${free.length === 1 ? 'it' : 'them'} for free.`}>
          <p>Enter a price, or press “{isNew ? 'Create product' : 'Save changes'}” again to confirm.</p>
        </Alert>
      ) : null}
      <ErrorAlert error={error} shownFields={shownFields} />

      <form className="product-form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <TextField label="Name" value={draft.name} onChange={(e) => update({ name: e.target.value })} error={errors.name} required maxLength={200} />
        <TextAreaField label="Description" value={draft.description} onChange={(e) => update({ description: e.target.value })} error={errors.description} rows={3} maxLength={5000} />
        {(() => {
          const known = categories.data?.items ?? [];
          const isKnown = known.some((c) => c.category === draft.category);
          // A product's own category is listed even before the list arrives (or when it is new).
          const typing = typingCategory || (categories.data !== undefined && draft.category !== '' && !isKnown && isNew);
          const options = isKnown || !draft.category || typing ? known : [...known, { category: draft.category, productCount: 0 }];
          return (
            <>
              <SelectField
                label="Category"
                value={typing ? NEW_CATEGORY : draft.category}
                onChange={(e) => {
                  if (e.target.value === NEW_CATEGORY) {
                    setTypingCategory(true);
                    update({ category: '' });
                  } else {
                    setTypingCategory(false);
                    update({ category: e.target.value });
                  }
                }}
                error={typing ? undefined : errors.category}
                required
              >
                <option value="">Choose a category…</option>
                {options.map((c) => (
                  <option key={c.category} value={c.category}>
                    {categoryLabel(c.category)} ({c.category})
                  </option>
                ))}
                <option value={NEW_CATEGORY}>New category…</option>
              </SelectField>
              {typing ? (
                <TextField
                  label="New category"
                  value={draft.category}
                  onChange={(e) => update({ category: e.target.value.toLowerCase() })}
                  error={errors.category}
                  hint="Lowercase letters, digits and dashes, e.g. home-kitchen."
                  required
                  maxLength={64}
                  autoComplete="off"
                  autoFocus
                />
              ) : null}
            </>
          );
        })()}

        <fieldset className="variant-editor">
          <legend>Variants</legend>
          {errors.variants ? <p className="field-error">{errors.variants}</p> : null}
          {draft.variants.map((v, i) => (
            <div className="variant-row" key={v.key} role="group" aria-label={`Variant ${i + 1}`}>
              <TextField label={`SKU (variant ${i + 1})`} value={v.sku} onChange={(e) => updateVariant(i, { sku: e.target.value.toUpperCase() })} error={variantError(errors, i, 'sku')} required maxLength={64} autoComplete="off" />
              <TextField label={`Title (variant ${i + 1})`} value={v.title} onChange={(e) => updateVariant(i, { title: e.target.value })} error={variantError(errors, i, 'title')} required maxLength={200} />
              <TextField
                label={`Price in ${v.currency} (variant ${i + 1})`}
                value={v.price}
                onChange={(e) => updateVariant(i, { price: e.target.value })}
                error={variantError(errors, i, 'price')}
                hint={parseMoneyInput(v.price) === 0 ? 'Free: a price of 0.00 gives this variant away.' : undefined}
                inputMode="decimal"
                placeholder="19.99"
                required
              />
              {draft.variants.length > 1 ? (
                <button
                  type="button"
                  className="link-button remove-variant"
                  onClick={() => {
                    setDraft((d) => ({ ...d, variants: d.variants.filter((_, j) => j !== i) }));
                    setErrors({});
                  }}
                >
                  Remove variant {i + 1}
                </button>
              ) : null}
            </div>
          ))}
          {draft.variants.length < MAX_VARIANTS ? (
            <button type="button" className="button button-secondary button-small" onClick={() => update({ variants: [...draft.variants, emptyVariant()] })}>
              Add a variant
            </button>
          ) : null}
        </fieldset>

        <button type="submit" className="button" disabled={busy}>
          {busy ? 'Saving…' : isNew ? 'Create product' : 'Save changes'}
        </button>
      </form>

      {existing.data ? (
        <section aria-labelledby="image-heading" className="image-section">
          <h2 id="image-heading">Image</h2>
          <ImageUpload key={existing.data.id} product={existing.data} />
        </section>
      ) : null}

      {existing.data ? (
        <section aria-labelledby="stock-heading" className="stock-section">
          <h2 id="stock-heading">Stock</h2>
          <ul className="stock-list">
            {existing.data.variants.map((v) => (
              <li key={v.sku}>
                <span>
                  <strong>{v.title}</strong> <code>{v.sku}</code>
                </span>
                <StockEditor sku={v.sku} label={`${existing.data?.name ?? ''} ${v.title}`} />
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </>
  );
}
