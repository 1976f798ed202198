import { createHash } from 'node:crypto';
import { crc32, deflateSync, inflateSync } from 'node:zlib';

/** A logo that can be drawn: its format, pixel size, and the bytes to hand pdfkit. */
export interface LogoInfo {
  format: 'png' | 'jpeg';
  width: number;
  height: number;
  /**
   * The logo itself, or for a PNG with transparency the same image flattened
   * onto white (see {@link flattenPng}).
   */
  image: Buffer;
}

/** What {@link prepareLogo} found: a drawable logo, or why it is left out. */
export type LogoCheck = { ok: true; logo: LogoInfo } | { ok: false; reason: string };

/**
 * More pixels than a header logo could use; a bigger image is refused rather
 * than inflated (a small PNG can decompress to gigabytes).
 */
const MAX_PIXELS = 4_000_000;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Channels per PNG colour type, and the bit depths the PNG spec allows for it. */
const PNG_COLOR_TYPES: Record<number, { channels: number; depths: number[] }> = {
  0: { channels: 1, depths: [1, 2, 4, 8, 16] },
  2: { channels: 3, depths: [8, 16] },
  3: { channels: 1, depths: [1, 2, 4, 8] },
  4: { channels: 2, depths: [8, 16] },
  6: { channels: 4, depths: [8, 16] },
};

/** Adam7: x start, y start, x step, y step of each pass. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** Scanlines of a PNG image: their count and the bytes each holds after its filter byte. */
function scanlines(width: number, height: number, bitsPerPixel: number, interlaced: boolean) {
  const bytesPerRow = (pixels: number) => Math.ceil((pixels * bitsPerPixel) / 8);
  if (!interlaced) return [{ rows: height, rowBytes: bytesPerRow(width) }];
  return ADAM7.map(([xStart, yStart, xStep, yStep]) => ({
    rows: width > xStart ? Math.max(0, Math.ceil((height - yStart) / yStep)) : 0,
    rowBytes: bytesPerRow(Math.max(0, Math.ceil((width - xStart) / xStep))),
  })).filter((pass) => pass.rows > 0 && pass.rowBytes > 0);
}

/**
 * Checks a PNG the whole way through, as pdfkit and png-js would read it:
 * chunk lengths and CRCs, a supported header, a palette where one is needed,
 * image data that inflates to exactly the size the header promises and whose
 * every scanline has a valid filter. pdfkit decodes some PNGs (alpha,
 * interlaced, palette transparency) asynchronously, where an error cannot be
 * caught and would leave the document unfinished, so nothing reaches pdfkit
 * that could fail there.
 */
