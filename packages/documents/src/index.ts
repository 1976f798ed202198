/**
 * Invoice and receipt PDFs for Bursar: plain-data models in, deterministic
 * bytes out, with the Unicode fonts parsed once per process.
 */
export {
  documentHash,
  preloadFonts,
  renderInvoicePdf,
  renderReceiptPdf,
  RENDERER_VERSION,
} from './render.js';
export type {
  InvoiceDocument,
  InvoiceDocumentLine,
  InvoiceStamp,
  ReceiptDocument,
  RenderResult,
  SchoolHeader,
} from './model.js';
export { renderReportPdf, type ReportPdfInput } from './report.js';
// Loading, storing and versioning documents (worker and api).
export * from './load.js';
export * from './publish.js';
export * from './runtime.js';
