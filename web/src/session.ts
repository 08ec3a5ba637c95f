/** The signed-in session: the key (sessionStorage only: gone when the tab closes), who it is, the event feed. */
import { createContext, useContext } from 'react';
import type { Whoami } from './api';
import type { EventFeed } from './events';

export const KEY_STORAGE = 'bkg.key';

export interface Session {
  key: string;
  who: Whoami;
  feed: EventFeed;
  can(action: string): boolean;
  signOut(why?: string): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in page');
  return s;
}

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
}
