/**
 * Node's code for a failed certificate check or TLS handshake, wherever it sits in an error's
 * cause chain (clients wrap the socket's error: kafkajs as `originalError`, others as `cause`).
 */

/** OpenSSL's verify results as Node names them: a certificate we could not accept. */
export const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** An error and the errors it wraps, outermost first. */
export function* errorChain(err: unknown): Generator<Record<string, unknown>> {
  let current = err as Record<string, unknown> | undefined;
  for (let depth = 0; current && depth < 8; depth++) {
    yield current;
    current = (current.originalError ?? current.cause) as Record<string, unknown> | undefined;
  }
}

/** The first TLS code in the chain (a certificate check, or an ERR_SSL_* / ERR_TLS_* handshake failure), with its message. */
export function tlsErrorOf(err: unknown): { code: string; message: string } | undefined {
  for (const e of errorChain(err)) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code && (CERTIFICATE_CODES.has(code) || /^ERR_(SSL|TLS)_/.test(code))) return { code, message: typeof e.message === 'string' ? e.message : '' };
  }
  return undefined;
}
