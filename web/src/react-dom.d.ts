/** The two calls of react-dom/client this app makes (react-dom ships no types; @types/react-dom is not installed). */
declare module 'react-dom/client' {
  import type { ReactNode } from 'react';
  export interface Root {
    render(children: ReactNode): void;
    unmount(): void;
  }
  export function createRoot(container: Element): Root;
}

/** Stylesheets imported for their side effect (vite bundles them into assets/). */
declare module '*.css';
