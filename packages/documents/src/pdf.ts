import PDFDocument from 'pdfkit';
import { registerFaces } from './fonts.js';
import { Canvas } from './text.js';

/** A4 in points. */
export const PAGE = { width: 595.28, height: 841.89 } as const;

/** What a new document says about itself in its info dictionary. */
export interface PdfMeta {
  title: string;
  author: string;
  subject: string;
  /** BCP 47, for the catalog's /Lang (screen readers, hyphenation). */
  lang: string;
  /** Fixed from the model (never the clock) so the same model gives the same bytes. */
  creationDate: Date;
}

/** A document being drawn and the promise of its bytes once it is ended. */
export interface OpenPdf {
  canvas: Canvas;
  doc: PDFKit.PDFDocument;
  bytes: Promise<Buffer>;
}

/**
 * A new A4 document with the four faces registered and its bytes collected.
 * Pages are buffered so footers ("Page N of M") can be drawn once the page
 * count is known. The info dictionary holds only fixed values: pdfkit derives
 * the file /ID from it, so it too comes out the same for the same model.
 */
export function openPdf(meta: PdfMeta): OpenPdf {
  const doc = new PDFDocument({
    size: 'A4',
    margin: 0,
    bufferPages: true,
    pdfVersion: '1.7',
    lang: meta.lang,
    displayTitle: true,
    // No default Helvetica: every face is one of ours, and the AFM parse is not free.
    font: null as unknown as string,
    info: {
      Title: meta.title,
      Author: meta.author,
      Subject: meta.subject,
      Creator: 'Bursar',
      Producer: 'Bursar (PDFKit)',
      CreationDate: meta.creationDate,
    },
  });
  const chunks: Buffer[] = [];
  const bytes = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  return { canvas: new Canvas(doc, registerFaces(doc)), doc, bytes };
}

/** The number of pages drawn so far. */
export function pageCount(doc: PDFKit.PDFDocument): number {
  const range = doc.bufferedPageRange();
  return range.start + range.count;
}

/** Midnight UTC of a `YYYY-MM-DD` date; an invalid one gives the epoch (the date is then printed as given). */
export function utcDate(isoDate: string): Date {
  const time = Date.parse(`${isoDate}T00:00:00Z`);
  return new Date(Number.isNaN(time) ? 0 : time);
}
