import { z } from 'zod';
import { Id, IsoDateTime, PaginationQuery, paginated } from './common.js';
import { nonEmptyPatch, PlainText, SearchText, SortParam } from './list.js';

/**
 * The consecutive-year rule as a pattern: the last two digits of the first
 * year, then those of the next (`…00-01` to `…99-00`), so a client generating
 * from the document produces only years the server takes.
 */
const ACADEMIC_YEAR_PATTERN = `^\\d{2}(?:${Array.from({ length: 100 }, (_, yy) => {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(yy)}-${pad((yy + 1) % 100)}`;
}).join('|')})$`;

/** An academic year spanning two calendar years, `YYYY-YY` (`2026-27`). */
export const AcademicYear = z
  .string()
  .regex(/^\d{4}-\d{2}$/, { message: 'must look like 2026-27', abort: true })
  .refine(
    (year) => (Number(year.slice(0, 4)) + 1) % 100 === Number(year.slice(5)),
    'the second year must follow the first (2026-27)',
  )
  .meta({
    description:
      'An academic year, `YYYY-YY`: the year it starts and the last two digits of the next ' +
      'year (`2026-27`, `2099-00`). `2026-28` and `2026-26` are refused.',
    pattern: ACADEMIC_YEAR_PATTERN,
    examples: ['2026-27'],
  });
export type AcademicYear = z.infer<typeof AcademicYear>;

const ClassName = PlainText(1, 80);
const Grade = PlainText(1, 20);
/** A section within a grade (`A`, `B`); empty when the grade has one. */
const Section = PlainText(0, 20);

/**
 * `POST /api/classes`. `schoolId` only from a platform admin. A school has
 * one class per (academic year, name, section) (409).
 */
export const CreateClassBody = z.strictObject({
  name: ClassName,
  grade: Grade,
  section: Section.default(''),
  academicYear: AcademicYear,
  schoolId: Id.optional(),
});
export type CreateClassBody = z.infer<typeof CreateClassBody>;

/** `PATCH /api/classes/:id`. */
export const UpdateClassBody = nonEmptyPatch(
  z.strictObject({
    name: ClassName.optional(),
    grade: Grade.optional(),
    section: Section.optional(),
    academicYear: AcademicYear.optional(),
  }),
);
export type UpdateClassBody = z.infer<typeof UpdateClassBody>;

/** A class (a grade and section in one academic year) that students belong to. */
export const SchoolClass = z.object({
  id: Id,
  schoolId: Id,
  name: z.string(),
  grade: z.string(),
  section: z.string(),
  academicYear: AcademicYear,
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type SchoolClass = z.infer<typeof SchoolClass>;

/** Fields `GET /api/classes` sorts by. */
export const ClassSort = SortParam(['name', 'grade', 'academicYear', 'createdAt']);
export type ClassSort = z.infer<typeof ClassSort>;

/** `GET /api/classes` filters; a platform admin may narrow to one `schoolId`. `q` matches the name. */
export const ListClassesQuery = PaginationQuery.extend({
  academicYear: AcademicYear.optional(),
  grade: Grade.optional(),
  q: SearchText.optional(),
  schoolId: Id.optional(),
  sort: ClassSort.default('name'),
}).strict();
export type ListClassesQuery = z.infer<typeof ListClassesQuery>;

/** Answer of `GET /api/classes`. */
export const SchoolClassList = paginated(SchoolClass);
export type SchoolClassList = z.infer<typeof SchoolClassList>;
