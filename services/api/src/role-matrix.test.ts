/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies and the OpenAPI document are walked as plain JSON */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_AMOUNT_MINOR, type Role } from '@bursar/contracts';
import { PERMISSIONS, type Permission } from '@bursar/platform';
import { publishInvoiceDocument } from '@bursar/documents';
import { computeReport, insertReport } from '@bursar/ledger';
import { daysFromToday, tinyPng, uniquePhone, uniqueTag } from '@bursar/test-support';
import { createTestApi, type ApiResponse, type Caller } from './testing/harness.js';
import { startFakeProviders } from './testing/fake-providers.js';
import { storeReconciliationItem } from './testing/provider-events.js';

const ROLES: Role[] = ['platform_admin', 'school_admin', 'accountant', 'teacher', 'guardian'];
const PROBLEM = /^application\/problem\+json/;
const day = (offset: number) => daysFromToday(offset, 'Asia/Kolkata');

/**
 * What each row of README's "Roles and permissions" table means, in permission
 * names. Written out here, apart from the code under test, so the expected
 * answers below come from the documented table and not from `PERMISSIONS`:
 * a role added to the code but not to the README (or the reverse) fails.
 */
const README_ROWS: Record<string, Permission[]> = {
  'schools: create, delete': ['schools:create', 'schools:delete'],
  'schools: read': ['schools:read'],
  'schools: update': ['schools:update'],
  'staff users: read, write': ['users:read', 'users:write'],
  'classes, students: read': ['classes:read', 'students:read'],
  'classes, students: write': ['classes:write', 'students:write'],
  'guardians: read': ['guardians:read'],
  'guardians: write': ['guardians:write'],
  'fee plans, invoices: read, write; issue plans': [
    'fee_plans:read',
    'fee_plans:write',
    'invoices:read',
    'invoices:write',
  ],
  'payments, refunds: write': ['payments:write', 'refunds:write'],
  'reconciliation: read, write': ['reconciliation:read', 'reconciliation:write'],
  'statements, audit: read': ['statements:read', 'audit:read'],
  'reports, analytics: read, write; report schedules': ['reports:read', 'reports:write'],
  'WhatsApp templates, campaigns, settings: read, write': ['messages:read', 'messages:write'],
};

