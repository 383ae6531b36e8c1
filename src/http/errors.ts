import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** The one error type handlers throw; the app's onError renders it as the legacy JSON body. */
export class ApiError extends Error {
  /** Response headers that belong to this error (Retry-After on 503, Allow on 405). */
  readonly headers: Record<string, string>;

  constructor(
    readonly status: ContentfulStatusCode,
    readonly type: string,
    message: string,
    readonly details?: Record<string, unknown>,
    options: { headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.headers = options.headers ?? {};
  }
}

/** 503 with Retry-After: the service is up but cannot take this request now. */
export const unavailable = (type: string, message: string, retryAfterSeconds: number, details?: Record<string, unknown>) =>
  new ApiError(503, type, message, { ...details, retry_after: retryAfterSeconds }, { headers: { 'Retry-After': String(retryAfterSeconds) } });

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new ApiError(400, 'BadRequest', message, details);
export const unauthorized = (message: string) => new ApiError(401, 'Unauthorized', message);
export const forbidden = (message: string) => new ApiError(403, 'Forbidden', message);
export const notFound = (message: string, details?: Record<string, unknown>) =>
  new ApiError(404, 'NotFound', message, details);
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new ApiError(409, 'Conflict', message, details);
