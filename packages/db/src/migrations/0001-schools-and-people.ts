import { type Kysely, sql } from 'kysely';

// Tenancy: every tenant table carries school_id, and child rows reference
// their parent by (id, school_id) so a row can never point across schools.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table schools (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      currency char(3) not null,
      timezone text not null,
      locale text not null default 'en-IN',
      address text,
      contact_email text,
      contact_phone text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz
    );

    create table users (
      id uuid primary key default gen_random_uuid(),
      school_id uuid references schools (id),
      email text not null,
      name text not null,
      password_hash text not null,
      role text not null check (role in ('platform_admin', 'school_admin', 'accountant', 'teacher', 'guardian')),
      status text not null default 'active' check (status in ('active', 'disabled')),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      check ((role = 'platform_admin') = (school_id is null))
    );
    create unique index users_email_key on users (lower(email));
    create index users_school_idx on users (school_id);

    create table classes (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      name text not null,
      grade text not null,
      section text not null default '',
      academic_year text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (id, school_id),
      unique (school_id, academic_year, name, section)
    );

    create table students (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      class_id uuid,
      first_name text not null,
      last_name text not null,
      admission_no text not null,
      status text not null default 'active' check (status in ('active', 'left')),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (id, school_id),
      unique (school_id, admission_no),
      foreign key (class_id, school_id) references classes (id, school_id)
    );
    create index students_class_idx on students (class_id);

    create table guardians (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      name text not null,
      phone text not null,
      whatsapp_opt_in boolean not null default false,
      preferred_language text not null default 'en',
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (id, school_id),
      unique (school_id, phone)
    );

    create table student_guardians (
      school_id uuid not null,
      student_id uuid not null,
      guardian_id uuid not null,
      relation text not null,
      is_primary_payer boolean not null default false,
      created_at timestamptz not null default now(),
      primary key (student_id, guardian_id),
      foreign key (student_id, school_id) references students (id, school_id) on delete cascade,
      foreign key (guardian_id, school_id) references guardians (id, school_id) on delete cascade
    );
    create index student_guardians_guardian_idx on student_guardians (guardian_id);
    -- At most one primary payer per student.
    create unique index student_guardians_primary_payer_key on student_guardians (student_id) where is_primary_payer;
  `.execute(db);
}
