import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import type { DB, FeePlanHeads, FeePlanInstalments, FeePlans } from '@bursar/db';
import type { PaginationQuery } from '@bursar/contracts';
import { liveSchoolIds } from '../schools/schools.repository.js';

type Db = Kysely<DB> | Transaction<DB>;

export type FeePlanRow = NonNullable<Awaited<ReturnType<typeof findFeePlan>>>;

/** A fee plan of a live school within `scope` (null: any school), with its heads and instalments. */
export async function findFeePlan(db: Db, scope: string | null, id: string) {
  // A deleted school's plans are gone with it.
  let query = db
    .selectFrom('feePlans')
    .selectAll()
    .where('id', '=', id)
    .where('schoolId', 'in', liveSchoolIds(db));
  if (scope) query = query.where('schoolId', '=', scope);
  const plan = await query.executeTakeFirst();
  if (!plan) return undefined;
  const [row] = await withHeadsAndInstalments(db, [plan]);
  return row;
}

/** A page of fee plans, newest first, in four queries whatever its size: rows, heads, instalments, count. */
export async function listFeePlans(db: Db, scope: string | null, page: PaginationQuery) {
  let base = db.selectFrom('feePlans').where('schoolId', 'in', liveSchoolIds(db));
  if (scope) base = base.where('schoolId', '=', scope);
  const [plans, count] = await Promise.all([
    base
      .selectAll()
      .orderBy('createdAt', 'desc')
      .orderBy('id')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows: await withHeadsAndInstalments(db, plans), total: count.n };
}

/** The plans with their heads and instalments (each in position order), two queries for all of them. */
async function withHeadsAndInstalments<T extends { id: string }>(db: Db, plans: T[]) {
  const ids = plans.map((plan) => plan.id);
  const [heads, instalments] = ids.length
    ? await Promise.all([
        db
          .selectFrom('feePlanHeads')
          .select(['feePlanId', 'name', 'amountMinor'])
          .where('feePlanId', 'in', ids)
          .orderBy('feePlanId')
          .orderBy('position')
          .execute(),
        db
          .selectFrom('feePlanInstalments')
          .select(['feePlanId', 'id', 'label', 'dueDate', 'shareBps'])
          .where('feePlanId', 'in', ids)
          .orderBy('feePlanId')
          .orderBy('position')
          .execute(),
      ])
    : [[], []];
  const headsOf = groupBy(heads, (head) => head.feePlanId);
  const instalmentsOf = groupBy(instalments, (instalment) => instalment.feePlanId);
  return plans.map((plan) => ({
    ...plan,
    heads: headsOf.get(plan.id) ?? [],
    instalments: instalmentsOf.get(plan.id) ?? [],
  }));
}

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const group = groups.get(key(row));
    if (group) group.push(row);
    else groups.set(key(row), [row]);
  }
  return groups;
}

export function insertFeePlan(db: Db, values: Insertable<FeePlans>) {
  return db.insertInto('feePlans').values(values).returning('id').executeTakeFirstOrThrow();
}

export async function insertFeePlanHeads(db: Db, heads: Insertable<FeePlanHeads>[]): Promise<void> {
  await db.insertInto('feePlanHeads').values(heads).execute();
}

export async function insertFeePlanInstalments(
  db: Db,
  instalments: Insertable<FeePlanInstalments>[],
): Promise<void> {
  await db.insertInto('feePlanInstalments').values(instalments).execute();
}

/** The time zone a school's "today" is taken in. */
export async function schoolTimezone(db: Db, schoolId: string): Promise<string> {
  const school = await db
    .selectFrom('schools')
    .select('timezone')
    .where('id', '=', schoolId)
    .executeTakeFirstOrThrow();
  return school.timezone;
}

/** The ids of a class's active students: who a plan issued to the class bills. */
export async function activeStudentIdsOfClass(db: Db, classId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('students')
    .select('id')
    .where('classId', '=', classId)
    .where('status', '=', 'active')
    .execute();
  return rows.map((row) => row.id);
}

/** Which of `ids` are students of the school. */
export async function studentIdsInSchool(db: Db, schoolId: string, ids: string[]): Promise<Set<string>> {
  const rows = await db
    .selectFrom('students')
    .select('id')
    .where('id', 'in', ids)
    .where('schoolId', '=', schoolId)
    .execute();
  return new Set(rows.map((row) => row.id));
}
