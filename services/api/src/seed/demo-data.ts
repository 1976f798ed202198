/**
 * The demo school `pnpm start` seeds. Ids are fixed so seeding is idempotent:
 * a second run finds every row and inserts nothing.
 */
export const DEMO_SCHOOL = {
  id: '0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d0001',
  name: 'Greenwood Public School',
  currency: 'INR',
  timezone: 'Asia/Kolkata',
  locale: 'en-IN',
  address: '14 Lake View Road, Pune 411001',
  contactEmail: 'office@greenwood.example',
  contactPhone: '+912025550100',
};

export const DEMO_CLASSES = [
  { id: '0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d0101', name: 'Grade 1', grade: '1', section: 'A' },
  { id: '0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d0102', name: 'Grade 1', grade: '1', section: 'B' },
  { id: '0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d0103', name: 'Grade 2', grade: '2', section: 'A' },
];

export const DEMO_ACADEMIC_YEAR = '2026-27';

const FIRST = [
  'Aarav',
  'Diya',
  'Vihaan',
  'Anaya',
  'Reyansh',
  'Ira',
  'Kabir',
  'Myra',
  'Arjun',
  'Sara',
  'Ishaan',
  'Kiara',
];
const LAST = ['Sharma', 'Patel', 'Iyer', 'Khan', 'Deshpande', 'Reddy'];

/** Twelve students, four per class; siblings share a family (and so guardians). */
export const DEMO_STUDENTS = FIRST.map((firstName, i) => ({
  id: `0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d${String(1000 + i).padStart(4, '0')}`,
  firstName,
  lastName: LAST[i % LAST.length]!,
  admissionNo: `GW-2026-${String(i + 1).padStart(3, '0')}`,
  classId: DEMO_CLASSES[i % DEMO_CLASSES.length]!.id,
  family: i % LAST.length,
}));

/** One guardian per family (six), each the primary payer; phones are reserved demo numbers. */
export const DEMO_GUARDIANS = LAST.map((lastName, family) => ({
  id: `0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d${String(2000 + family).padStart(4, '0')}`,
  name: `${family % 2 ? 'Priya' : 'Rahul'} ${lastName}`,
  phone: `+9198765${String(43210 + family).padStart(5, '0')}`,
  family,
  relation: family % 2 ? 'mother' : 'father',
}));

/** Staff logins for the demo school; all share the demo password. */
export const DEMO_STAFF = [
  {
    id: '0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d3001',
    email: 'principal@greenwood.example',
    name: 'Meera Joshi',
    role: 'school_admin',
  },
  {
    id: '0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d3002',
    email: 'bursar@greenwood.example',
    name: 'Anil Kapoor',
    role: 'accountant',
  },
  {
    id: '0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d3003',
    email: 'teacher@greenwood.example',
    name: 'Farah Ali',
    role: 'teacher',
  },
] as const;

export const PLATFORM_ADMIN_ID = '0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d0000';

/** The demo school's 2026-27 fee plan, issued to every demo student with a few payments recorded. */
export const DEMO_FEE_PLAN = {
  id: '0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d4001',
  name: 'Annual fees',
  academicYear: DEMO_ACADEMIC_YEAR,
  siblingDiscountBps: 1_000,
  heads: [
    { name: 'Tuition', amountMinor: 6_000_000n },
    { name: 'Transport', amountMinor: 1_200_000n },
    { name: 'Activities', amountMinor: 300_000n },
  ],
  instalments: [
    { id: '0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d4101', label: 'Term 1', dueDate: '2026-04-15', shareBps: 4_000 },
    { id: '0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d4102', label: 'Term 2', dueDate: '2026-08-15', shareBps: 3_000 },
    { id: '0f5a3c1e-5d1b-4c39-9a52-3f6f7c1d4103', label: 'Term 3', dueDate: '2026-12-15', shareBps: 3_000 },
  ],
};
