import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StreamscoreError } from '../errors.js';
import { paths } from './paths.js';

/** A certificate and its private key, both PEM files (the key unencrypted PKCS#8). */
export interface CertFiles {
  certFile: string;
  keyFile: string;
}

export interface CertOptions {
  commonName: string;
  /** subjectAltName entries, e.g. `IP:127.0.0.1`, `DNS:localhost`. */
  altNames?: string[];
  usage: 'server' | 'client';
  /** Validity from now; a negative number makes a certificate that has already expired (for tests). */
  days?: number;
}

export interface LocalTls {
  caFile: string;
  /** The certificate both local servers present (the broker and the registry), for 127.0.0.1 and localhost. */
  server: CertFiles;
  /** The same key and certificate in one PEM file: Kafka's PEM keystore reads both from it. */
  brokerKeystore: string;
  /** A client certificate the broker's mutual-TLS listener accepts. */
  client: CertFiles;
}

/** Where the local broker's files live; they exist once the broker has been started with TLS. */
export const localTls: LocalTls = {
  caFile: path.join(paths.tlsDir, 'ca.pem'),
  server: { certFile: path.join(paths.tlsDir, 'server.pem'), keyFile: path.join(paths.tlsDir, 'server.key') },
  brokerKeystore: path.join(paths.tlsDir, 'broker-keystore.pem'),
  client: { certFile: path.join(paths.tlsDir, 'client.pem'), keyFile: path.join(paths.tlsDir, 'client.key') },
};

function openssl(args: string[]): void {
  const result = spawnSync('openssl', args, { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new StreamscoreError('DEV_TLS_FAILED', `openssl ${args[0]} failed (is openssl on PATH?): ${result.error?.message ?? result.stderr.trim()}`);
  }
}

/** openssl's req needs a config file; this minimal one keeps the system's openssl.cnf out of it. */
function withScratch<T>(work: (scratch: string) => T): T {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'streamscore-openssl-'));
  try {
    fs.writeFileSync(path.join(scratch, 'req.cnf'), '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n');
    return work(scratch);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function newKey(keyFile: string): void {
  // P-256: generated in milliseconds; Kafka's PEM keystore, Java and Node all read it.
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  fs.chmodSync(keyFile, 0o600);
}

function sign(scratch: string, subjectKey: string, commonName: string, extensions: string[], days: number, out: string, issuer?: CertFiles): void {
  const csr = path.join(scratch, 'req.csr');
  const ext = path.join(scratch, 'cert.ext');
  openssl(['req', '-new', '-key', subjectKey, '-subj', `/CN=${commonName}`, '-config', path.join(scratch, 'req.cnf'), '-out', csr]);
  fs.writeFileSync(ext, `${extensions.join('\n')}\n`);
  const by = issuer ? ['-CA', issuer.certFile, '-CAkey', issuer.keyFile] : ['-signkey', subjectKey];
  // A random serial: certificates issued again by the same CA must not share one.
  const serial = `0x${crypto.randomBytes(16).toString('hex')}`;
  openssl(['x509', '-req', '-in', csr, ...by, '-set_serial', serial, '-days', String(days), '-extfile', ext, '-out', out]);
}

/** A self-signed CA: `<dir>/<name>.pem` and `<dir>/<name>.key`. */
export function createCa(dir: string, name: string, commonName: string, days = 3650): CertFiles {
  fs.mkdirSync(dir, { recursive: true });
  const ca = { certFile: path.join(dir, `${name}.pem`), keyFile: path.join(dir, `${name}.key`) };
  newKey(ca.keyFile);
  withScratch((scratch) => sign(scratch, ca.keyFile, commonName, [
    'basicConstraints = critical, CA:TRUE',
    'keyUsage = critical, keyCertSign, cRLSign',
    'subjectKeyIdentifier = hash',
  ], days, ca.certFile));
  return ca;
}

/** A certificate signed by `ca`: `<dir>/<name>.pem` and `<dir>/<name>.key`. */
export function issueCert(dir: string, name: string, ca: CertFiles, opts: CertOptions): CertFiles {
  fs.mkdirSync(dir, { recursive: true });
  const cert = { certFile: path.join(dir, `${name}.pem`), keyFile: path.join(dir, `${name}.key`) };
  newKey(cert.keyFile);
  const extensions = [
    'basicConstraints = CA:FALSE',
    // EC keys only sign (ECDHE), so digitalSignature is the one usage they need.
    'keyUsage = critical, digitalSignature',
    `extendedKeyUsage = ${opts.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
    'authorityKeyIdentifier = keyid',
  ];
  if (opts.altNames?.length) extensions.push(`subjectAltName = ${opts.altNames.join(', ')}`);
  withScratch((scratch) => sign(scratch, cert.keyFile, opts.commonName, extensions, opts.days ?? 825, cert.certFile, ca));
  return cert;
}

/** True when the files are all there and the server certificate is good for another day. */
function localTlsUsable(): boolean {
  const files = [localTls.caFile, localTls.server.certFile, localTls.server.keyFile, localTls.brokerKeystore, localTls.client.certFile, localTls.client.keyFile];
  if (!files.every((f) => fs.existsSync(f))) return false;
  const notAfter = Date.parse(new crypto.X509Certificate(fs.readFileSync(localTls.server.certFile)).validTo);
  return notAfter - Date.now() > 24 * 3_600_000;
}

/**
 * The local CA, the servers' certificate (for 127.0.0.1 and localhost) and a client
 * certificate, made once into .run/tls and kept across restarts, so a client's CA file stays
 * valid. Made again only when a file is missing or the server certificate is about to expire.
 */
export function ensureLocalTls(log: (line: string) => void): LocalTls {
  if (localTlsUsable()) return localTls;
  fs.rmSync(paths.tlsDir, { recursive: true, force: true });
  const ca = createCa(paths.tlsDir, 'ca', 'streamscore local CA');
  const server = issueCert(paths.tlsDir, 'server', ca, { commonName: 'localhost', altNames: ['IP:127.0.0.1', 'DNS:localhost'], usage: 'server' });
  issueCert(paths.tlsDir, 'client', ca, { commonName: 'streamscore-client', usage: 'client' });
  fs.writeFileSync(localTls.brokerKeystore, fs.readFileSync(server.keyFile, 'utf8') + fs.readFileSync(server.certFile, 'utf8'), { mode: 0o600 });
  log(`tls: made a CA, a server and a client certificate in ${path.relative(process.cwd(), paths.tlsDir) || paths.tlsDir}`);
  return localTls;
}
