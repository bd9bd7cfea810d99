import { api, configureAuth } from './api';
import { Store, useStore } from './store';
import type { Session, User } from './types';

const STORAGE_KEY = 'agora.session';

function load(): Session | null {
  const raw = window.localStorage.getItem(STORAGE_KEY);
  if (!raw) return null;
  try {
    const parsed = JSON.parse(raw) as Partial<Session>;
    return typeof parsed.token === 'string' && parsed.user ? { token: parsed.token, user: parsed.user } : null;
  } catch {
    window.localStorage.removeItem(STORAGE_KEY); // unreadable: start signed out
    return null;
  }
}

export const sessionStore = new Store<Session | null>(load());

/** Set when a stored token stopped working, so the login page can say why. */
export const sessionExpired = new Store<boolean>(false);

function save(session: Session | null): void {
  if (session) window.localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  else window.localStorage.removeItem(STORAGE_KEY);
  sessionStore.set(session);
}

configureAuth(
  () => sessionStore.get()?.token,
  () => {
    if (!sessionStore.get()) return;
    save(null);
    sessionExpired.set(true);
  },
);

// Another tab signed in or out.
window.addEventListener('storage', (event) => {
  if (event.key === STORAGE_KEY) sessionStore.set(load());
});

export function useSession(): Session | null {
  return useStore(sessionStore);
}

export async function login(email: string, password: string): Promise<User> {
  const { body } = await api.post<Session>('/api/v1/auth/login', { email, password });
  sessionExpired.set(false);
  save(body);
  return body.user;
}

export async function register(name: string, email: string, password: string): Promise<User> {
  const { body } = await api.post<Session>('/api/v1/auth/register', { name, email, password });
  sessionExpired.set(false);
  save(body);
  return body.user;
}

export function logout(): void {
  save(null);
}

/** Confirms a stored token still works (and refreshes the role) once, at start. */
export async function revalidateSession(): Promise<void> {
  const session = sessionStore.get();
  if (!session) return;
  const user = await api.get<User>('/api/v1/me');
  if (sessionStore.get()?.token === session.token) save({ token: session.token, user });
}
