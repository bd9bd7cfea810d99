import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from '../api';
import { refreshCart } from '../cart';
import { LOOKS_LIKE_EMAIL } from '../field-messages';
import { safeNext } from '../match';
import { Link, navigate, useSearchParams } from '../router';
import { login, register, sessionExpired } from '../session';
import { useStore } from '../store';
import { Alert, ErrorAlert } from '../ui/Alert';
import { TextField } from '../ui/Field';
import { PageTitle } from '../ui/PageTitle';

const PASSWORD_MIN = 8;

function useNext(): string {
  return safeNext(useSearchParams().get('next'));
}

async function afterSignIn(next: string): Promise<void> {
  await refreshCart().catch((err: unknown) => console.warn('cart refresh after sign-in failed', err));
  navigate(next, { replace: true });
}

function withNext(path: string, next: string): string {
  return next === '/' ? path : `${path}?next=${encodeURIComponent(next)}`;
}

export function LoginPage() {
  const next = useNext();
  const expired = useStore(sessionExpired);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const fields = error instanceof ApiError ? error.fieldErrors() : {};

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await login(email.trim(), password);
      await afterSignIn(next);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <div className="narrow">
      <PageTitle title="Sign in">Sign in</PageTitle>
      {expired ? <Alert kind="info" title="Your session ended. Please sign in again." /> : null}
      {next !== '/' && !expired ? <Alert kind="info" title="Sign in to continue." /> : null}
      <ErrorAlert
        error={error}
        title={error instanceof ApiError && error.code === 'INVALID_CREDENTIALS' ? 'That e-mail and password do not match an account.' : undefined}
        shownFields={['email', 'password']}
      />
      <form onSubmit={(e) => void submit(e)} className="stack" aria-busy={busy}>
        <TextField label="E-mail" type="email" name="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={fields.email} />
        <TextField label="Password" type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} error={fields.password} />
        <button type="submit" className="button button-block" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p>
        New here? <Link to={withNext('/register', next)}>Create an account</Link>
      </p>
    </div>
  );
}

export function RegisterPage() {
  const next = useNext();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [local, setLocal] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const server: Record<string, ReactNode> = error instanceof ApiError ? error.fieldErrors() : {};
  if (error instanceof ApiError && error.code === 'EMAIL_TAKEN') {
    server.email = (
      <>
        An account with this e-mail already exists. <Link to={withNext('/login', next)}>Sign in instead?</Link>
      </>
    );
  }
  const fields = { ...server, ...local };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const problems: Record<string, string> = {};
    if (!name.trim()) problems.name = 'Enter your name.';
    if (!email.trim()) problems.email = 'Enter your e-mail address.';
    else if (!LOOKS_LIKE_EMAIL.test(email.trim())) problems.email = 'Enter an e-mail address like name@example.com.';
    if (password.length < PASSWORD_MIN) problems.password = `Use at least ${PASSWORD_MIN} characters.`;
    setLocal(problems);
    setError(undefined);
    if (Object.keys(problems).length > 0) return;
    setBusy(true);
    try {
      await register(name.trim(), email.trim(), password);
      await afterSignIn(next);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <div className="narrow">
      <PageTitle title="Create an account">Create an account</PageTitle>
      <ErrorAlert error={error} title={error instanceof ApiError && error.code === 'EMAIL_TAKEN' ? 'That e-mail is already registered.' : undefined} shownFields={['name', 'email', 'password']} />
      <form onSubmit={(e) => void submit(e)} className="stack" noValidate aria-busy={busy}>
        <TextField label="Name" name="name" autoComplete="name" required value={name} onChange={(e) => setName(e.target.value)} error={fields.name} maxLength={200} />
        <TextField label="E-mail" type="email" name="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={fields.email} />
        <TextField
          label="Password"
          type="password"
          name="password"
          autoComplete="new-password"
          required
          minLength={PASSWORD_MIN}
          maxLength={128}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={fields.password}
          hint={`At least ${PASSWORD_MIN} characters.`}
        />
        <button type="submit" className="button button-block" disabled={busy}>
          {busy ? 'Creating your account…' : 'Create account'}
        </button>
      </form>
      <p>
        Already have an account? <Link to={withNext('/login', next)}>Sign in</Link>
      </p>
    </div>
  );
}
