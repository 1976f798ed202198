/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies and the OpenAPI document are walked as plain JSON */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { can, type Permission } from '@bursar/platform';
import { publishInvoiceDocument } from '@bursar/documents';
import { daysFromToday, tinyPng } from '@bursar/test-support';
import { createTestApi, type Caller } from './testing/harness.js';
import { storeReconciliationItem } from './testing/provider-events.js';

const day = (offset: number) => daysFromToday(offset, 'Asia/Kolkata');

/**
 * Tenancy: staff of school B can neither see nor change anything of school A.
 * Every route that takes an id is driven with A's ids by B's staff and must
 * answer exactly what it answers for an id that does not exist (404, or a 403
 * that the role gets whatever the id), and A's data must be the same after.
 */
describe('tenancy: another school is invisible and untouchable', async () => {
  const api = await createTestApi();
  const tag = randomUUID().slice(0, 8);

  /** A school with one of everything, built over HTTP by its own staff. */
  async function buildSchool(name: string) {
    const schoolId = await api.createSchool({ name: `${name} ${tag}` });
    const admin = await api.callerFor('school_admin', schoolId);
    const accountant = await api.callerFor('accountant', schoolId);
    const ok = (res: { status: number; body: any }) => {
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
      return res.body;
    };
    const byAdmin = api.build(admin);
    const byAccountant = api.build(accountant);
    const klass = await byAdmin.class({ name: 'Grade 5', grade: '5', section: 'A', academicYear: '2026-27' });
    const student = await byAdmin.student({
      firstName: 'Meera',
      lastName: name,
      admissionNo: 'T-1',
      classId: klass.id,
    });
    // The same phone in both schools: a number is unique within a school, not across them.
    const guardian = await byAdmin.guardian({ name: `Parent ${name}`, phone: '+919812345678' });
    ok(
      await api.request(admin, 'PUT', `/api/students/${student.id}/guardians/${guardian.id}`, {
        body: { relation: 'father', isPrimaryPayer: true },
      }),
    );
    const feePlan = ok(
      await api.request(accountant, 'POST', '/api/fee-plans', {
        body: {
          name: 'Annual',
          academicYear: '2026-27',
          heads: [{ name: 'Tuition', amountMinor: 90_000 }],
          instalments: [{ label: 'Full year', dueDate: day(54), sharePercent: 100 }],
        },
      }),
    );
    const invoice = await byAccountant.invoice({
      studentId: student.id,
      issueDate: day(-21),
      dueDate: day(9),
      amountMinor: 40_000,
    });
    const receipt = await byAccountant.payment(invoice.id, 15_000, { method: 'cash' });
    // Provider money waiting in the school's reconciliation inbox, as the worker leaves it.
    const item = await storeReconciliationItem(api.db, { schoolId, amountMinor: 5_000 });
    await publishInvoiceDocument(api.documents, invoice.id);
    const batch = ok(
      await api.request(accountant, 'POST', '/api/invoices/pdf', { body: { invoiceIds: [invoice.id] } }),
    );
    const report = ok(
      await api.request(accountant, 'POST', '/api/reports', { body: { kind: 'aging', schoolId } }),
    );
    const schedule = ok(
      await api.request(accountant, 'POST', '/api/report-schedules', {
        body: { kind: 'aging', params: { schoolId }, cron: '0 6 * * 1' },
      }),
    );
    return {
      schoolId,
      admin,
      accountant,
      reportId: report.id as string,
      reportScheduleId: schedule.id as string,
      userId: accountant.userId,
      classId: klass.id as string,
      studentId: student.id as string,
      guardianId: guardian.id as string,
      feePlanId: feePlan.id as string,
      invoiceId: invoice.id as string,
      paymentId: receipt.payment.id as string,
      reconciliationItemId: item.id,
      pdfBatchId: batch.batchId as string,
    };
  }
  type School = Awaited<ReturnType<typeof buildSchool>>;

  const a = await buildSchool('A');
  const b = await buildSchool('B');
  const bTeacher = await api.callerFor('teacher', b.schoolId);

  /**
   * Every route with an id in its path: which ids go where (always the target
   * school's), and a body valid enough that only the id can make it fail.
   */
  interface IdRoute {
    path: (s: School) => string;
    body?: (s: School) => unknown;
    headers?: () => Record<string, string>;
  }
  const ID_ROUTES: Record<string, IdRoute> = {
    'GET /api/schools/{id}': { path: (s) => `/api/schools/${s.schoolId}` },
    'PATCH /api/schools/{id}': {
      path: (s) => `/api/schools/${s.schoolId}`,
      body: () => ({ name: 'Taken over' }),
    },
    'DELETE /api/schools/{id}': { path: (s) => `/api/schools/${s.schoolId}` },
    'GET /api/schools/{id}/users': { path: (s) => `/api/schools/${s.schoolId}/users` },
    'POST /api/schools/{id}/users': {
      path: (s) => `/api/schools/${s.schoolId}/users`,
      body: () => ({
        email: `intruder-${randomUUID()}@bursar.test`,
        name: 'Intruder',
        role: 'school_admin',
        password: 'intruder-password',
      }),
    },
    'GET /api/schools/{id}/users/{userId}': { path: (s) => `/api/schools/${s.schoolId}/users/${s.userId}` },
    'PATCH /api/schools/{id}/users/{userId}': {
      path: (s) => `/api/schools/${s.schoolId}/users/${s.userId}`,
      body: () => ({ name: 'Hijacked', password: 'hijacked-password-1' }),
    },
    'GET /api/schools/{id}/statement': { path: (s) => `/api/schools/${s.schoolId}/statement` },
    'GET /api/classes/{id}': { path: (s) => `/api/classes/${s.classId}` },
    'PATCH /api/classes/{id}': {
      path: (s) => `/api/classes/${s.classId}`,
      body: () => ({ name: 'Renamed' }),
    },
    'DELETE /api/classes/{id}': { path: (s) => `/api/classes/${s.classId}` },
    'GET /api/students/{id}': { path: (s) => `/api/students/${s.studentId}` },
    'PATCH /api/students/{id}': {
      path: (s) => `/api/students/${s.studentId}`,
      body: () => ({ status: 'left' }),
    },
    'DELETE /api/students/{id}': { path: (s) => `/api/students/${s.studentId}` },
    'GET /api/students/{id}/statement': { path: (s) => `/api/students/${s.studentId}/statement` },
    'PUT /api/students/{id}/guardians/{guardianId}': {
      path: (s) => `/api/students/${s.studentId}/guardians/${s.guardianId}`,
      body: () => ({ relation: 'uncle', isPrimaryPayer: false }),
    },
    'DELETE /api/students/{id}/guardians/{guardianId}': {
      path: (s) => `/api/students/${s.studentId}/guardians/${s.guardianId}`,
    },
    'GET /api/guardians/{id}': { path: (s) => `/api/guardians/${s.guardianId}` },
    'PATCH /api/guardians/{id}': {
      path: (s) => `/api/guardians/${s.guardianId}`,
      body: () => ({ phone: '+919800000001' }),
    },
    'DELETE /api/guardians/{id}': { path: (s) => `/api/guardians/${s.guardianId}` },
    'GET /api/fee-plans/{id}': { path: (s) => `/api/fee-plans/${s.feePlanId}` },
    'POST /api/fee-plans/{id}/issue': {
      path: (s) => `/api/fee-plans/${s.feePlanId}/issue`,
      body: (s) => ({ classId: s.classId }),
    },
    'GET /api/invoices/{id}': { path: (s) => `/api/invoices/${s.invoiceId}` },
    'PATCH /api/invoices/{id}': {
      path: (s) => `/api/invoices/${s.invoiceId}`,
      body: () => ({ dueDate: day(400) }),
    },
    'DELETE /api/invoices/{id}': { path: (s) => `/api/invoices/${s.invoiceId}` },
    'POST /api/invoices/{id}/void': {
      path: (s) => `/api/invoices/${s.invoiceId}/void`,
      body: () => ({ reason: 'Not yours' }),
    },
    'GET /api/invoices/{id}/payments': { path: (s) => `/api/invoices/${s.invoiceId}/payments` },
    'POST /api/invoices/{id}/payments': {
      path: (s) => `/api/invoices/${s.invoiceId}/payments`,
      body: () => ({ amountMinor: 1, method: 'cash' }),
      headers: () => ({ 'idempotency-key': randomUUID() }),
    },
    'POST /api/invoices/{id}/payment-link': {
      path: (s) => `/api/invoices/${s.invoiceId}/payment-link`,
      body: () => ({ provider: 'razorpay' }),
    },
    'POST /api/reconciliation/{id}/match': {
      path: (s) => `/api/reconciliation/${s.reconciliationItemId}/match`,
      body: (s) => ({ invoiceId: s.invoiceId }),
    },
    'POST /api/reconciliation/{id}/dismiss': {
      path: (s) => `/api/reconciliation/${s.reconciliationItemId}/dismiss`,
      body: () => ({ reason: 'Not yours' }),
    },
    'GET /api/payments/{id}': { path: (s) => `/api/payments/${s.paymentId}` },
    'GET /api/payments/{id}/receipt.pdf': { path: (s) => `/api/payments/${s.paymentId}/receipt.pdf` },
    'GET /api/invoices/{id}/pdf': { path: (s) => `/api/invoices/${s.invoiceId}/pdf` },
    'POST /api/invoices/{id}/pdf': { path: (s) => `/api/invoices/${s.invoiceId}/pdf` },
    'GET /api/pdf-batches/{id}': { path: (s) => `/api/pdf-batches/${s.pdfBatchId}` },
    'GET /api/pdf-batches/{id}/download': { path: (s) => `/api/pdf-batches/${s.pdfBatchId}/download` },
    'PUT /api/schools/{id}/logo': {
      path: (s) => `/api/schools/${s.schoolId}/logo`,
      body: () => tinyPng(),
      headers: () => ({ 'content-type': 'image/png' }),
    },
    'DELETE /api/schools/{id}/logo': { path: (s) => `/api/schools/${s.schoolId}/logo` },
    'GET /api/reports/{id}': { path: (s) => `/api/reports/${s.reportId}` },
    'GET /api/reports/{id}/export.csv': { path: (s) => `/api/reports/${s.reportId}/export.csv` },
    'GET /api/reports/{id}/export.pdf': { path: (s) => `/api/reports/${s.reportId}/export.pdf` },
    'GET /api/report-schedules/{id}': { path: (s) => `/api/report-schedules/${s.reportScheduleId}` },
    'DELETE /api/report-schedules/{id}': { path: (s) => `/api/report-schedules/${s.reportScheduleId}` },
    'POST /api/payments/{id}/refunds': {
      path: (s) => `/api/payments/${s.paymentId}/refunds`,
      body: () => ({ amountMinor: 15_000, reason: 'Steal it back' }),
    },
  };

  /** Ids that exist nowhere: what a route answers for them is what it must answer for another school's. */
  const ghost: School = {
    ...b,
    schoolId: randomUUID(),
    userId: randomUUID(),
    classId: randomUUID(),
    studentId: randomUUID(),
    guardianId: randomUUID(),
    feePlanId: randomUUID(),
    invoiceId: randomUUID(),
    paymentId: randomUUID(),
    reconciliationItemId: randomUUID(),
    pdfBatchId: randomUUID(),
    reportId: randomUUID(),
    reportScheduleId: randomUUID(),
  };

  const spec = (await api.request(null, 'GET', '/api/openapi.json')).body;
  const operations: { key: string; permission: Permission }[] = [];
  for (const [path, item] of Object.entries<any>(spec.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      // The public pay page and document links are addressed by signed tokens, not by tenancy
      // (their own tests forge tokens).
      if (!path.includes('{') || path.startsWith('/api/pay/i/') || path.startsWith('/api/documents/'))
        continue;
      operations.push({ key: `${method.toUpperCase()} ${path}`, permission: op['x-permission'] });
    }
  }
  // Reads first and deletes last, so a leaking write could not hide behind an earlier delete.
  const ORDER = ['GET', 'PUT', 'PATCH', 'POST', 'DELETE'];
  operations.sort((x, y) => ORDER.indexOf(x.key.split(' ')[0]!) - ORDER.indexOf(y.key.split(' ')[0]!));

  const send = (caller: Caller, key: string, target: School) => {
    const route = ID_ROUTES[key]!;
    return api.request(caller, key.split(' ')[0]!, route.path(target), {
      body: route.body?.(target),
      headers: route.headers?.(),
    });
  };

  /** What A looks like to A's own staff: everything B might have read or touched. */
  async function snapshotA() {
    const asAdmin = [
      '/api/schools/{s}',
      '/api/schools/{s}/users?limit=200',
      '/api/classes/{c}',
      '/api/students/{st}',
      '/api/guardians/{g}',
    ];
    const asAccountant = [
      '/api/fee-plans/{f}',
      '/api/invoices/{i}',
      '/api/invoices/{i}/payments',
      '/api/payments/{p}',
      `/api/students/{st}/statement?asOf=${day(191)}`,
      `/api/schools/{s}/statement?asOf=${day(191)}`,
      '/api/invoices?limit=200',
      '/api/audit?limit=200',
      '/api/reconciliation?limit=200',
      '/api/pdf-batches?limit=200',
      '/api/pdf-batches/{b}',
      '/api/reports/{r}',
      '/api/reports?limit=200',
      '/api/report-schedules/{rs}',
    ];
    const fill = (path: string) =>
      path
        .replace('{s}', a.schoolId)
        .replace('{c}', a.classId)
        .replace('{st}', a.studentId)
        .replace('{g}', a.guardianId)
        .replace('{f}', a.feePlanId)
        .replace('{i}', a.invoiceId)
        .replace('{p}', a.paymentId)
        .replace('{b}', a.pdfBatchId)
        .replace('{rs}', a.reportScheduleId)
        .replace('{r}', a.reportId);
    const read = async (caller: Caller, path: string) => {
      const res = await api.request(caller, 'GET', fill(path));
      expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(200);
      return [path, res.body] as const;
    };
    const user = await api.request(a.admin, 'GET', `/api/schools/${a.schoolId}/users/${a.userId}`);
    expect(user.status).toBe(200);
    return Object.fromEntries([
      ...(await Promise.all(asAdmin.map((path) => read(a.admin, path)))),
      ...(await Promise.all(asAccountant.map((path) => read(a.accountant, path)))),
      ['accountant', user.body],
    ]);
  }

  it('has a row in its table for every route with an id in its path, and none that no longer exist', () => {
    expect(operations.map((op) => op.key).sort()).toEqual(Object.keys(ID_ROUTES).sort());
  });

  it("answers B's staff for every one of A's ids exactly as for an id that does not exist, and A is unchanged", async () => {
    const before = await snapshotA();
    const failures: string[] = [];
    for (const caller of [b.admin, b.accountant, bTeacher]) {
      for (const { key, permission } of operations) {
        const permitted = can(caller.role, permission);
        const expected = permitted ? 404 : 403;
        const onA = await send(caller, key, a);
        const onGhost = await send(caller, key, ghost);
        if (onA.status !== expected || onGhost.status !== expected) {
          failures.push(
            `${caller.role} ${key}: A's id → ${onA.status}, unknown id → ${onGhost.status}, expected ${expected}`,
          );
        }
        if (
          !Object.keys(spec.paths[key.split(' ')[1]!][key.split(' ')[0]!.toLowerCase()].responses).includes(
            String(expected),
          )
        ) {
          failures.push(`${key}: the document does not list ${expected}`);
        }
        if (onA.status === 404 && onGhost.status === 404) {
          // Same words too, so the detail cannot tell "exists elsewhere" from "does not exist".
          if (onA.body.detail !== onGhost.body.detail) {
            failures.push(
              `${caller.role} ${key}: detail differs: "${onA.body.detail}" vs "${onGhost.body.detail}"`,
            );
          }
          expect(onA.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(await snapshotA()).toEqual(before);
  });

  it("refuses to mix A's ids into B's own routes and bodies", async () => {
    const before = await snapshotA();
    const cases: [Caller, string, string, unknown, number][] = [
      // A's row under B's own parent in the path.
      [b.admin, 'GET', `/api/schools/${b.schoolId}/users/${a.userId}`, undefined, 404],
      [b.admin, 'PATCH', `/api/schools/${b.schoolId}/users/${a.userId}`, { name: 'Hijacked' }, 404],
      [b.admin, 'PUT', `/api/students/${b.studentId}/guardians/${a.guardianId}`, { relation: 'aunt' }, 404],
      [b.admin, 'PUT', `/api/students/${a.studentId}/guardians/${b.guardianId}`, { relation: 'aunt' }, 404],
      [b.admin, 'DELETE', `/api/students/${b.studentId}/guardians/${a.guardianId}`, undefined, 404],
      [b.admin, 'DELETE', `/api/students/${a.studentId}/guardians/${b.guardianId}`, undefined, 404],
      // A's ids inside B's bodies: another school's reference is not a valid value.
      // B's own provider money onto A's invoice: the invoice is not B's to name.
      [
        b.accountant,
        'POST',
        `/api/reconciliation/${b.reconciliationItemId}/match`,
        { invoiceId: a.invoiceId },
        404,
      ],
      [b.accountant, 'POST', `/api/fee-plans/${b.feePlanId}/issue`, { classId: a.classId }, 422],
      [b.accountant, 'POST', `/api/fee-plans/${b.feePlanId}/issue`, { studentIds: [a.studentId] }, 422],
      [
        b.admin,
        'POST',
        '/api/students',
        { firstName: 'X', lastName: 'Y', admissionNo: `X-${tag}`, classId: a.classId },
        422,
      ],
      [b.admin, 'PATCH', `/api/students/${b.studentId}`, { classId: a.classId }, 422],
    ];
    const failures: string[] = [];
    for (const [caller, method, path, body, expected] of cases) {
      const res = await api.request(caller, method, path, { body });
      if (res.status !== expected)
        failures.push(`${caller.role} ${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    expect(failures).toEqual([]);
    expect(await snapshotA()).toEqual(before);
  });

  it("answers 404 to an invoice for A's student from B's staff, and 422 to a platform admin naming B", async () => {
    const body = {
      studentId: a.studentId,
      dueDate: day(40),
      lines: [{ description: 'Fee', quantity: 1, unitAmountMinor: 100 }],
    };
    for (const caller of [b.admin, b.accountant]) {
      const res = await api.request(caller, 'POST', '/api/invoices', { body });
      expect(res.status, JSON.stringify(res.body)).toBe(404);
    }
    expect(Object.keys(spec.paths['/api/invoices'].post.responses)).toContain('404');
    // The student names its school; a platform admin's schoolId that contradicts it is refused, naming the field.
    const admin = await api.request(api.admin, 'POST', '/api/invoices', {
      body: { ...body, schoolId: b.schoolId },
    });
    expect(admin.status, JSON.stringify(admin.body)).toBe(422);
    expect(admin.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.schoolId']);
    const invoices = await api.request(a.accountant, 'GET', `/api/invoices?studentId=${a.studentId}`);
    expect(invoices.body.data.map((i: { id: string }) => i.id)).toEqual([a.invoiceId]);
  });

  it('never lists A’s rows to B, whatever filter B sends', async () => {
    const aIds = [
      a.schoolId,
      a.userId,
      a.admin.userId,
      a.classId,
      a.studentId,
      a.guardianId,
      a.feePlanId,
      a.invoiceId,
      a.paymentId,
    ];
    const lists: [Caller, string][] = [
      [b.admin, '/api/schools?limit=200'],
      [b.admin, `/api/schools/${b.schoolId}/users?limit=200`],
      [b.admin, '/api/classes?limit=200'],
      [b.admin, '/api/students?limit=200'],
      [b.admin, `/api/students?classId=${a.classId}`],
      [b.admin, '/api/guardians?limit=200'],
      [b.admin, `/api/guardians?studentId=${a.studentId}`],
      [b.accountant, '/api/fee-plans?limit=200'],
      [b.accountant, '/api/invoices?limit=200'],
      [b.accountant, `/api/invoices?studentId=${a.studentId}`],
      [b.accountant, '/api/audit?limit=200'],
      [b.accountant, `/api/audit?entityType=invoice&entityId=${a.invoiceId}`],
      [b.accountant, `/api/schools/${b.schoolId}/statement?limit=200`],
      [bTeacher, '/api/students?limit=200'],
      [bTeacher, '/api/classes?limit=200'],
    ];
    const failures: string[] = [];
    for (const [caller, path] of lists) {
      const res = await api.request(caller, 'GET', path);
      if (res.status !== 200) {
        failures.push(`${caller.role} GET ${path}: ${res.status}`);
        continue;
      }
      const text = JSON.stringify(res.body);
      const leaked = aIds.filter((id) => text.includes(id));
      if (leaked.length) failures.push(`${caller.role} GET ${path} leaks ${leaked.join(', ')}`);
      // Everything listed is B's (the school list is the one list of schools themselves).
      for (const row of res.body.data ?? res.body.students?.data ?? []) {
        if ('schoolId' in row && row.schoolId !== b.schoolId)
          failures.push(`${caller.role} GET ${path}: row of ${row.schoolId}`);
      }
    }
    // A staff member's schoolId filter names no other school: it is refused or ignored, never honoured.
    for (const path of [
      '/api/classes',
      '/api/students',
      '/api/guardians',
      '/api/fee-plans',
      '/api/invoices',
      '/api/audit',
    ]) {
      const res = await api.request(b.accountant, 'GET', `${path}?schoolId=${a.schoolId}`);
      if (res.status === 200) {
        const leaked = aIds.filter((id) => JSON.stringify(res.body).includes(id));
        if (leaked.length) failures.push(`GET ${path}?schoolId=A leaks ${leaked.join(', ')}`);
      } else if (res.status !== 422) {
        failures.push(`GET ${path}?schoolId=A: ${res.status}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('refuses a schoolId in a staff create body (422), even their own school’s', async () => {
    const bodies: [Caller, string, Record<string, unknown>][] = [
      [b.admin, '/api/classes', { name: `C ${randomUUID()}`, grade: '1', academicYear: '2026-27' }],
      [b.admin, '/api/students', { firstName: 'A', lastName: 'B', admissionNo: `S-${randomUUID()}` }],
      [b.admin, '/api/guardians', { name: 'G', phone: '+919811111111' }],
      [
        b.accountant,
        '/api/fee-plans',
        {
          name: `P ${randomUUID()}`,
          academicYear: '2026-27',
          heads: [{ name: 'Tuition', amountMinor: 100 }],
          instalments: [{ label: 'All', dueDate: day(40), sharePercent: 100 }],
        },
      ],
      [
        b.accountant,
        '/api/invoices',
        {
          studentId: b.studentId,
          dueDate: day(40),
          lines: [{ description: 'Fee', quantity: 1, unitAmountMinor: 100 }],
        },
      ],
    ];
    const failures: string[] = [];
    for (const [caller, path, body] of bodies) {
      for (const schoolId of [a.schoolId, b.schoolId]) {
        const res = await api.request(caller, 'POST', path, { body: { ...body, schoolId } });
        const paths = (res.body.errors ?? []).map((e: { path: string }) => e.path);
        if (res.status !== 422 || !paths.includes('body.schoolId')) {
          failures.push(
            `${caller.role} POST ${path} schoolId=${schoolId === a.schoolId ? 'A' : 'own'}: ${res.status} ${JSON.stringify(res.body)}`,
          );
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('makes a platform admin say which school on every create but an invoice (422 without schoolId)', async () => {
    const bodies: [string, Record<string, unknown>][] = [
      ['/api/classes', { name: `C ${randomUUID()}`, grade: '1', academicYear: '2026-27' }],
      ['/api/students', { firstName: 'A', lastName: 'B', admissionNo: `S-${randomUUID()}` }],
      ['/api/guardians', { name: 'G', phone: '+919822222222' }],
      [
        '/api/fee-plans',
        {
          name: `P ${randomUUID()}`,
          academicYear: '2026-27',
          heads: [{ name: 'Tuition', amountMinor: 100 }],
          instalments: [{ label: 'All', dueDate: day(40), sharePercent: 100 }],
        },
      ],
    ];
    const failures: string[] = [];
    for (const [path, body] of bodies) {
      const res = await api.request(api.admin, 'POST', path, { body });
      if (res.status !== 422) failures.push(`platform_admin POST ${path} without schoolId: ${res.status}`);
    }
    expect(failures).toEqual([]);
    // An invoice is the exception: its student already names the school.
    const invoice = await api.build(api.admin).invoice({ studentId: b.studentId, dueDate: day(40) });
    expect(invoice.schoolId).toBe(b.schoolId);
  });
});
