import { HostError } from '../../../src/ports.js';
import type { HostErrorKind } from '../../../src/ports.js';

export type SshHostErrorCode =
  | 'config'
  | 'connect'
  | 'auth'
  | 'host-key-unknown'
  | 'host-key-changed'
  | 'host-key-other-type'
  | 'host-key-revoked'
  | 'connection-lost'
  | 'closed';

const KIND: Record<SshHostErrorCode, HostErrorKind> = {
  config: 'config',
  connect: 'unreachable',
  auth: 'auth',
  'host-key-unknown': 'host-key',
  'host-key-changed': 'host-key',
  'host-key-other-type': 'host-key',
  'host-key-revoked': 'host-key',
  'connection-lost': 'connection-lost',
  closed: 'closed',
};

export class SshHostError extends HostError {
  constructor(
    readonly code: SshHostErrorCode,
    message: string,
  ) {
    super(KIND[code], message);
    this.name = 'SshHostError';
  }
}
