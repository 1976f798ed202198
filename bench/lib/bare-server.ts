/**
 * The floor a statement endpoint is compared against: express 5 and `pg`, one
 * indexed `select` of a student's invoices (invoices_student_due_idx), JSON
 * out. No auth, validation, request log, telemetry, Kysely or money mapping:
 * what is left is the HTTP, pool and round-trip cost every endpoint pays.
 *
 *   BARE_PORT=… DATABASE_URL=… node --import tsx bench/lib/bare-server.ts
 *
 * Started by statements.bench.ts as its own process, behind the same Caddy as the api.
 */
import express from 'express';
import pg from 'pg';

const port = Number(process.env.BARE_PORT);
const databaseUrl = process.env.DATABASE_URL;
if (!Number.isInteger(port) || port <= 0 || !databaseUrl) {
  throw new Error('bare-server needs BARE_PORT and DATABASE_URL');
}

// The same pool size as the api's (packages/db createPool), so both can run as many queries at once.
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, application_name: 'bursar-bench-bare' });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const app = express();
app.disable('x-powered-by');
app.get('/bare/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
app.get('/bare/students/:id/invoices', async (req, res) => {
  if (!UUID.test(req.params.id)) {
    res.status(404).json({ error: 'not found' });
    return;
  }
  const { rows } = await pool.query(
    `select id, number, currency, issue_date, due_date, total_minor, paid_minor, refunded_minor, voided_at
     from invoices where student_id = $1 order by due_date, number`,
    [req.params.id],
  );
  res.json({ studentId: req.params.id, invoices: rows });
});

const server = app.listen(port, () => console.log(`bare listening on ${port}`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    void pool.end().finally(() => process.exit(0));
  });
}