/** README's table as permission → roles: a cell with anything in it (✓, own, own school) grants the row. */
function readmeMatrix(): Map<string, Set<Role>> {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.split(/^## Roles and permissions$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = section
    .split('\n')
    .filter((line) => line.trim().startsWith('|'))
    .map((line) =>
      line
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((cell) => cell.trim()),
    );
  const [header, , ...body] = rows;
  if (!header || header[0] !== 'permission') throw new Error('README has no "Roles and permissions" table');
  const columns = header.slice(1) as Role[];
  if ([...columns].sort().join() !== [...ROLES].sort().join())
    throw new Error(`README's table has columns ${columns.join(', ')}, not the roles ${ROLES.join(', ')}`);
  const matrix = new Map<string, Set<Role>>();
  for (const [label, ...cells] of body) {
    const permissions = README_ROWS[label!];
    if (!permissions) throw new Error(`README row "${label}" has no entry in README_ROWS`);
    const roles = new Set(columns.filter((_, i) => cells[i] !== ''));
    for (const permission of permissions) matrix.set(permission, roles);
  }
  return matrix;
}

const EXPECTED = readmeMatrix();

/** The answer the README promises: may `role` use a route guarded by `permission`? */
function allowed(role: Role, permission: string): boolean {
  const roles = EXPECTED.get(permission);
  if (!roles) throw new Error(`README's table does not mention ${permission}`);
  return roles.has(role);
}

/**
 * The permission matrix, enforced: every role against every write route of
 * the OpenAPI document, and every role against every read route. Allowed roles
 * send a valid request and must succeed; other roles get 403; nobody logged in
 * gets 401. Also: nothing a client can send makes the api answer 5xx.
 */
describe('role matrix', async () => {
  // Pay links are created at a local fake of the providers' REST APIs.
  const providers = await startFakeProviders();
  const api = await createTestApi({ env: providers.env });
  const schoolId = await api.createSchool({ name: `Matrix ${randomUUID().slice(0, 6)}` });
  const callers = Object.fromEntries(
    await Promise.all(
      ROLES.map(
        async (role) =>
          [role, role === 'platform_admin' ? api.admin : await api.callerFor(role, schoolId)] as const,
      ),
    ),
  ) as Record<Role, Caller>;
  // Set-up rows are made by callers of their own, so the callers under test only ever act on what they are given.
  const setupAdmin = await api.callerFor('school_admin', schoolId);
  const setupAccountant = await api.callerFor('accountant', schoolId);

  const spec = (await api.request(null, 'GET', '/api/openapi.json')).body;
  const operation = (key: string) => {
    const [method, path] = key.split(' ');
    return spec.paths[path!]?.[method!.toLowerCase()];
  };
  const operationKeys = Object.entries<any>(spec.paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
  );

  // ── Builders: fresh rows for each request, so one request's success cannot change another's answer ──
  const unique = uniqueTag;
  const bySetupAdmin = api.build(setupAdmin);
  const bySetupAccountant = api.build(setupAccountant);
  const created = async (res: Promise<ApiResponse>) => {
    const { status, body } = await res;
    if (status >= 300) throw new Error(`set-up request failed: ${status} ${JSON.stringify(body)}`);
    return body;
  };
  const make = {
    reportSchedule: async () =>
      (
        await created(
          api.request(setupAccountant, 'POST', '/api/report-schedules', {
            body: { kind: 'aging', params: { schoolId }, cron: '0 6 * * 1' },
          }),
        )
      ).id as string,
    /** A report computed as the worker would, so its exports have something to answer. */
    report: async () => {
      const params = { kind: 'aging' as const, schoolId, asOf: daysFromToday(0, 'Asia/Kolkata') };
      const row = await api.db.transaction().execute((trx) => insertReport(trx, params));
      const result = await computeReport(api.db, params);
      await api.db
        .updateTable('reports')
        .set({ status: 'succeeded', progress: 100, result: JSON.stringify(result), finishedAt: new Date() })
        .where('id', '=', row.id)
        .execute();
      return row.id;
    },
    klass: async () => (await bySetupAdmin.class()).id as string,
    student: async () => (await bySetupAdmin.student()).id as string,
    guardian: async () => (await bySetupAdmin.guardian()).id as string,
    user: async () =>
      (
        await created(
          api.request(setupAdmin, 'POST', `/api/schools/${schoolId}/users`, {
            body: {
              email: `u-${unique()}@matrix.test`,
              name: 'Staff',
              role: 'teacher',
              password: 'staff-password-9',
            },
          }),
        )
      ).id as string,
    feePlan: async () =>
      (
        await created(
          api.request(setupAccountant, 'POST', '/api/fee-plans', {
            body: {
              name: `Plan ${unique()}`,
              academicYear: '2026-27',
              heads: [{ name: 'Tuition', amountMinor: 10_000 }],
              instalments: [
                { label: 'One', dueDate: day(49), sharePercent: 50 },
                { label: 'Two', dueDate: day(139), sharePercent: 50 },
              ],
            },
          }),
        )
      ).id as string,
    invoice: async (studentId?: string) =>
      (await bySetupAccountant.invoice({ studentId: studentId ?? (await make.student()), dueDate: day(49) }))
        .id as string,
    payment: async () =>
      (await bySetupAccountant.payment(await make.invoice(), 4_000, { method: 'cash' })).payment.id as string,
    /** Provider money waiting in the school's reconciliation inbox (as the worker leaves it). */
    reconciliationItem: async () =>
      (await storeReconciliationItem(api.db, { schoolId, amountMinor: 1_000 })).id,
    link: async () => {
      const [studentId, guardianId] = await Promise.all([make.student(), make.guardian()]);
      await created(
        api.request(setupAdmin, 'PUT', `/api/students/${studentId}/guardians/${guardianId}`, {
          body: { relation: 'mother' },
        }),
      );
      return `/api/students/${studentId}/guardians/${guardianId}`;
    },
  };
  /** A platform admin names the school on creates; staff must not. */
  const forCaller = (caller: Caller, body: Record<string, unknown>) =>
    caller.role === 'platform_admin' ? { ...body, schoolId } : body;

  interface Prepared {
    path: string;
    body?: unknown;
    headers?: Record<string, string>;
  }
  interface WriteRoute {
    /** The permission the route must be guarded by (checked against the document's `x-permission`). */
    permission: Permission;
    /** A valid request for `caller`, on rows made for it. */
    prepare: (caller: Caller) => Promise<Prepared>;
    /** One success uses the row up (a void, a refund): the fuzz prepares a new one for every attempt. */
    spent?: true;
  }
  const WRITE_ROUTES: Record<string, WriteRoute> = {
    'POST /api/schools': {
      permission: 'schools:create',
      prepare: async () => ({
        path: '/api/schools',
        body: { name: `New ${unique()}`, currency: 'MXN', timezone: 'America/Mexico_City', locale: 'es-MX' },
      }),
    },
    'PATCH /api/schools/{id}': {
      permission: 'schools:update',
      prepare: async () => ({ path: `/api/schools/${schoolId}`, body: { address: `Street ${unique()}` } }),
    },
    'DELETE /api/schools/{id}': {
      permission: 'schools:delete',
      // Staff aim at their own school: the strongest reason they might be let through.
      prepare: async (caller) => ({
        path: `/api/schools/${caller.role === 'platform_admin' ? await api.createSchool() : schoolId}`,
      }),
    },
    'POST /api/schools/{id}/users': {
      permission: 'users:write',
      prepare: async () => ({
        path: `/api/schools/${schoolId}/users`,
        body: {
          email: `n-${unique()}@matrix.test`,
          name: 'New staff',
          role: 'accountant',
          password: 'new-password-1',
        },
      }),
    },
    'PATCH /api/schools/{id}/users/{userId}': {
      permission: 'users:write',
      prepare: async () => ({
        path: `/api/schools/${schoolId}/users/${await make.user()}`,
        body: { name: 'Renamed' },
      }),
    },
    'POST /api/classes': {
      permission: 'classes:write',
      prepare: async (caller) => ({
        path: '/api/classes',
        body: forCaller(caller, { name: `C-${unique()}`, grade: '2', academicYear: '2026-27' }),
      }),
    },
    'PATCH /api/classes/{id}': {
      permission: 'classes:write',
      prepare: async () => ({
        path: `/api/classes/${await make.klass()}`,
        body: { name: `Renamed ${unique()}` },
      }),
    },
    'DELETE /api/classes/{id}': {
      permission: 'classes:write',
      prepare: async () => ({ path: `/api/classes/${await make.klass()}` }),
    },
    'POST /api/students': {
      permission: 'students:write',
      prepare: async (caller) => ({
        path: '/api/students',
        body: forCaller(caller, { firstName: 'New', lastName: 'Kid', admissionNo: `N-${unique()}` }),
      }),
    },
    'PATCH /api/students/{id}': {
      permission: 'students:write',
      prepare: async () => ({ path: `/api/students/${await make.student()}`, body: { status: 'left' } }),
    },
    'DELETE /api/students/{id}': {
      permission: 'students:write',
      prepare: async () => ({ path: `/api/students/${await make.student()}` }),
    },
    'POST /api/guardians': {
      permission: 'guardians:write',
      prepare: async (caller) => ({
        path: '/api/guardians',
        body: forCaller(caller, { name: 'New parent', phone: uniquePhone() }),
      }),
    },
    'PATCH /api/guardians/{id}': {
      permission: 'guardians:write',
      prepare: async () => ({
        path: `/api/guardians/${await make.guardian()}`,
        body: { whatsappOptIn: true },
      }),
    },
    'DELETE /api/guardians/{id}': {
      permission: 'guardians:write',
      prepare: async () => ({ path: `/api/guardians/${await make.guardian()}` }),
    },
    'PUT /api/students/{id}/guardians/{guardianId}': {
      permission: 'guardians:write',
      prepare: async () => ({
        path: `/api/students/${await make.student()}/guardians/${await make.guardian()}`,
        body: { relation: 'father', isPrimaryPayer: true },
      }),
    },
    'DELETE /api/students/{id}/guardians/{guardianId}': {
      permission: 'guardians:write',
      prepare: async () => ({ path: await make.link() }),
    },
    'POST /api/fee-plans': {
      permission: 'fee_plans:write',
      prepare: async (caller) => ({
        path: '/api/fee-plans',
        body: forCaller(caller, {
          name: `Plan ${unique()}`,
          academicYear: '2026-27',
          heads: [{ name: 'Tuition', amountMinor: 1_000 }],
          instalments: [{ label: 'All', dueDate: day(49), sharePercent: 100 }],
        }),
      }),
    },
    'POST /api/fee-plans/{id}/issue': {
      permission: 'invoices:write',
      prepare: async () => ({
        path: `/api/fee-plans/${await make.feePlan()}/issue`,
        body: { studentIds: [await make.student()] },
      }),
    },
    'POST /api/invoices': {
      permission: 'invoices:write',
      prepare: async (caller) => ({
        path: '/api/invoices',
        body: forCaller(caller, {
          studentId: await make.student(),
          dueDate: day(71),
          lines: [{ description: 'Books', quantity: 2, unitAmountMinor: 1_500 }],
        }),
      }),
    },
    'PATCH /api/invoices/{id}': {
      permission: 'invoices:write',
      prepare: async () => ({
        path: `/api/invoices/${await make.invoice()}`,
        body: { notes: 'Due after the holidays', dueDate: day(59) },
      }),
    },
    'DELETE /api/invoices/{id}': {
      permission: 'invoices:write',
      prepare: async () => ({ path: `/api/invoices/${await make.invoice()}` }),
    },
    'POST /api/invoices/{id}/void': {
      permission: 'invoices:write',
      spent: true,
      prepare: async () => ({
        path: `/api/invoices/${await make.invoice()}/void`,
        body: { reason: 'Issued in error' },
      }),
    },
    'POST /api/invoices/{id}/payments': {
      permission: 'payments:write',
      prepare: async () => ({
        path: `/api/invoices/${await make.invoice()}/payments`,
        body: { amountMinor: 2_500, method: 'bank_transfer', reference: 'NEFT-1' },
        headers: { 'idempotency-key': randomUUID() },
      }),
    },
    'POST /api/invoices/{id}/payment-link': {
      permission: 'payments:write',
      prepare: async () => ({
        path: `/api/invoices/${await make.invoice()}/payment-link`,
        body: { provider: 'razorpay' },
      }),
    },
    'POST /api/reconciliation/{id}/match': {
      permission: 'reconciliation:write',
      spent: true,
      prepare: async () => ({
        path: `/api/reconciliation/${await make.reconciliationItem()}/match`,
        body: { invoiceId: await make.invoice() },
      }),
    },
    'POST /api/reconciliation/{id}/dismiss': {
      permission: 'reconciliation:write',
      spent: true,
      prepare: async () => ({
        path: `/api/reconciliation/${await make.reconciliationItem()}/dismiss`,
        body: { reason: 'Paid at the bank counter instead' },
      }),
    },
    'POST /api/invoices/{id}/pdf': {
      permission: 'invoices:read',
      prepare: async () => ({ path: `/api/invoices/${await make.invoice()}/pdf` }),
    },
    'POST /api/invoices/pdf': {
      permission: 'invoices:read',
      prepare: async (caller) => ({
        path: '/api/invoices/pdf',
        body: forCaller(caller, { invoiceIds: [await make.invoice()] }),
      }),
    },
    'PUT /api/schools/{id}/logo': {
      permission: 'schools:update',
      prepare: async () => ({
        path: `/api/schools/${schoolId}/logo`,
        body: tinyPng(),
        headers: { 'content-type': 'image/png' },
      }),
    },
    'DELETE /api/schools/{id}/logo': {
      permission: 'schools:update',
      prepare: async () => ({ path: `/api/schools/${schoolId}/logo` }),
    },
    'POST /api/reports': {
      permission: 'reports:write',
      prepare: async () => ({ path: '/api/reports', body: { kind: 'aging', schoolId } }),
    },
    'POST /api/report-schedules': {
      permission: 'reports:write',
      prepare: async () => ({
        path: '/api/report-schedules',
        body: { kind: 'aging', params: { schoolId }, cron: '0 6 * * 1' },
      }),
    },
    'DELETE /api/report-schedules/{id}': {
      permission: 'reports:write',
      prepare: async () => ({ path: `/api/report-schedules/${await make.reportSchedule()}` }),
    },
    'POST /api/payments/{id}/refunds': {
      permission: 'refunds:write',
      spent: true,
      prepare: async () => ({
        path: `/api/payments/${await make.payment()}/refunds`,
        body: { amountMinor: 1_000, reason: 'Overcharged' },
      }),
    },
  };

  const writeKeys = operationKeys.filter((key) => !key.startsWith('GET ') && !key.includes(' /api/auth/'));
  const send = (caller: Caller | null, key: string, prepared: Prepared) =>
    api.request(caller, key.split(' ')[0]!, prepared.path, {
      body: prepared.body,
      headers: prepared.headers,
    });
  /** A response is one the document promises for this operation (not just `default`). */
  const documented = (key: string, status: number) =>
    Object.keys(operation(key)?.responses ?? {}).includes(String(status));
  const successStatus = (key: string) =>
    Number(Object.keys(operation(key).responses).find((code) => code.startsWith('2')));

  it("grants in the code (PERMISSIONS) exactly what README's table documents, role by role", () => {
    const sorted = (entries: [string, Iterable<Role>][]) =>
      Object.fromEntries(entries.map(([permission, roles]) => [permission, [...roles].sort()]));
    expect(sorted(Object.entries(PERMISSIONS))).toEqual(sorted([...EXPECTED]));
  });

  it('has a row for every write route in the document, guarded by the permission the row names', () => {
    expect(writeKeys.sort()).toEqual(Object.keys(WRITE_ROUTES).sort());
    for (const [key, route] of Object.entries(WRITE_ROUTES)) {
      expect(operation(key)?.['x-permission'], key).toBe(route.permission);
      expect(PERMISSIONS[route.permission], key).toBeDefined();
    }
  });

  it(
    'lets exactly the roles README names make each write: others 403, anonymous 401',
    { timeout: 90_000 },
    async () => {
      const failures: string[] = [];
      for (const key of Object.keys(WRITE_ROUTES)) {
        const route = WRITE_ROUTES[key]!;
        for (const role of ROLES) {
          const caller = callers[role];
          const res = await send(caller, key, await route.prepare(caller));
          const problem = PROBLEM.test(res.headers.get('content-type') ?? '');
          if (allowed(role, route.permission)) {
            if (res.status !== successStatus(key))
              failures.push(`${role} ${key}: ${res.status} ${JSON.stringify(res.body)}`);
          } else if (res.status !== 403 || !problem || res.body.code !== 'forbidden') {
            failures.push(
              `${role} ${key}: expected 403 problem, got ${res.status} ${JSON.stringify(res.body)}`,
            );
          }
          if (!documented(key, res.status))
            failures.push(`${role} ${key}: ${res.status} is not in the document`);
        }
        const anonymous = await send(null, key, await route.prepare(api.admin));
        if (
          anonymous.status !== 401 ||
          !PROBLEM.test(anonymous.headers.get('content-type') ?? '') ||
          anonymous.body.code !== 'unauthenticated'
        ) {
          failures.push(`anonymous ${key}: ${anonymous.status}`);
        }
        const forged = await send(
          { ...api.admin, token: `${api.admin.token.slice(0, -4)}AAAA` },
          key,
          await route.prepare(api.admin),
        );
        if (forged.status !== 401) failures.push(`forged token ${key}: ${forged.status}`);
      }
      expect(failures).toEqual([]);
    },
  );

  it('lets exactly the roles README names read each route: others 403, anonymous 401', async () => {
    const [classId, studentId, guardianId, feePlanId, userId, paymentId, reportId, scheduleId] =
      await Promise.all([
        make.klass(),
        make.student(),
        make.guardian(),
        make.feePlan(),
        make.user(),
        make.payment(),
        make.report(),
        make.reportSchedule(),
      ]);
    const invoiceId = await make.invoice(studentId);
    // Its PDF rendered (as the worker would), and a batch the worker has finished, so every read has something to answer.
    await publishInvoiceDocument(api.documents, invoiceId);
    const batch = await api.request(setupAccountant, 'POST', '/api/invoices/pdf', {
      body: { invoiceIds: [invoiceId] },
    });
    await api.db
      .updateTable('pdfBatches')
      .set({ status: 'completed', failed: 1 })
      .where('id', '=', batch.body.batchId)
      .execute();
    const fill = (path: string) =>
      path
        .replace('/api/pdf-batches/{id}', `/api/pdf-batches/${batch.body.batchId}`)
        .replace('/api/schools/{id}', `/api/schools/${schoolId}`)
        .replace('/api/classes/{id}', `/api/classes/${classId}`)
        .replace('/api/students/{id}', `/api/students/${studentId}`)
        .replace('/api/guardians/{id}', `/api/guardians/${guardianId}`)
        .replace('/api/fee-plans/{id}', `/api/fee-plans/${feePlanId}`)
        .replace('/api/invoices/{id}', `/api/invoices/${invoiceId}`)
        .replace('/api/payments/{id}', `/api/payments/${paymentId}`)
        .replace('/api/reports/{id}', `/api/reports/${reportId}`)
        .replace('/api/report-schedules/{id}', `/api/report-schedules/${scheduleId}`)
        .replace('{userId}', userId);
    // Reads whose query is required: what each role sends (a platform admin names the school).
    const today = daysFromToday(0, 'Asia/Kolkata');
    const READ_QUERIES: Record<string, string> = {
      'GET /api/analytics/collections': `?schoolId=${schoolId}&from=${daysFromToday(-30, 'Asia/Kolkata')}&to=${today}`,
      'GET /api/analytics/students': `?schoolId=${schoolId}`,
      'GET /api/analytics/fee-heads': `?schoolId=${schoolId}`,
      'GET /api/analytics/dashboard': `?schoolId=${schoolId}`,
    };
    const reads = operationKeys.filter((key) => key.startsWith('GET ') && operation(key)['x-permission']);
    expect(reads.length).toBeGreaterThanOrEqual(19);
    const failures: string[] = [];
    for (const key of reads) {
      const permission: Permission = operation(key)['x-permission'];
      const path = fill(key.slice(4)) + (READ_QUERIES[key] ?? '');
      expect(path, key).not.toContain('{');
      for (const role of ROLES) {
        const res = await api.request(callers[role], 'GET', path);
        const expected = allowed(role, permission) ? 200 : 403;
        if (res.status !== expected) failures.push(`${role} ${key}: ${res.status}, expected ${expected}`);
        if (expected === 403 && res.body.code !== 'forbidden')
          failures.push(`${role} ${key}: not a forbidden problem`);
      }
      const anonymous = await api.request(null, 'GET', path);
      if (anonymous.status !== 401) failures.push(`anonymous ${key}: ${anonymous.status}`);
    }
    expect(failures).toEqual([]);
  });

  it('lets a teacher read students but not money, and shows a guardian no staff route', async () => {
    const studentId = await make.student();
    const invoiceId = await make.invoice(studentId);
    const teacher = callers.teacher;
    expect((await api.request(teacher, 'GET', '/api/students')).status).toBe(200);
    expect((await api.request(teacher, 'GET', `/api/students/${studentId}`)).status).toBe(200);
    expect((await api.request(teacher, 'GET', '/api/classes')).status).toBe(200);
    for (const path of [
      '/api/invoices',
      `/api/invoices/${invoiceId}`,
      `/api/students/${studentId}/statement`,
      `/api/schools/${schoolId}/statement`,
      '/api/audit',
    ]) {
      const res = await api.request(teacher, 'GET', path);
      expect(res.status, path).toBe(403);
      expect(res.headers.get('content-type')).toMatch(PROBLEM);
    }
    const guardian = callers.guardian;
    for (const path of [
      '/api/students',
      `/api/students/${studentId}`,
      '/api/classes',
      '/api/guardians',
      '/api/schools',
      `/api/invoices/${invoiceId}`,
    ]) {
      const res = await api.request(guardian, 'GET', path);
      expect(res.status, path).toBe(403);
      expect(res.body).toMatchObject({ status: 403, code: 'forbidden' });
    }
    // Still a real login: the guardian can see who they are.
    expect((await api.request(guardian, 'GET', '/api/me')).body).toMatchObject({
      role: 'guardian',
      schoolId,
    });
  });

  // ── Nothing a client sends produces a 5xx ──

  const BAD_VALUES: unknown[] = [
    1e30,
    -1e30,
    -1,
    0,
    0.5,
    Number.MAX_SAFE_INTEGER + 2,
    MAX_AMOUNT_MINOR + 1,
    'a\u0000b',
    '\u0000',
    'x'.repeat(10_000),
    '',
    '   ',
    '\u202e\ud800',
    '0000-01-01',
    '2026-02-30',
    '99999-01-01T00:00:00Z',
    "'; drop table invoices; --",
    [],
    [1, 2],
    {},
    { nested: { deeper: [null] } },
    null,
    true,
  ];

  /** The body with the value at `path` replaced, for every leaf (array items: the first). */
  function mutations(body: unknown): { path: string; body: unknown }[] {
    const out: { path: string; body: unknown }[] = [];
    const walk = (node: unknown, at: (string | number)[]) => {
      for (const value of BAD_VALUES) {
        if (!at.length) {
          // A string body is sent as is; encode it, so the server sees a JSON string rather than junk.
          out.push({ path: '(body)', body: typeof value === 'string' ? JSON.stringify(value) : value });
          continue;
        }
        const copy: any = structuredClone(body);
        let parent = copy;
        for (const step of at.slice(0, -1)) parent = parent[step];
        parent[at.at(-1)!] = value;
        out.push({ path: at.join('.'), body: copy });
      }
      if (Array.isArray(node)) {
        if (node.length) walk(node[0], [...at, 0]);
      } else if (node && typeof node === 'object') {
        for (const key of Object.keys(node)) walk((node as Record<string, unknown>)[key], [...at, key]);
      }
    };
    walk(body, []);
    return out;
  }

  /** Runs `work` over `items`, a few at a time: thousands of requests one by one take too long. */
  async function inBatches<T>(items: T[], work: (item: T) => Promise<void>, size = 16) {
    for (let start = 0; start < items.length; start += size)
      await Promise.all(items.slice(start, start + size).map(work));
  }

  /**
   * Gives each attempt its own values for fields that must be unique, so an
   * attempt that happens to succeed cannot turn every later one into a 409
   * that stops before the field under test is looked at.
   */
  const freshen = (body: unknown, mutated: string) => {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
    const copy: Record<string, unknown> = { ...body };
    const fresh: Record<string, () => string> = {
      name: () => `${String(copy.name)} ${unique()}`,
      admissionNo: () => `F-${unique()}`,
      email: () => `f-${unique()}@matrix.test`,
      phone: uniquePhone,
    };
    for (const [key, value] of Object.entries(fresh)) {
      if (key in copy && key !== mutated && typeof copy[key] === 'string') copy[key] = value();
    }
    return copy;
  };

  it('never answers 5xx to malformed bodies on any POST, PATCH or PUT', { timeout: 120_000 }, async () => {
    const failures: string[] = [];
    const bodyRoutes = Object.keys(WRITE_ROUTES).filter((key) => !key.startsWith('DELETE '));
    for (const key of bodyRoutes) {
      const route = WRITE_ROUTES[key]!;
      for (const caller of [api.admin, callers.school_admin]) {
        if (!allowed(caller.role, route.permission)) continue;
        const prepared = await route.prepare(caller);
        const cases = [
          ...mutations(prepared.body ?? {}),
          { path: 'extra key', body: { ...(prepared.body as object), surprise: 1 } },
          {
            path: '__proto__',
            body: JSON.parse('{"__proto__": {"role": "platform_admin"}, "constructor": {"prototype": {}}}'),
          },
          { path: 'array of bodies', body: [prepared.body] },
          { path: 'raw: truncated JSON', body: '{"a":' },
          { path: 'raw: deep nesting', body: `${'['.repeat(5_000)}${']'.repeat(5_000)}` },
          { path: 'raw: not JSON', body: 'amountMinor=1' },
        ];
        await inBatches(cases, async ({ path, body }) => {
          const target = route.spent ? (await route.prepare(caller)).path : prepared.path;
          const res = await api.request(caller, key.split(' ')[0]!, target, {
            body: freshen(body, path),
            // A payment needs a new key per attempt, or it replays (or refuses) the first.
            headers: prepared.headers ? { 'idempotency-key': randomUUID() } : undefined,
          });
          if (res.status >= 500) {
            failures.push(
              `${caller.role} ${key} ${path}=${JSON.stringify(body).slice(0, 80)}: ${res.status} ${JSON.stringify(res.body)}`,
            );
          }
        });
      }
    }
    expect(failures).toEqual([]);
  });

  it('holds an invoice total to MAX_AMOUNT_MINOR, and answers no 5xx at the limits of amounts', async () => {
    const studentId = await make.student();
    const maxLine = { description: 'Max', quantity: 10_000, unitAmountMinor: MAX_AMOUNT_MINOR };
    const cases: [Caller, string, string, unknown, number][] = [
      // One line of 10,000 × 10^13 is 10^17 minor units, past 2^53; 100 of them overflow a PostgreSQL bigint.
      // An invoice total is one amount, held to MAX_AMOUNT_MINOR like any other.
      [setupAccountant, 'POST', '/api/invoices', { studentId, dueDate: day(40), lines: [maxLine] }, 422],
      [
        setupAccountant,
        'POST',
        '/api/invoices',
        { studentId, dueDate: day(40), lines: Array.from({ length: 100 }, () => maxLine) },
        422,
      ],
      [
        setupAccountant,
        'PATCH',
        `/api/invoices/${await make.invoice()}`,
        { lines: Array.from({ length: 100 }, () => maxLine) },
        422,
      ],
      [
        setupAccountant,
        'POST',
        '/api/invoices',
        {
          studentId,
          dueDate: day(40),
          lines: [{ description: 'Exactly the limit', quantity: 1, unitAmountMinor: MAX_AMOUNT_MINOR }],
        },
        201,
      ],
      [
        setupAccountant,
        'POST',
        '/api/fee-plans',
        {
          name: `Huge ${unique()}`,
          academicYear: '2026-27',
          heads: Array.from({ length: 50 }, (_, i) => ({ name: `Head ${i}`, amountMinor: MAX_AMOUNT_MINOR })),
          instalments: [{ label: 'All', dueDate: day(49), sharePercent: 100 }],
        },
        // Its invoices would be over the cap that POST /api/invoices holds to.
        422,
      ],
      [
        setupAccountant,
        'POST',
        '/api/fee-plans',
        {
          name: `At the limit ${unique()}`,
          academicYear: '2026-27',
          heads: [
            { name: 'Tuition', amountMinor: MAX_AMOUNT_MINOR - 1 },
            { name: 'Books', amountMinor: 1 },
          ],
          instalments: [{ label: 'All', dueDate: day(49), sharePercent: 100 }],
        },
        201,
      ],
    ];
    const failures: string[] = [];
    for (const [caller, method, path, body, expected] of cases) {
      const res = await api.request(caller, method, path, { body });
      if (res.status !== expected) {
        failures.push(
          `${method} ${path} (${JSON.stringify(body).length} bytes): ${res.status}, expected ${expected} ${JSON.stringify(res.body)}`,
        );
      }
    }
    // Whatever was accepted, the lists and statements that sum it must still answer.
    for (const path of [
      `/api/students/${studentId}/statement`,
      `/api/schools/${schoolId}/statement`,
      '/api/invoices?limit=200',
      '/api/fee-plans?limit=200',
      `/api/students/${studentId}`,
    ]) {
      const res = await api.request(setupAccountant, 'GET', path);
      if (res.status >= 500)
        failures.push(`GET ${path} afterwards: ${res.status} ${JSON.stringify(res.body)}`);
    }
    expect(failures).toEqual([]);
  });

  it('never answers 5xx to malformed ids in the path, headers or query', async () => {
    const failures: string[] = [];
    const badIds = [
      'not-a-uuid',
      '1',
      '00000000-0000-0000-0000-00000000000g',
      `${randomUUID()}x`,
      '%00',
      '%E0%A4%A',
      "'%20OR%201=1--",
      'x'.repeat(2_000),
    ];
    const idRoutes = operationKeys.filter((key) => key.includes('{') && !key.includes(' /api/auth/'));
    for (const key of idRoutes) {
      const [method, template] = key.split(' ') as [string, string];
      for (const bad of badIds) {
        const path = template.replace(/\{\w+\}/g, bad);
        const res = await api.request(api.admin, method, path, {
          body: method === 'GET' || method === 'DELETE' ? undefined : {},
          headers: { 'idempotency-key': randomUUID() },
        });
        if (res.status >= 500)
          failures.push(`${method} ${path.slice(0, 80)}: ${res.status} ${JSON.stringify(res.body)}`);
        // A plainly malformed id is a validation error, not "not found" (the public pay page and
        // document links, addressed by signed tokens rather than ids, answer 404 to any bad token).
        const signed = template.startsWith('/api/pay/i/') || template.startsWith('/api/documents/');
        if (bad === 'not-a-uuid' && res.status !== 422 && !signed)
          failures.push(`${method} ${path}: ${res.status}, expected 422`);
      }
    }
    const invoiceId = await make.invoice();
    for (const key of ['', 'short', ' spaced key ', 'ü'.repeat(20), 'x'.repeat(300)]) {
      const res = await api.request(setupAccountant, 'POST', `/api/invoices/${invoiceId}/payments`, {
        body: { amountMinor: 1, method: 'cash' },
        headers: { 'idempotency-key': key },
      });
      if (res.status !== 422)
        failures.push(`Idempotency-Key ${JSON.stringify(key.slice(0, 20))}: ${res.status}`);
    }
    const studentId = await make.student();
    const queries = [
      '/api/invoices?limit=1e30',
      '/api/invoices?offset=-1',
      '/api/invoices?limit=10&limit=20',
      '/api/invoices?dueFrom=2026-02-30',
      '/api/invoices?dueFrom=0000-01-01',
      '/api/invoices?status[]=paid',
      '/api/students?q=%00',
      '/api/students?q=%25%5F%5C',
      '/api/students?sort=__proto__',
      '/api/guardians?whatsappOptIn=yes',
      '/api/classes?schoolId=not-a-uuid',
      '/api/audit?entityId=%00',
      `/api/audit?entityType=${'x'.repeat(5_000)}`,
      `/api/students/${studentId}/statement?asOf=0000-01-01`,
      `/api/students/${studentId}/statement?asOf=9999-12-31`,
      `/api/students/${studentId}/statement?from=2027-01-01&to=2026-01-01`,
      `/api/schools/${schoolId}/statement?asOf=0000-01-01`,
      `/api/schools/${schoolId}/statement?asOf=2026-13-01`,
      `/api/schools/${schoolId}/statement?offset=1000000&limit=200`,
      '/api/reconciliation?status=everything',
      '/api/reconciliation?schoolId=%00',
      '/api/reconciliation?limit=0',
    ];
    for (const path of queries) {
      const res = await api.request(api.admin, 'GET', path);
      if (res.status >= 500)
        failures.push(`GET ${path.slice(0, 100)}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    for (const [contentType, body] of [
      ['text/plain', '{"name":"x"}'],
      ['application/x-www-form-urlencoded', 'name=x'],
      ['application/json; charset=latin1', '{"name":"x"}'],
    ] as const) {
      const res = await api.request(setupAdmin, 'POST', '/api/classes', {
        body,
        headers: { 'content-type': contentType },
      });
      if (res.status >= 500) failures.push(`POST /api/classes as ${contentType}: ${res.status}`);
    }
    const huge = await api.request(setupAdmin, 'POST', '/api/classes', {
      body: { name: 'x'.repeat(3_000_000) },
    });
    if (huge.status >= 500) failures.push(`3 MB body: ${huge.status}`);
    expect(failures).toEqual([]);
  });
});
