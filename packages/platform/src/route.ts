import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { ProblemFieldError } from '@bursar/contracts';
import { AppError } from './errors.js';

type Schema = z.ZodType | undefined;
type Out<S extends Schema> = S extends z.ZodType ? z.infer<S> : undefined;

export interface RouteSchemas<P extends Schema, Q extends Schema, B extends Schema, H extends Schema> {
  params?: P;
  query?: Q;
  body?: B;
  headers?: H;
  /** Status of a successful answer (default 200; 204 sends no body). */
  status?: number;
}

export interface RouteInput<P extends Schema, Q extends Schema, B extends Schema, H extends Schema> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
  headers: Out<H>;
  req: Request;
  res: Response;
}

function issuesOf(location: string, error: z.ZodError): ProblemFieldError[] {
  return error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? (issue as { keys?: string[] }).keys : undefined;
    const path = [location, ...issue.path.map(String)].join('.');
    return {
      path: keys?.length ? `${path}.${keys.join(',')}` : path,
      message: issue.message,
      code: issue.code,
    };
  });
}

/** Turns a zod failure into the 422 problem the API answers (one entry per field path). */
export function validationError(location: string, error: z.ZodError): AppError {
  return new AppError('validation_failed', 'The request is not valid; see errors for each field', {
    errors: issuesOf(location, error),
  });
}

/**
 * One helper for every route: parses params, query, body and headers with the
 * contracts' zod schemas (all failures reported together as 422) and hands the
 * handler typed values. What the handler returns is sent as JSON.
 */
export function route<
  P extends Schema = undefined,
  Q extends Schema = undefined,
  B extends Schema = undefined,
  H extends Schema = undefined,
>(
  schemas: RouteSchemas<P, Q, B, H>,
  handler: (input: RouteInput<P, Q, B, H>) => Promise<unknown> | unknown,
): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      if (schemas.body && req.body === undefined && (req.headers['content-length'] ?? '0') !== '0') {
        throw new AppError('unsupported_media_type', 'Send the body as application/json');
      }
      const errors: ProblemFieldError[] = [];
      const parse = (location: string, schema: Schema, value: unknown): unknown => {
        if (!schema) return undefined;
        const result = schema.safeParse(value);
        if (result.success) return result.data;
        errors.push(...issuesOf(location, result.error));
        return undefined;
      };
      const input = {
        params: parse('params', schemas.params, req.params),
        query: parse('query', schemas.query, req.query),
        body: parse('body', schemas.body, req.body ?? {}),
        headers: parse('headers', schemas.headers, req.headers),
        req,
        res,
      } as RouteInput<P, Q, B, H>;
      if (errors.length) {
        throw new AppError('validation_failed', 'The request is not valid; see errors for each field', {
          errors,
        });
      }
      const result = await handler(input);
      if (res.headersSent) return;
      const status = schemas.status ?? 200;
      if (status === 204 || result === undefined) res.status(status === 200 ? 204 : status).end();
      else res.status(status).json(result);
    } catch (error) {
      next(error);
    }
  };
}
