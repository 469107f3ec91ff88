import type { KafkaConfig } from '../config/types.js';
import { type ErrorCode, StreamscoreError, errorMessage } from '../errors.js';
import { errorChain, tlsErrorOf } from '../util/tls-error.js';

/** Kafka error types that mean another producer now owns our transactional id. */
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING']);
/** Code 90 (PRODUCER_FENCED) is newer than kafkajs's error table. */
const FENCED_CODES = new Set([47, 49, 90]);

/** What the group coordinator answers an offset commit from a member of an earlier generation. */
const STALE_GENERATION_TYPES = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID', 'REBALANCE_IN_PROGRESS']);

/**
 * A produce or transaction failure, coded: fenced (drop the producer, never retry with it)
 * or retryable (replace the producer, rewind the partition to its committed offset, go again).
 */
export function classifyTransactionError(err: unknown, otherwise: ErrorCode = 'KAFKA_TRANSACTION_FAILED'): StreamscoreError {
  if (err instanceof StreamscoreError) return err;
  for (const e of errorChain(err)) {
    if (FENCED_TYPES.has(e.type as string) || FENCED_CODES.has(e.code as number)) {
      return new StreamscoreError('KAFKA_PRODUCER_FENCED', `producer fenced: ${String(e.message)}`, { cause: err });
    }
    if (STALE_GENERATION_TYPES.has(e.type as string)) {
      return new StreamscoreError('KAFKA_GENERATION_STALE', `offset commit refused: the consumer group has rebalanced since (${String(e.type)})`, { cause: err });
    }
  }
  return new StreamscoreError(otherwise, `${otherwise === 'KAFKA_PRODUCE_FAILED' ? 'produce' : 'transaction'} failed: ${errorMessage(err)}`, { cause: err });
}

/** What to check for each certificate code in CERTIFICATE_CODES (src/util/tls-error.ts). */
const CERT_REASONS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the broker's certificate is not signed by a CA we trust: check kafka.ssl.caFile",
  UNABLE_TO_GET_ISSUER_CERT: "the broker's certificate is not signed by a CA we trust: check kafka.ssl.caFile",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the broker's certificate is not signed by a CA we trust: check kafka.ssl.caFile",
  SELF_SIGNED_CERT_IN_CHAIN: "the broker's certificate chain ends in a CA we do not trust: check kafka.ssl.caFile",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the broker's certificate is self-signed and not in kafka.ssl.caFile",
  CERT_SIGNATURE_FAILURE: "the broker's certificate signature does not verify: check kafka.ssl.caFile",
  CERT_UNTRUSTED: "the broker's certificate is not trusted: check kafka.ssl.caFile",
  CERT_HAS_EXPIRED: "the broker's certificate has expired",
  CERT_NOT_YET_VALID: "the broker's certificate is not valid yet (check the clocks)",
  ERR_TLS_CERT_ALTNAME_INVALID: "the broker's certificate is for another host name or address",
};

/**
 * Alerts the broker sent us, by alert name. Node's code names the protocol too, and OpenSSL
 * 3.5 (Node 24) says SSL/TLS where 3.0 (Node 20) says SSLV3 or TLSV1:
 * ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE became ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE.
 */
const ALERT_REASONS: Record<string, string> = {
  CERTIFICATE_REQUIRED: 'the broker requires a client certificate: check kafka.ssl.certFile and kafka.ssl.keyFile',
  BAD_CERTIFICATE: 'the broker refused our client certificate: check kafka.ssl.certFile and kafka.ssl.keyFile',
  UNKNOWN_CA: "the broker does not trust our client certificate's CA",
  CERTIFICATE_UNKNOWN: 'the broker refused our client certificate',
  HANDSHAKE_FAILURE: 'the broker refused the TLS handshake (a client certificate it requires, or no common protocol or cipher)',
};
const alertOf = (code: string) => /^ERR_SSL_.*_ALERT_([A-Z_]+)$/.exec(code)?.[1];

