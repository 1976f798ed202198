import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { formatMoney } from '@bursar/contracts';
import { createDocumentDeps, publishInvoiceDocument, schoolLogoKey } from '@bursar/documents';
import { documentUrl, payPageUrl } from '@bursar/payments';
import { createLogger } from '@bursar/platform';
import { daysFromToday, pdfText, tinyPng } from '@bursar/test-support';
import { createTestApi, type Caller } from '../testing/harness.js';
import { startFakeProviders } from '../testing/fake-providers.js';

const PROBLEM = /^application\/problem\+json/;

describe('invoice and receipt PDFs over the api', async () => {
  const providers = await startFakeProviders();
  const api = await createTestApi({ env: providers.env });
  const schoolId = await api.createSchool({ name: 'Greenfield Public School' });
  const otherSchoolId = await api.createSchool();
  const accountant = await api.callerFor('accountant', schoolId);
  const outsider = await api.callerFor('accountant', otherSchoolId);
  const teacher = await api.callerFor('teacher', schoolId);
  const schoolAdmin = await api.callerFor('school_admin', schoolId);
  const build = api.build(accountant);
  const studentId = await api.rows.student(schoolId, { firstName: 'Zoë', lastName: 'Łukasz' });

  const invoice = (amountMinor = 125_000) =>
    build.invoice({ studentId, dueDate: daysFromToday(30, 'Asia/Kolkata'), amountMinor });
  /** Renders as the worker does (the same function), without a queue. */
  const render = (invoiceId: string) => publishInvoiceDocument(api.documents, invoiceId);
  const get = (caller: Caller | null, path: string, headers: Record<string, string> = {}) =>
    fetch(`${api.url}${path}`, {
      headers: { ...headers, ...(caller ? { authorization: `Bearer ${caller.token}` } : {}) },
      redirect: 'manual',
    });

  it('answers 404 problem+json until the first PDF exists, then serves it inline under its number', async () => {
    const created = await invoice();
    const before = await get(accountant, `/api/invoices/${created.id}/pdf`);
    expect(before.status).toBe(404);
    expect(before.headers.get('content-type')).toMatch(PROBLEM);
    expect(((await before.json()) as { detail: string }).detail).toContain(created.number);

    await render(created.id);
    const response = await get(accountant, `/api/invoices/${created.id}/pdf`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/pdf');
    expect(response.headers.get('content-disposition')).toBe(`inline; filename="${created.number}.pdf"`);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(Number(response.headers.get('content-length'))).toBe(bytes.length);
    const text = pdfText(bytes);
    expect(text).toContain(created.number);
    expect(text).toContain('Zoë Łukasz');
    expect(text).toContain(formatMoney(125_000, 'INR', 'en-IN'));

    // The same version again: 304 on its ETag.
    const etag = response.headers.get('etag')!;
    expect((await get(accountant, `/api/invoices/${created.id}/pdf`, { 'if-none-match': etag })).status).toBe(
      304,
    );
  });

  it('queues a render on request (202 with the job id), through the outbox', async () => {
    const created = await invoice();
    const response = await api.request(accountant, 'POST', `/api/invoices/${created.id}/pdf`);
    expect(response.status).toBe(202);
    expect(response.body.jobId).toMatch(new RegExp(`^invoice-pdf\\.render\\.${created.id}\\.request\\.`));
    const row = await api.db
      .selectFrom('outbox')
      .select(['jobName', 'queue'])
      .where('jobId', '=', response.body.jobId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ jobName: 'invoice-pdf.render', queue: 'invoice-pdf' });
  });

  it('serves the stored version after a payment and asks for a fresh one, once per state', async () => {
    const created = await invoice(10_000);
    await render(created.id);
    await api.db.deleteFrom('outbox').execute();
    // Written without the triggers, as if the change's own render request were lost.
    await api.db.transaction().execute(async (trx) => {
      await sql`set local session_replication_role = replica`.execute(trx);
      await trx.updateTable('invoices').set({ paidMinor: 4_000n }).where('id', '=', created.id).execute();
    });
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await get(accountant, `/api/invoices/${created.id}/pdf`);
      expect(response.status).toBe(200);
      expect(pdfText(Buffer.from(await response.arrayBuffer()))).toContain(
        formatMoney(10_000, 'INR', 'en-IN'),
      );
    }
    const requests = await api.db
      .selectFrom('outbox')
      .select('jobId')
      .where('jobName', '=', 'invoice-pdf.render')
      .execute();
    expect(requests).toHaveLength(2);
    expect(new Set(requests.map((request) => request.jobId)).size).toBe(1);
    expect(requests[0]!.jobId).toContain('.stale.partial.6000.1');
  });

  it("renders a payment's receipt on first request, with the amount and the balance it left", async () => {
    const created = await invoice(50_000);
    const { payment } = await build.payment(created.id, 20_000, { method: 'upi', reference: 'UPI-42' });
    const response = await get(accountant, `/api/payments/${payment.id}/receipt.pdf`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/pdf');
    const text = pdfText(Buffer.from(await response.arrayBuffer()));
    expect(text).toContain(created.number);
    expect(text).toContain('UPI-42');
    expect(text).toContain(formatMoney(20_000, 'INR', 'en-IN'));
    expect(text).toContain(formatMoney(30_000, 'INR', 'en-IN'));
    const stored = await api.db
      .selectFrom('documents')
      .select('version')
      .where('subjectId', '=', payment.id)
      .execute();
    expect(stored).toEqual([{ version: 1 }]);
  });

  it("keeps another school's PDFs, receipts and renders to that school, and roles to finance staff", async () => {
    const created = await invoice();
    await render(created.id);
    const { payment } = await build.payment(created.id, 1_000, { method: 'cash' });
    for (const path of [`/api/invoices/${created.id}/pdf`, `/api/payments/${payment.id}/receipt.pdf`]) {
      const response = await get(outsider, path);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(PROBLEM);
      expect((await get(teacher, path)).status).toBe(403);
      expect((await get(null, path)).status).toBe(401);
    }
    expect((await api.request(outsider, 'POST', `/api/invoices/${created.id}/pdf`)).status).toBe(404);
    expect((await api.request(teacher, 'POST', `/api/invoices/${created.id}/pdf`)).status).toBe(403);
    // A platform admin reads any school's.
    expect((await get(api.admin, `/api/invoices/${created.id}/pdf`)).status).toBe(200);
    expect((await get(accountant, '/api/invoices/not-a-uuid/pdf')).status).toBe(422);
  });

  describe('school logos', () => {
    const upload = (caller: Caller, body: Buffer, type = 'image/png', school = schoolId) =>
      fetch(`${api.url}/api/schools/${school}/logo`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${caller.token}`, 'content-type': type },
        body,
      });

    it('takes a PNG from a school admin and prints it; refuses what is not an image', async () => {
      expect((await upload(schoolAdmin, tinyPng())).status).toBe(204);
      const created = await invoice();
      const result = await render(created.id);
      expect(result?.warnings).toEqual([]);
      expect(result?.document.storageKey).toBeDefined();

      for (const body of [Buffer.from('<svg/>'), Buffer.alloc(0), Buffer.from('GIF89a....')]) {
        const response = await upload(schoolAdmin, body, 'image/svg+xml');
        expect(response.status).toBe(415);
        expect(response.headers.get('content-type')).toMatch(PROBLEM);
      }
      expect((await upload(schoolAdmin, Buffer.alloc(1024 * 1024 + 1, 1))).status).toBe(413);
      expect((await upload(accountant, tinyPng())).status).toBe(403);
      expect((await upload(schoolAdmin, tinyPng(), 'image/png', otherSchoolId)).status).toBe(404);
    });

    it('renders without a logo that cannot be read, and says so in the log', async () => {
      const lines: string[] = [];
      const deps = createDocumentDeps({
        db: api.db,
        storage: api.documents.storage,
        payLink: (id) => payPageUrl(api.config.PUBLIC_URL, api.config.PAY_LINK_SECRET, id),
        logger: createLogger('documents-test', 'warn', { write: (line: string) => void lines.push(line) }),
      });
      // Bytes that claim to be a PNG but are not one (a truncated upload).
      await api.documents.storage.put(schoolLogoKey(schoolId), tinyPng().subarray(0, 30), {
        contentType: 'application/octet-stream',
      });
      await api.db
        .updateTable('schools')
        .set({ logoUpdatedAt: new Date() })
        .where('id', '=', schoolId)
        .execute();
      const created = await invoice();
      const result = await publishInvoiceDocument(deps, created.id);
      expect(result?.rendered).toBe(true);
      expect(result?.warnings.length).toBeGreaterThan(0);
      expect(pdfText((await api.documents.storage.getBuffer(result!.document.storageKey))!)).toContain(
        created.number,
      );
      expect(
        lines.some((line) => line.includes('document rendered with omissions') && line.includes(created.id)),
      ).toBe(true);
      expect(
        (
          await fetch(`${api.url}/api/schools/${schoolId}/logo`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${schoolAdmin.token}` },
          })
        ).status,
      ).toBe(204);
    });
  });

  it("serves a document's current version at its signed public address, for WhatsApp, and nothing at a forged one", async () => {
    const created = await invoice(7_000);
    await render(created.id);
    const genuine = documentUrl(api.url, api.config.PAY_LINK_SECRET, 'invoice', created.id).replace(
      api.url,
      '',
    );
    const response = await get(null, genuine);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/pdf');
    expect(pdfText(Buffer.from(await response.arrayBuffer()))).toContain(created.number);
    const forged = documentUrl(api.url, 'another-secret-0123456789', 'invoice', created.id).replace(
      api.url,
      '',
    );
    for (const path of [
      forged,
      genuine.replace('/invoice/', '/receipt/'),
      `/api/documents/invoice/${created.id}.pdf`,
    ]) {
      const refused = await get(null, path);
      expect(refused.status, path).toBe(404);
      expect(refused.headers.get('content-type')).toMatch(PROBLEM);
    }
  });

  describe('the pay link printed on invoices', () => {
    it('opens a provider checkout for the current balance, and says when nothing is left to pay', async () => {
      const created = await invoice(9_000);
      const link = payPageUrl(api.url, api.config.PAY_LINK_SECRET, created.id).replace(api.url, '');
      const response = await get(null, link);
      expect(response.status).toBe(303);
      const location = response.headers.get('location')!;
      const stored = await api.db
        .selectFrom('paymentLinks')
        .select(['url', 'amountMinor', 'provider', 'createdBy'])
        .where('invoiceId', '=', created.id)
        .execute();
      expect(stored).toEqual([{ url: location, amountMinor: 9_000n, provider: 'razorpay', createdBy: null }]);
      // Scanned again while the link is open: the same checkout, no second provider link.
      expect((await get(null, link)).headers.get('location')).toBe(location);

      await build.payment(created.id, 9_000, { method: 'cash' });
      const paid = await get(null, link);
      expect(paid.status).toBe(200);
      expect(await paid.text()).toContain('nothing left to pay');
    });

    it('is refused when its signature is not genuine, without naming anything', async () => {
      const created = await invoice();
      const genuine = payPageUrl(api.url, api.config.PAY_LINK_SECRET, created.id).replace(api.url, '');
      const forged = payPageUrl(api.url, 'another-secret-0123456789', created.id).replace(api.url, '');
      for (const path of [forged, `${genuine}x`, '/api/pay/i/nonsense', `/api/pay/i/${created.id}`]) {
        const response = await get(null, path);
        expect(response.status).toBe(404);
        const text = await response.text();
        expect(text).not.toContain(created.number);
      }
    });
  });
});