function inspectPng(bytes: Buffer): LogoCheck {
  let pos = PNG_SIGNATURE.length;
  let header:
    { width: number; height: number; depth: number; colorType: number; interlace: number } | undefined;
  let palette: Buffer | undefined;
  let transparency: Buffer | undefined;
  let ended = false;
  const data: Buffer[] = [];
  while (pos + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(pos);
    const type = bytes.toString('latin1', pos + 4, pos + 8);
    if (length > bytes.length - pos - 12)
      return { ok: false, reason: `PNG is truncated (in its ${type} chunk)` };
    const body = bytes.subarray(pos + 8, pos + 8 + length);
    if (crc32(bytes.subarray(pos + 4, pos + 8 + length)) !== bytes.readUInt32BE(pos + 8 + length)) {
      return { ok: false, reason: `PNG is corrupt (bad CRC in its ${type} chunk)` };
    }
    pos += 12 + length;
    if (!header && type !== 'IHDR') return { ok: false, reason: 'PNG does not start with its header' };
    if (type === 'IHDR') {
      if (length !== 13) return { ok: false, reason: 'PNG header is malformed' };
      header = {
        width: body.readUInt32BE(0),
        height: body.readUInt32BE(4),
        depth: body[8]!,
        colorType: body[9]!,
        interlace: body[12]!,
      };
      if (body[10] !== 0 || body[11] !== 0 || header.interlace > 1) {
        return { ok: false, reason: 'PNG uses an unknown compression, filter or interlace method' };
      }
    } else if (type === 'PLTE') {
      if (length === 0 || length % 3 !== 0 || length > 768)
        return { ok: false, reason: 'PNG palette is malformed' };
      palette = body;
    } else if (type === 'tRNS') {
      transparency = body;
    } else if (type === 'IDAT') {
      data.push(body);
    } else if (type === 'IEND') {
      ended = true;
      break;
    }
  }
  if (!header) return { ok: false, reason: 'PNG has no header' };
  if (!ended) return { ok: false, reason: 'PNG is truncated (no end chunk)' };
  const { width, height, depth, colorType, interlace } = header;
  const color = PNG_COLOR_TYPES[colorType];
  if (!color || !color.depths.includes(depth)) {
    return { ok: false, reason: `PNG colour type ${colorType} at ${depth} bits is not valid` };
  }
  if (width === 0 || height === 0) return { ok: false, reason: 'PNG has no pixels' };
  if (width * height > MAX_PIXELS) {
    return { ok: false, reason: `PNG is ${width}×${height}, more than ${MAX_PIXELS / 1e6} megapixels` };
  }
  if (colorType === 3 && !palette) return { ok: false, reason: 'PNG is indexed but has no palette' };
  // png-js, which pdfkit decodes with, unpacks pixels whole bytes at a time.
  const decoded = interlace === 1 || (colorType === 3 && transparency !== undefined);
  if (decoded && depth < 8) {
    return { ok: false, reason: `PNG at ${depth} bits per pixel needs decoding pdfkit cannot do` };
  }
  if (data.length === 0) return { ok: false, reason: 'PNG has no image data' };

  const lines = scanlines(width, height, color.channels * depth, interlace === 1);
  const expected = lines.reduce((sum, pass) => sum + pass.rows * (1 + pass.rowBytes), 0);
  let pixels: Buffer;
  try {
    pixels = inflateSync(Buffer.concat(data), { maxOutputLength: expected + 1 });
  } catch (error) {
    return { ok: false, reason: `PNG image data does not inflate (${(error as Error).message})` };
  }
  if (pixels.length !== expected) {
    return { ok: false, reason: `PNG image data is ${pixels.length} bytes, its header says ${expected}` };
  }
  let offset = 0;
  for (const pass of lines) {
    for (let row = 0; row < pass.rows; row++) {
      if (pixels[offset]! > 4) return { ok: false, reason: 'PNG has a scanline with an unknown filter' };
      offset += 1 + pass.rowBytes;
    }
  }
  const png = { width, height, depth, colorType, channels: color.channels, palette, transparency };
  const flatten =
    interlace === 0 &&
    (colorType === 4 || colorType === 6 || (colorType === 3 && transparency !== undefined));
  const image = flatten ? flattenPng(png, pixels, lines[0]!.rowBytes) : bytes;
  return { ok: true, logo: { format: 'png', width, height, image } };
}

function paeth(left: number, up: number, upLeft: number): number {
  const estimate = left + up - upLeft;
  const toLeft = Math.abs(estimate - left);
  const toUp = Math.abs(estimate - up);
  const toUpLeft = Math.abs(estimate - upLeft);
  if (toLeft <= toUp && toLeft <= toUpLeft) return left;
  return toUp <= toUpLeft ? up : upLeft;
}

/** Undoes the PNG row filters of a non-interlaced image (filter bytes already checked). */
function unfilter(data: Buffer, height: number, rowBytes: number, bytesPerPixel: number): Buffer {
  const out = Buffer.alloc(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const filter = data[y * (rowBytes + 1)]!;
    const source = y * (rowBytes + 1) + 1;
    const row = y * rowBytes;
    for (let x = 0; x < rowBytes; x++) {
      const left = x >= bytesPerPixel ? out[row + x - bytesPerPixel]! : 0;
      const up = y > 0 ? out[row - rowBytes + x]! : 0;
      const upLeft = y > 0 && x >= bytesPerPixel ? out[row - rowBytes + x - bytesPerPixel]! : 0;
      const raw = data[source + x]!;
      let value = raw;
      if (filter === 1) value = raw + left;
      else if (filter === 2) value = raw + up;
      else if (filter === 3) value = raw + ((left + up) >> 1);
      else if (filter === 4) value = raw + paeth(left, up, upLeft);
      out[row + x] = value & 0xff;
    }
  }
  return out;
}

interface PngHeader {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  channels: number;
  palette: Buffer | undefined;
  transparency: Buffer | undefined;
}

/**
 * A PNG with an alpha channel (or a palette with transparency), composited
 * onto white and written as a plain 8-bit grey or RGB PNG. A logo sits on
 * the white page, so it looks the same; and pdfkit embeds such a PNG's data
 * as it is, where for transparency it would decode the pixels and compress
 * the colour and alpha planes again in every document (asynchronously, the
 * slowest part of a render with a logo). Done once per logo (see
 * {@link prepareLogo}'s cache). 16-bit samples keep their high byte, as pdfkit
 * would.
 */
