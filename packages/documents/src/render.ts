/**
 * The renderer's whole surface in one module, for the code in this package
 * that stores documents (it needs the renderer, not its layout modules).
 */
export { renderInvoicePdf } from './invoice.js';
export { renderReceiptPdf } from './receipt.js';
export { documentHash, RENDERER_VERSION } from './hash.js';
export { preloadFonts } from './fonts.js';
