/** From generated tokens to streamed text: decoding token by token, holding back possible stop strings, and the end of text. */
import type { LlamaModel, Token } from 'node-llama-cpp';

/**
 * Tokens to text as they arrive. Each token is decoded with the tokens before
 * it as context (so SentencePiece word-boundary spaces come out right), and a
 * token that ends inside a multi-byte character is held until the character
 * is complete, so the concatenated deltas equal the decoded whole.
 */
export class StreamingDecoder {
  private pending: Token[] = [];
  private history: Token[];

  constructor(
    private readonly model: LlamaModel,
    prompt: readonly Token[],
  ) {
    this.history = prompt.slice(-8);
  }

  push(token: Token): string {
    this.pending.push(token);
    const text = this.model.detokenize(this.pending, false, this.history);
    if (text.endsWith('\uFFFD') && this.pending.length < 4) return '';
    return this.commit(text);
  }

  flush(): string {
    return this.pending.length === 0 ? '' : this.commit(this.model.detokenize(this.pending, false, this.history));
  }

  private commit(text: string): string {
    this.history = [...this.history, ...this.pending].slice(-8);
    this.pending = [];
    return text;
  }
}

/**
 * Finds stop strings in streamed text. Text that could be the start of a stop
 * string is held back until it is known not to be one; `push` reports the text
 * that is safe to emit, and whether a stop string was found (the text after
 * it, and the stop string itself, are dropped).
 */
export class StopScanner {
  private buffer = '';
  private done = false;
  private readonly maxLen: number;

  constructor(private readonly stops: readonly string[]) {
    this.maxLen = Math.max(0, ...stops.map((s) => s.length));
  }

  push(text: string): { emit: string; stopped: boolean } {
    if (this.done) return { emit: '', stopped: true };
    if (this.stops.length === 0) return { emit: text, stopped: false };
    this.buffer += text;
    let at = -1;
    for (const s of this.stops) {
      const i = this.buffer.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      this.done = true;
      const emit = this.buffer.slice(0, at);
      this.buffer = '';
      return { emit, stopped: true };
    }
    const hold = this.heldLength();
    const emit = this.buffer.slice(0, this.buffer.length - hold);
    this.buffer = this.buffer.slice(this.buffer.length - hold);
    return { emit, stopped: false };
  }

  flush(): string {
    const rest = this.done ? '' : this.buffer;
    this.buffer = '';
    return rest;
  }

  /** The longest suffix of the buffer that is a proper prefix of a stop string. */
  private heldLength(): number {
    for (let k = Math.min(this.maxLen - 1, this.buffer.length); k > 0; k--) {
      const tail = this.buffer.slice(this.buffer.length - k);
      if (this.stops.some((s) => s.startsWith(tail))) return k;
    }
    return 0;
  }
}

/**
 * End of generation: an EOG token (EOS, EOT…) — or BOS, which base models
 * trained on BOS-separated documents (llama2.c's TinyStories models, for one)
 * emit where the document ends and the next would begin.
 */
export function isEndOfText(model: LlamaModel, token: Token): boolean {
  return model.isEogToken(token) || (model.tokens.bos !== null && token === model.tokens.bos);
}
