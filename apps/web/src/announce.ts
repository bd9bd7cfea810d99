import { Store } from './store';

/**
 * One polite live region in the layout reads these out (cart changes, results counts): screen
 * reader users hear what changed without focus moving.
 */
export const announcement = new Store<{ text: string; id: number }>({ text: '', id: 0 });

export function announce(text: string): void {
  announcement.set({ text, id: announcement.get().id + 1 });
}
