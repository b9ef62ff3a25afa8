/**
 * The one response envelope (Prometheus API style): `{status, data, warnings}`
 * on success, `{status: "error", error: {type, message}}` on failure.
 */

/** A successful answer; `warnings` names partial failures (a source that did not answer). */
export interface OkEnvelope<T> {
  status: 'success'
  data: T
  warnings: string[]
}

/** A failed answer. */
export interface ErrorEnvelope {
  status: 'error'
  error: { type: string; message: string }
}

/** Wraps data in the success envelope. */
export const ok = <T>(data: T, warnings: string[] = []): OkEnvelope<T> => ({ status: 'success', data, warnings })

/** Wraps an error type and message in the error envelope. */
export const fail = (type: string, message: string): ErrorEnvelope => ({ status: 'error', error: { type, message } })