function flattenPng(png: PngHeader, filtered: Buffer, rowBytes: number): Buffer {
  const { width, height, depth, colorType, channels, palette, transparency } = png;
  const sampleBytes = depth === 16 ? 2 : 1;
  const pixels = unfilter(filtered, height, rowBytes, Math.max(1, channels * sampleBytes));
  const grey = colorType === 4;
  const outChannels = grey ? 1 : 3;
  const raw = Buffer.alloc(height * (1 + width * outChannels));
  const blend = (value: number, alpha: number) => Math.round((value * alpha + 255 * (255 - alpha)) / 255);
  for (let y = 0; y < height; y++) {
    const outRow = y * (1 + width * outChannels) + 1;
    for (let x = 0; x < width; x++) {
      const at = y * rowBytes + x * channels * sampleBytes;
      const sample = (channel: number) => pixels[at + channel * sampleBytes]!;
      let color: number[];
      let alpha: number;
      if (colorType === 3) {
        const index = pixels[at]!;
        color = [palette![index * 3] ?? 0, palette![index * 3 + 1] ?? 0, palette![index * 3 + 2] ?? 0];
        alpha = transparency![index] ?? 255;
      } else {
        color = grey ? [sample(0)] : [sample(0), sample(1), sample(2)];
        alpha = sample(channels - 1);
      }
      for (let channel = 0; channel < outChannels; channel++) {
        raw[outRow + x * outChannels + channel] = blend(color[channel]!, alpha);
      }
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = grey ? 0 : 2;
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** The start-of-frame markers pdfkit looks for; it reads the first one it meets as the frame header. */
const JPEG_FRAMES = new Set([
  0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
]);

/**
 * Walks a JPEG's marker segments to its frame header and checks the image is
 * one pdfkit can embed (8-bit, grey, RGB or CMYK) and is not cut short: the
 * end-of-image marker must follow the frame (entropy-coded data never holds
 * one, since its 0xFF bytes are stuffed).
 */
function inspectJpeg(bytes: Buffer): LogoCheck {
  let pos = 2;
  while (pos < bytes.length) {
    if (bytes[pos] !== 0xff) return { ok: false, reason: 'JPEG is corrupt (no marker where one belongs)' };
    while (bytes[pos] === 0xff) pos++;
    if (pos >= bytes.length) break;
    const marker = bytes[pos++]!;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd9 || marker === 0xda) return { ok: false, reason: 'JPEG has no frame header' };
    if (pos + 2 > bytes.length) break;
    const length = bytes.readUInt16BE(pos);
    if (length < 2 || pos + length > bytes.length) break;
    if (JPEG_FRAMES.has(marker)) {
      if (length < 8) return { ok: false, reason: 'JPEG frame header is malformed' };
      const precision = bytes[pos + 2]!;
      const height = bytes.readUInt16BE(pos + 3);
      const width = bytes.readUInt16BE(pos + 5);
      const components = bytes[pos + 7]!;
      if (precision !== 8) return { ok: false, reason: `JPEG is ${precision}-bit; only 8-bit prints` };
      if (![1, 3, 4].includes(components)) {
        return { ok: false, reason: `JPEG has ${components} colour components` };
      }
      if (width === 0 || height === 0) return { ok: false, reason: 'JPEG has no pixels' };
      if (width * height > MAX_PIXELS) {
        return { ok: false, reason: `JPEG is ${width}×${height}, more than ${MAX_PIXELS / 1e6} megapixels` };
      }
      const end = bytes.lastIndexOf(Buffer.from([0xff, 0xd9]));
      if (end < pos + length) return { ok: false, reason: 'JPEG is truncated (no end of image)' };
      return { ok: true, logo: { format: 'jpeg', width, height, image: bytes } };
    }
    pos += length;
  }
  return { ok: false, reason: 'JPEG is truncated (before its frame header)' };
}

const checked = new Map<string, LogoCheck>();
const MAX_CHECKED = 64;

/**
 * Whether a school's logo can be drawn and what to draw (if not, why, for
 * the render's warnings). Results are kept by the bytes' hash, since every
 * document of a school carries the same logo.
 */
export function prepareLogo(bytes: Buffer): LogoCheck {
  if (bytes.length === 0) return { ok: false, reason: 'the logo is empty' };
  const key = createHash('sha256').update(bytes).digest('hex');
  let result = checked.get(key);
  if (!result) {
    if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_SIGNATURE)) result = inspectPng(bytes);
    else if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff)
      result = inspectJpeg(bytes);
    else result = { ok: false, reason: 'the logo is neither a PNG nor a JPEG' };
    if (checked.size >= MAX_CHECKED) checked.clear();
    checked.set(key, result);
  }
  return result;
}