/** Alerts a broker sends when it wants a client certificate: with none configured, that is what it wants. */
const CLIENT_CERT_ALERTS = new Set(['CERTIFICATE_REQUIRED', 'BAD_CERTIFICATE', 'HANDSHAKE_FAILURE', 'CERTIFICATE_UNKNOWN']);

/** Node's message when the peer hung up mid-handshake, typically a TLS client at a plaintext listener. */
const CLOSED_IN_HANDSHAKE = /before secure TLS connection was established/;

export interface TlsFailure {
  broker: string | undefined;
  code: string;
  reason: string;
  /** The alert the broker sent, when it sent one (BAD_CERTIFICATE, …). */
  alert?: string;
  /**
   * The peer hung up mid-handshake: a TLS client at a plaintext listener, or a broker going
   * away at that moment. Only this one can be a passing fault.
   */
  hungUp?: boolean;
}

/** The TLS failure in an error kafkajs threw (it wraps the socket's error, keeping its code), if it is one. */
export function tlsFailure(err: unknown): TlsFailure | undefined {
  // kafkajs's connection error names the broker; the errors wrapped around it copy its message only.
  const broker = [...errorChain(err)].map((e) => e.broker).find((b): b is string => typeof b === 'string');
  const tls = tlsErrorOf(err);
  if (tls) {
    const { code } = tls;
    const detail = tls.message.replace(/^Connection error: /, '');
    // The altname mismatch is the one message worth quoting: it names the host and the names the certificate has.
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return { broker, code, reason: `${CERT_REASONS[code]} (${detail})` };
    if (CERT_REASONS[code]) return { broker, code, reason: CERT_REASONS[code] };
    const alert = alertOf(code);
    if (alert) return { broker, code, alert, reason: ALERT_REASONS[alert] ?? `TLS handshake failed (${detail})` };
    return { broker, code, reason: `TLS handshake failed (${detail})` };
  }
  const hangUp = [...errorChain(err)].find((e) => typeof e.message === 'string' && CLOSED_IN_HANDSHAKE.test(e.message));
  if (!hangUp) return undefined;
  return { broker, code: typeof hangUp.code === 'string' ? hangUp.code : 'ECONNRESET', hungUp: true, reason: 'the broker closed the connection during the TLS handshake: is this a TLS listener?' };
}

/**
 * A failed connect, coded: a refused login or a TLS failure is a config problem, said plainly
 * (naming the user, the broker, the files to check; never a password or a key); anything
 * else is the cluster being unreachable.
 */
export function kafkaConnectError(err: unknown, k: Pick<KafkaConfig, 'brokers' | 'sasl' | 'ssl'>): StreamscoreError {
  if ((err as Error)?.name === 'KafkaJSSASLAuthenticationError') {
    return new StreamscoreError('KAFKA_AUTH_FAILED', `Kafka refused SASL login as '${k.sasl?.username}' (${k.sasl?.mechanism}) at ${k.brokers.join(',')}: check kafka.sasl.username and kafka.sasl.password`, { cause: err });
  }
  const tls = tlsFailure(err);
  if (tls) {
    // Java brokers answer a missing client certificate with bad_certificate, like a refused one.
    const reason = tls.alert && CLIENT_CERT_ALERTS.has(tls.alert) && !k.ssl?.certFile
      ? 'the broker requires a client certificate and none is configured: set kafka.ssl.certFile and kafka.ssl.keyFile'
      : tls.reason;
    return new StreamscoreError('KAFKA_TLS_FAILED', `TLS to Kafka at ${tls.broker ?? k.brokers.join(',')} failed: ${reason} [${tls.code}]`, { cause: err });
  }
  return new StreamscoreError('KAFKA_UNREACHABLE', `cannot connect to Kafka at ${k.brokers.join(',')}: ${errorMessage(err)}`, { cause: err });
}
