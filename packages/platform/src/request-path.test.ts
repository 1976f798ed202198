import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { maskedPath, urlPath } from './request-path.js';

function request(originalUrl: string, template?: string): Request {
  return { originalUrl, route: template ? { path: template } : undefined } as unknown as Request;
}

describe('request paths as logs and spans show them', () => {
  it('drops the query, and only the query', () => {
    expect(urlPath('/api/me')).toBe('/api/me');
    expect(urlPath('/api/invoices?status=paid&page=2')).toBe('/api/invoices');
    expect(urlPath('/api/x?a=1?b=2')).toBe('/api/x');
    expect(urlPath('/?')).toBe('/');
    expect(urlPath('')).toBe('');
  });

  it('masks a capability in the path of its route, never leaving the query behind', () => {
    expect(maskedPath(request('/api/pay/i/s3cr3t-token?utm=x', '/i/:token'))).toBe('/api/pay/i/:token');
    expect(maskedPath(request('/api/students/42?x=1', '/students/:id'))).toBe('/api/students/42');
    expect(maskedPath(request('/healthz?probe=1', '/healthz'))).toBe('/healthz');
    expect(maskedPath(request('/nowhere?token=abc'))).toBe('/nowhere');
  });

  it('masks the path it is given as the one the request was made to', () => {
    const req = request('/api/pay/i/s3cr3t-token?utm=x', '/i/:token');
    expect(maskedPath(req, urlPath(req.originalUrl))).toBe('/api/pay/i/:token');
  });
});
