import QRCode from 'qrcode';

/** A QR symbol as rectangles of dark modules, in module units (quiet zone not included). */
export interface QrMatrix {
  /** Modules per side. */
  size: number;
  /** Horizontal runs of dark modules: x, y, length. */
  runs: readonly (readonly [number, number, number])[];
}

const matrices = new Map<string, QrMatrix>();
const MAX_CACHED = 256;

/**
 * The QR symbol for `text` at error correction M (a logo-free code printed on
 * paper survives a crease or a smudge at M), as runs of dark modules. Drawn as
 * vector rectangles straight from the module matrix: no raster, no PNG round
 * trip, the same bytes every time. Throws when the text is too long for any
 * QR version.
 */
export function qrMatrix(text: string): QrMatrix {
  let matrix = matrices.get(text);
  if (!matrix) {
    // One byte-mode segment: what the segment optimiser picks for a URL anyway, without its
    // shortest-path search over every split of the text (a tenth of a distinct invoice's render).
    const { modules } = QRCode.create([{ data: Buffer.from(text, 'utf8'), mode: 'byte' }], {
      errorCorrectionLevel: 'M',
    });
    const runs: [number, number, number][] = [];
    for (let y = 0; y < modules.size; y++) {
      let start = -1;
      for (let x = 0; x <= modules.size; x++) {
        const dark = x < modules.size && modules.get(y, x) !== 0;
        if (dark && start < 0) start = x;
        if (!dark && start >= 0) {
          runs.push([start, y, x - start]);
          start = -1;
        }
      }
    }
    matrix = { size: modules.size, runs };
    if (matrices.size >= MAX_CACHED) matrices.clear();
    matrices.set(text, matrix);
  }
  return matrix;
}

/** The quiet zone the QR spec asks for around the symbol, in modules. */
export const QUIET_ZONE = 4;

/**
 * Draws a QR symbol (see {@link qrMatrix}) in a square of `side` points at
 * (x, y), quiet zone included (the page behind it is white).
 */
export function drawQr(doc: PDFKit.PDFDocument, matrix: QrMatrix, x: number, y: number, side: number): void {
  const module = side / (matrix.size + 2 * QUIET_ZONE);
  const left = x + QUIET_ZONE * module;
  const top = y + QUIET_ZONE * module;
  doc.save();
  for (const [runX, runY, length] of matrix.runs) {
    doc.rect(left + runX * module, top + runY * module, length * module, module);
  }
  doc.fill('#000000');
  doc.restore();
}
