/**
 * The one response envelope (Prometheus API style): `{status, data, warnings}`
 * on success, `{status: "error", error: {type, message}}` on failure.
 */
import { z } from 'zod'

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

/** Builds the success envelope's zod schema around a route's data schema, for the OpenAPI document. */
export const okEnvelopeSchema = (data: z.ZodType) =>
  z.strictObject({
    status: z.literal('success'),
    data,
    warnings: z.array(z.string()).describe('partial failures and caveats: a source that did not answer, a filter that was narrowed'),
  })

/** The error envelope's zod schema (a component of the OpenAPI document). */
export const errorEnvelopeSchema = z
  .strictObject({
    status: z.literal('error'),
    error: z.strictObject({
      type: z.string().describe('bad_input, unauthorized, forbidden, not_found, conflict, upstream or internal'),
      message: z.string(),
    }),
  })
  .meta({ id: 'ErrorEnvelope', description: 'Every failed answer: `{status: "error", error: {type, message}}`.' })
