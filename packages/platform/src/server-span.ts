import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { Request, Response } from 'express';

const tracer = trace.getTracer('@bursar/platform');

/** Probes that are never traced: they would be most of the spans and tell nothing. */
const UNTRACED = /\/(healthz|readyz|metrics)$/;

/** A request's server span and the context its handlers run in. */
export interface ServerSpan {
  span: Span;
  context: Context;
}

/**
 * The one span a request gets from the web layer, started when the platform's
 * request middleware first sees it: the caller's W3C trace context is
 * continued (`traceparent`), the span is `SERVER`, and what the root sampler
 * decides (`WritesAndSampledReads`) it decides from the method. The
 * attributes are OpenTelemetry's HTTP semantic conventions. Health,
 * readiness and metrics requests get none.
 *
 * It replaces the http instrumentation's server half, which bound every
 * request and response emitter to the request's context (its costliest part)
 * and left the route to a second instrumentation. Here the handlers run
 * inside the context (`context.with`), which AsyncLocalStorage carries across
 * every `await`; only a request with a body is bound, because its body
 * arrives in socket events that would otherwise run outside it.
 */
export function startServerSpan(req: Request, path: string): ServerSpan | undefined {
  if (UNTRACED.test(path)) return undefined;
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const span = tracer.startSpan(
    req.method,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': req.method,
        'url.scheme': 'http',
        'url.path': path,
        'network.protocol.version': req.httpVersion,
        'network.peer.address': req.socket.remoteAddress,
        'user_agent.original': req.headers['user-agent'],
      },
    },
    parent,
  );
  const active = trace.setSpan(parent, span);
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
    context.bind(active, req);
  }
  return { span, context: active };
}

/**
 * Ends a request's server span once its response is done: named `GET
 * /api/me` by the route template (`unmatched` routes keep the bare method),
 * with the status, the masked path, and an error status for a 5xx or a
 * response the client did not wait for.
 */
export function endServerSpan(
  { span }: ServerSpan,
  res: Response,
  route: string | undefined,
  path: string,
): void {
  if (!span.isRecording()) {
    span.end();
    return;
  }
  if (route) {
    span.updateName(`${res.req.method} ${route}`);
    span.setAttribute('http.route', route);
  }
  span.setAttribute('url.path', path);
  span.setAttribute('http.response.status_code', res.statusCode);
  if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  if (!res.writableFinished) {
    span.setAttribute('error.type', 'aborted');
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client went away before the response' });
  }
  span.end();
}
