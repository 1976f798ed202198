import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type {
  AnalyticsCollectionsQuery,
  AnalyticsFeeHeadsQuery,
  AnalyticsStudentsQuery,
  CollectionsResult,
  Dashboard,
  DashboardQuery,
  FeeHeadAnalyticsList,
  StudentAnalyticsList,
} from '@bursar/contracts';
import {
  collectionsReport,
  feeHeadAnalytics,
  platformDashboard,
  platformVersion,
  reportSchoolAndVersion,
  schoolDashboard,
  studentAnalytics,
  todayIn,
  type ReportSchool,
} from '@bursar/ledger';
import { notFound, type Caller } from '@bursar/platform';
import type { AnalyticsCache } from './analytics.cache.js';

/** What the analytics answers are computed from and cached in. */
export interface AnalyticsDeps {
  db: Kysely<DB>;
  cache: AnalyticsCache;
}

/**
 * The school a caller asks about: staff ask about their own (naming another
 * is 404, as for any id), a platform admin names one. Undefined when a
 * platform admin names none (only the dashboard allows that).
 */
function schoolFor(caller: Caller, requested: string | undefined): string | undefined {
  if (caller.role === 'platform_admin') return requested;
  if (!caller.schoolId || (requested && requested !== caller.schoolId)) throw notFound('School');
  return caller.schoolId;
}

/** The school (404 unless it exists) and its money version, in one query (a cached read costs little more). */
async function schoolAndVersion(db: Kysely<DB>, schoolId: string) {
  const { school, version } = await reportSchoolAndVersion(db, schoolId);
  return { school, version: String(version) };
}

/** One school's answer for `endpoint`, cached under its money version and `query`. */
async function cachedForSchool<T>(
  { db, cache }: AnalyticsDeps,
  schoolId: string,
  endpoint: string,
  query: Record<string, unknown>,
  compute: (school: ReportSchool) => Promise<T>,
): Promise<T> {
  const { school, version } = await schoolAndVersion(db, schoolId);
  return cache.through({ scope: school.id, version, endpoint, query }, () => compute(school));
}

/**
 * The dashboard: a school's, or for a platform admin who names none, the
 * totals of every school per currency. A school's answer also depends on the
 * day it is there (today, this month, the trend), so its date is in the key.
 */
export async function getDashboard(
  deps: AnalyticsDeps,
  caller: Caller,
  query: DashboardQuery,
  now: Date = new Date(),
): Promise<Dashboard> {
  const schoolId = schoolFor(caller, query.schoolId);
  if (!schoolId) return getPlatformDashboard(deps, now);
  const { school, version } = await schoolAndVersion(deps.db, schoolId);
  const today = todayIn(school.timezone, now);
  return deps.cache.through({ scope: school.id, version, endpoint: 'dashboard', query: { today } }, () =>
    schoolDashboard(deps.db, school, today),
  );
}

/** Keyed by every school's version and the local date in every zone a school is in. */
async function getPlatformDashboard({ db, cache }: AnalyticsDeps, now: Date) {
  const { version, zones } = await platformVersion(db);
  const days = zones.map((zone) => `${zone}=${todayIn(zone, now)}`);
  return cache.through({ scope: 'platform', version, endpoint: 'dashboard', query: { days } }, () =>
    platformDashboard(db, now),
  );
}

/** `collectionsReport` for the school; a class must be the school's (another school's is 404). */
export async function getCollections(
  deps: AnalyticsDeps,
  caller: Caller,
  query: AnalyticsCollectionsQuery,
): Promise<CollectionsResult> {
  const schoolId = schoolFor(caller, query.schoolId)!;
  const { schoolId: _school, ...rest } = query;
  return cachedForSchool(deps, schoolId, 'collections', rest, async (school) => {
    if (query.classId) {
      const found = await deps.db
        .selectFrom('classes')
        .select('id')
        .where('id', '=', query.classId)
        .where('schoolId', '=', school.id)
        .executeTakeFirst();
      if (!found) throw notFound('Class');
    }
    return collectionsReport(deps.db, { ...rest, schoolId: school.id });
  });
}

export async function getStudentAnalytics(
  deps: AnalyticsDeps,
  caller: Caller,
  query: AnalyticsStudentsQuery,
): Promise<StudentAnalyticsList> {
  const schoolId = schoolFor(caller, query.schoolId)!;
  const { schoolId: _school, ...rest } = query;
  return cachedForSchool(deps, schoolId, 'students', rest, (school) =>
    studentAnalytics(deps.db, school, rest),
  );
}

export async function getFeeHeadAnalytics(
  deps: AnalyticsDeps,
  caller: Caller,
  query: AnalyticsFeeHeadsQuery,
): Promise<FeeHeadAnalyticsList> {
  const schoolId = schoolFor(caller, query.schoolId)!;
  const { schoolId: _school, ...rest } = query;
  return cachedForSchool(deps, schoolId, 'fee-heads', rest, (school) =>
    feeHeadAnalytics(deps.db, school, rest),
  );
}
