/** What an admin view shows instead of its rows: loading, refused to this key, or failed. */
import type { Section } from '../state/types.js';
import { plain, styled, type StyledLine } from './styled.js';

/** The lines for a section that has no rows to show, or null when it has. */
export function sectionNotice<T>(s: Section<T>, what: string): StyledLine[] | null {
  if (s.status === 'loading') return [plain(`  loading ${what}…`)];
  if (s.status === 'forbidden') {
    return [
      styled(`  ${what}: this view needs an admin key.`, { color: 'yellow' }),
      plain(`  The daemon said: ${s.message}`),
      plain('  Use the local socket (no BKG_API_URL), or BKG_API_KEY set to an admin key.'),
    ];
  }
  if (s.status === 'error') return [styled(`  ${what}: ${s.message}`, { color: 'red' })];
  return null;
}
