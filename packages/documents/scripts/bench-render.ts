/**
 * Renders per second of a realistic one-page invoice (eight lines, a
 * Devanagari student name, a pay-link QR code) on one core: this package's
 * renderer, and bare pdfkit drawing similar content with the same Noto TTFs
 * registered per document the naive way (each document parses them again).
 *
 *   pnpm exec tsx packages/documents/scripts/bench-render.ts [seconds]
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import { renderInvoicePdf } from '../src/index.js';
import { invoiceDocument, makeLogoPng, schoolHeader } from '../src/testing.js';

const require = createRequire(import.meta.url);
const font = (path: string) => readFileSync(require.resolve(`@expo-google-fonts/${path}`));
const TTF = {
  sans: font('noto-sans/400Regular/NotoSans_400Regular.ttf'),
  bold: font('noto-sans/700Bold/NotoSans_700Bold.ttf'),
  deva: font('noto-sans-devanagari/400Regular/NotoSansDevanagari_400Regular.ttf'),
};

const model = invoiceDocument();

/**
 * The same invoice drawn with plain pdfkit calls: with the three TTFs it needs
 * registered from bytes per document, with Noto Sans alone (which cannot
 * shape the Devanagari name), or with built-in Helvetica (which cannot print
 * ₹ or आशा at all) as the yardsticks.
 */
function renderNaive(fonts: 'noto' | 'noto-sans-only' | 'helvetica'): Promise<Buffer> {
  const doc = new PDFDocument({ size: 'A4', info: { CreationDate: new Date(0) } });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve) => doc.on('end', () => resolve(Buffer.concat(chunks))));
  if (fonts === 'noto') {
    doc.registerFont('sans', TTF.sans).registerFont('bold', TTF.bold).registerFont('deva', TTF.deva);
  } else if (fonts === 'noto-sans-only') {
    doc.registerFont('sans', TTF.sans).registerFont('bold', TTF.sans).registerFont('deva', TTF.sans);
  } else {
    doc
      .registerFont('sans', 'Helvetica')
      .registerFont('bold', 'Helvetica-Bold')
      .registerFont('deva', 'Helvetica');
  }
  doc.font('bold').fontSize(15).text(model.school.name, 42, 42);
  doc
    .font('sans')
    .fontSize(8.5)
    .text(model.school.address ?? '', 42, 64, { width: 280 });
  doc.font('bold').fontSize(18).text('INVOICE', 350, 42, { width: 200, align: 'right' });
  doc
    .font('sans')
    .fontSize(8.5)
    .text(`Invoice no. ${model.invoice.number}`, 350, 70, { width: 200, align: 'right' });
  // Helvetica has no Devanagari: it would print nothing useful, but costs what it costs.
  doc
    .font('deva')
    .fontSize(11.5)
    .text(fonts === 'helvetica' ? 'Asha Rohan Kumar' : model.student.fullName, 42, 140);
  let y = 200;
  for (const line of model.invoice.lines) {
    doc.font('sans').fontSize(8.5).text(line.description, 48, y, { width: 190 });
    doc.text(line.feeHead ?? '', 250, y, { width: 90 });
    doc.text(String(line.amountMinor), 450, y, { width: 90, align: 'right' });
    y += 24;
  }
  doc
    .font('bold')
    .fontSize(11)
    .text(`Balance due ${model.invoice.balanceMinor}`, 350, y + 20, { width: 200, align: 'right' });
  const { modules } = QRCode.create(model.payLink ?? '', { errorCorrectionLevel: 'M' });
  for (let r = 0; r < modules.size; r++)
    for (let c = 0; c < modules.size; c++) if (modules.get(r, c)) doc.rect(42 + c * 2, y + 20 + r * 2, 2, 2);
  doc.fill('#000');
  doc.end();
  return done;
}

/**
 * Renders per second of wall time, and per second of this process's CPU time
 * (user + system): the second is what one core does, and holds steady when
 * other processes share the machine.
 */
async function measure(name: string, seconds: number, render: () => Promise<unknown>) {
  for (let i = 0; i < 20; i++) await render();
  let count = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await render();
    count++;
  }
  const wall = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(
    `${name.padEnd(52)} ${(count / cpuSeconds).toFixed(1).padStart(7)}/s per CPU-second` +
      `  ${(count / wall).toFixed(1).padStart(7)}/s wall  (${count} renders)\n`,
  );
}

const seconds = Number(process.argv[2] ?? 5);
const withLogo = invoiceDocument({ school: schoolHeader({ logo: makeLogoPng(240) }) });
await measure('renderInvoicePdf (8 lines, Devanagari, QR)', seconds, () => renderInvoicePdf(model));
await measure('renderInvoicePdf, plus a 240×240 RGBA logo (flat emblem)', seconds, () =>
  renderInvoicePdf(withLogo),
);
await measure('bare pdfkit, the 3 TTFs registered per document', seconds, () => renderNaive('noto'));
await measure('bare pdfkit, Noto Sans alone per document', seconds, () => renderNaive('noto-sans-only'));
await measure('bare pdfkit, built-in Helvetica (no ₹, no आशा)', seconds, () => renderNaive('helvetica'));
