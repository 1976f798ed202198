import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { uniquePhone, uniqueTag } from '@bursar/test-support';
import { startNotify } from '../testing/harness.js';
import { CSV_PAGE_SIZE } from './campaigns.service.js';

/** RFC 4180 as a spreadsheet reads it: quoted cells may hold commas, quotes (doubled) and line breaks. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      record.push(cell);
      cell = '';
    } else if (char === '\r' && text[i + 1] === '\n') {
      record.push(cell);
      records.push(record);
      record = [];
      cell = '';
      i++;
    } else cell += char;
  }
  if (cell || record.length) throw new Error('the CSV does not end with CRLF');
  return records;
}

const HEADER = [
  'messageId',
  'guardianId',
  'guardianName',
  'phone',
  'status',
  'reason',
  'errorCode',
  'sentAt',
  'deliveredAt',
  'readAt',
];

describe('GET /notify/campaigns/:id/recipients', async () => {
  const notify = await startNotify();
  const { db, rows } = notify;
  const schoolId = await rows.school();
  const admin = await notify.callerFor('accountant', schoolId);
  const template = await db
    .insertInto('whatsappTemplates')
    .values({
      schoolId,
      name: `recipients_${uniqueTag()}`,
      language: 'en',
      category: 'utility',
      body: 'Hello {{1}}.',
      paramCount: 1,
      status: 'approved',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const created = await notify.request(admin, 'POST', '/notify/campaigns', {
    body: { name: 'Everyone', templateId: template.id, params: ['guardian.name'], audience: {} },
  });
  const campaignId = created.body.id as string;

  // Names a spreadsheet would run as formulas, and ones that need quoting.
  const names = [
    '=HYPERLINK("http://evil.example","click")',
    '+91 call me',
    '-2+3',
    '@SUM(A1:A9)',
    'Rao, Meena',
    'Anil "Andy" Kumar',
    'Plain Name',
  ];
  const special: { id: string; name: string; phone: string; status: string }[] = [];
  for (const [index, name] of names.entries()) {
    const phone = uniquePhone();
    const guardianId = await rows.guardian(schoolId, { name, phone });
    const status = index % 2 === 0 ? 'delivered' : 'excluded';
    const message = await db
      .insertInto('whatsappMessages')
      .values({
        schoolId,
        purpose: 'campaign',
        campaignId,
        guardianId,
        phone,
        dedupeKey: `recipients.${randomUUID()}`,
        status,
        reason: status === 'excluded' ? 'opted_out' : null,
        sentAt: status === 'delivered' ? new Date(Date.now() - 60_000) : null,
        deliveredAt: status === 'delivered' ? new Date(Date.now() - 30_000) : null,
        createdAt: new Date(Date.now() - (names.length - index) * 1000),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    special.push({ id: message.id, name, phone, status });
  }
  // Enough more to take the export past two of its pages.
  const bulkCount = CSV_PAGE_SIZE * 2 + 37;
  const bulkGuardians = await db
    .insertInto('guardians')
    .values(
      Array.from({ length: bulkCount }, (_, i) => ({ schoolId, name: `Parent ${i}`, phone: uniquePhone() })),
    )
    .returning(['id', 'phone'])
    .execute();
  const bulk = await db
    .insertInto('whatsappMessages')
    .values(
      bulkGuardians.map((guardian) => ({
        schoolId,
        purpose: 'campaign',
        campaignId,
        guardianId: guardian.id,
        phone: guardian.phone,
        dedupeKey: `recipients.${randomUUID()}`,
        status: 'queued',
      })),
    )
    .returning('id')
    .execute();
  const total = names.length + bulkCount;

  it('lists recipients a page at a time in the order they were created, numbers masked', async () => {
    const page = await notify.request(admin, 'GET', `/notify/campaigns/${campaignId}/recipients?limit=5`);
    expect(page.status).toBe(200);
    expect(page.body.pagination).toEqual({ limit: 5, offset: 0, total });
    expect(page.body.data.map((r: { messageId: string }) => r.messageId)).toEqual(
      special.slice(0, 5).map((s) => s.id),
    );
    const [first] = page.body.data;
    expect(first).toEqual({
      messageId: special[0]!.id,
      guardianId: expect.any(String),
      guardianName: names[0],
      phone: `+91******${special[0]!.phone.slice(-4)}`,
      status: 'delivered',
      reason: null,
      errorCode: null,
      sentAt: expect.any(String),
      deliveredAt: expect.any(String),
      readAt: null,
    });
    const next = await notify.request(
      admin,
      'GET',
      `/notify/campaigns/${campaignId}/recipients?limit=5&offset=5`,
    );
    expect(next.body.data.map((r: { messageId: string }) => r.messageId).slice(0, 2)).toEqual(
      special.slice(5).map((s) => s.id),
    );
    const excluded = await notify.request(
      admin,
      'GET',
      `/notify/campaigns/${campaignId}/recipients?status=excluded`,
    );
    expect(excluded.body.pagination.total).toBe(special.filter((s) => s.status === 'excluded').length);
    expect(excluded.body.data.every((r: { reason: string }) => r.reason === 'opted_out')).toBe(true);
    // No whole number anywhere in the answers.
    for (const { phone } of special) {
      expect(page.text + next.text + excluded.text).not.toContain(phone.slice(3));
    }
  });

  it('exports every recipient as CSV: a header, all rows, formulas neutralised, numbers masked', async () => {
    const response = await notify.request(
      admin,
      'GET',
      `/notify/campaigns/${campaignId}/recipients?format=csv&limit=1`,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toContain(`campaign-${campaignId}-recipients.csv`);
    const [header, ...records] = parseCsv(response.text);
    expect(header).toEqual(HEADER);
    expect(records).toHaveLength(total);
    const ids = records.map((record) => record[0]);
    expect(new Set(ids).size).toBe(total);
    expect(ids.slice(0, names.length)).toEqual(special.map((s) => s.id));
    expect(new Set(ids.slice(names.length))).toEqual(new Set(bulk.map((row) => row.id)));

    const nameCells = records.slice(0, names.length).map((record) => record[2]);
    expect(nameCells).toEqual([
      `'=HYPERLINK("http://evil.example","click")`,
      "'+91 call me",
      "'-2+3",
      "'@SUM(A1:A9)",
      'Rao, Meena',
      'Anil "Andy" Kumar',
      'Plain Name',
    ]);
    for (const record of records) {
      // A masked number starts with + and so is neutralised too; no whole number is in the file.
      expect(record[3]).toMatch(/^'\+91\*{6}\d{4}$/);
      expect(record).toHaveLength(HEADER.length);
    }
    expect(records[0]!.slice(4, 6)).toEqual(['delivered', '']);
    expect(Date.parse(records[0]![7]!)).not.toBeNaN();
    for (const { phone } of special) expect(response.text).not.toContain(phone.slice(3));
  });

  it('exports only the recipients of the status asked for', async () => {
    const response = await notify.request(
      admin,
      'GET',
      `/notify/campaigns/${campaignId}/recipients?format=csv&status=delivered`,
    );
    const [header, ...records] = parseCsv(response.text);
    expect(header).toEqual(HEADER);
    expect(records.map((record) => record[0])).toEqual(
      special.filter((s) => s.status === 'delivered').map((s) => s.id),
    );
    const none = await notify.request(
      admin,
      'GET',
      `/notify/campaigns/${campaignId}/recipients?format=csv&status=read`,
    );
    expect(parseCsv(none.text)).toEqual([HEADER]);
  });

  it('answers a campaign of another school, as CSV too, with a 404 problem', async () => {
    const otherSchool = await rows.school();
    const other = await notify.callerFor('school_admin', otherSchool);
    const response = await notify.request(
      other,
      'GET',
      `/notify/campaigns/${campaignId}/recipients?format=csv`,
    );
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const bad = await notify.request(admin, 'GET', `/notify/campaigns/${campaignId}/recipients?format=xlsx`);
    expect(bad.status).toBe(422);
  });

  it('writes no phone number into its logs', () => {
    const logs = notify.logs.join('');
    expect(logs).toContain('/recipients');
    for (const { phone } of special) expect(logs).not.toContain(phone.slice(3));
    for (const guardian of bulkGuardians.slice(0, 50)) expect(logs).not.toContain(guardian.phone.slice(3));
  });
});
