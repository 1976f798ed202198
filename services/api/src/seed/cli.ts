/** `pnpm db:seed`: seeds the demo school and admin into DATABASE_URL (idempotent). */
import { createDb } from '@bursar/db';
import { loadConfig } from '@bursar/platform';
import { seedConfigSchema } from '../config.js';
import { seedDemo } from './seed.js';

const config = loadConfig(seedConfigSchema);
const db = createDb(config.DATABASE_URL, { max: 1, applicationName: 'bursar-seed' });
try {
  const { inserted, invoices } = await seedDemo(db, {
    adminEmail: config.BURSAR_ADMIN_EMAIL,
    adminPassword: config.BURSAR_ADMIN_PASSWORD,
    demoPassword: config.BURSAR_DEMO_PASSWORD,
  });
  process.stdout.write(
    inserted || invoices
      ? `seeded ${inserted} demo rows and ${invoices} invoices\n`
      : 'demo data already present\n',
  );
} finally {
  await db.destroy();
}
