import { ApiError } from './errors.js';

/** The seed's success body: {"status_code":200,"message":"","list":…}; extra fields are added, never changed. */
export function ok(list: unknown, extra?: Record<string, unknown>, message = ''): Record<string, unknown> {
  return extra ? { status_code: 200, message, list, ...extra } : { status_code: 200, message, list };
}

export interface ErrorBody {
  status_code: number;
  type: string;
  message: string;
  [key: string]: unknown;
}

export function errorBody(err: ApiError): ErrorBody {
  return { status_code: err.status, type: err.type, message: err.message, ...(err.details ?? {}) };
}

export function internalErrorBody(): ErrorBody {
  return { status_code: 500, type: 'InternalError', message: 'Internal server error; see the server log.' };
}
