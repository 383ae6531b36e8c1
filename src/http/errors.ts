import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** The one error type handlers throw; `renderError` turns it into the legacy JSON body. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly type: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new ApiError(400, 'BadRequest', message, details);
export const unauthorized = (message: string) => new ApiError(401, 'Unauthorized', message);
export const forbidden = (message: string) => new ApiError(403, 'Forbidden', message);
export const notFound = (message: string, details?: Record<string, unknown>) =>
  new ApiError(404, 'NotFound', message, details);
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new ApiError(409, 'Conflict', message, details);
