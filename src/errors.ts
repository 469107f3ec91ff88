/**
 * One error class for the whole service. Retry and dead-letter decisions read `code` and the
 * flags, never the message text, so messages can be improved without changing behaviour.
 */
export interface ErrorFlags {
  /** The same operation may succeed if tried again (broker hiccup, timeout). */
  canRetry?: boolean;
  /** The record itself is at fault; it goes to the dead-letter topic and the stream goes on. */
  deadLetter?: boolean;
  /** Another producer with our transactional id took over; this one must be dropped. */
  producerFenced?: boolean;
}

export class StreamscoreError extends Error {
  readonly code: string;
  readonly canRetry: boolean;
  readonly deadLetter: boolean;
  readonly producerFenced: boolean;

  constructor(code: string, message: string, flags: ErrorFlags = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StreamscoreError';
    this.code = code;
    this.canRetry = flags.canRetry ?? false;
    this.deadLetter = flags.deadLetter ?? false;
    this.producerFenced = flags.producerFenced ?? false;
  }
}

export function isStreamscoreError(err: unknown): err is StreamscoreError {
  return err instanceof StreamscoreError;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
