/**
 * The chat template (deterministic, for base and chat models alike):
 *
 *     System: <content>\n
 *     User: <content>\n
 *     Assistant: <content>\n
 *     ...
 *     Assistant:
 *
 * When the last message is the assistant's, the prompt ends with
 * `Assistant: <content>` (no newline) and the model continues that message
 * (a "prefill"). Generation also stops (finishReason 'stop') when the model
 * starts a new turn (`\nUser:`, `\nSystem:`, `\nAssistant:`); that marker is
 * not part of the text.
 */
import { BkgError } from '../api/errors.js';
import type { ChatMessage } from './types.js';

/** Generation stops when the model starts a new turn of the chat template. */
export const CHAT_STOP_STRINGS: readonly string[] = ['\nUser:', '\nSystem:', '\nAssistant:'];

const ROLE_LABEL: Record<ChatMessage['role'], string> = { system: 'System', user: 'User', assistant: 'Assistant' };

/** The prompt for a chat, in the template described at the top of this file. */
export function formatChatPrompt(messages: readonly ChatMessage[]): string {
  if (messages.length === 0) throw new BkgError('INVALID_ARGUMENT', 'messages must hold at least one message');
  const last = messages[messages.length - 1];
  const prefill = last !== undefined && last.role === 'assistant' && last.content !== '';
  const turns = messages.map((m) => `${ROLE_LABEL[m.role]}: ${m.content}`);
  if (prefill) return turns.join('\n');
  if (last?.role === 'assistant') turns.pop(); // an empty assistant message: just open the turn
  return [...turns, 'Assistant:'].join('\n');
}
