import { KeyferryError } from "../errors/keyferry-error.js";

/** Errors the HTTP layer raises itself: 401, 403, 404, 409. */
export function unauthorized(message = "a valid bearer token is required"): KeyferryError {
  return new KeyferryError("unauthorized", message, { status: 401 });
}

export function forbidden(message: string): KeyferryError {
  return new KeyferryError("forbidden", message, { status: 403 });
}

export function notFound(message: string): KeyferryError {
  return new KeyferryError("not_found", message, { status: 404 });
}

export function conflict(code: string, message: string, details?: Record<string, unknown>): KeyferryError {
  return new KeyferryError(code, message, { status: 409, ...(details ? { details } : {}) });
}
