// A drawing → the 28x28 digit the models read: a port of mnist_core.preprocess.prepare_digit (with
// mnist_core.strokes.normalise_stroke_width), step by step, so that a phone's answers match the
// Draw page's. Tested against the Python in Chromium (tests/test_join.py).
//
// The same algorithm in each step: the ink map, crops, Pillow's BOX and BICUBIC resampling of float
// images, the exact Euclidean distance transform (SciPy's distance_transform_edt), the centre of mass and
// Python's rounding (half to even); arithmetic in float64 where numpy keeps some steps in float32, a
// difference in the last digits. Not the same algorithm: the skeleton. scikit-image's Zhang-Suen thinning is
// compiled code with its own look-up table; this is the textbook Zhang-Suen (1984). The skeleton only
// picks where the stroke width is measured, so the two differ by a fraction of a pixel of width; the
// test measures the effect on the 28x28 digit and the answers.

// The thresholds and sizes of mnist_core.preprocess and mnist_core.strokes, under their Python names: never
// copied here, the server sends them in the page's config (join/routes.py, PREPARE) and join.js hands
// them over once, before the first drawing. tests/test_canvas_contract.py checks that both sides agree.
const constants = {};
export function setConstants(sent) { Object.assign(constants, sent); }

// Why no digit was found: \`key\` names its sentence in i18n/*.json ("nodigit_" + key), \`message\` is the English.
export class NoDigit extends Error {
  constructor(key, message) {
    super(message);
    this.key = key;
  }
}

// A float image: row-major values with its size.
class Plane {
  constructor(width, height, values) {
    this.width = width;
    this.height = height;
    this.values = values || new Float32Array(width * height);
  }
  get(x, y) { return this.values[y * this.width + x]; }
  max() { let top = 0; for (const value of this.values) if (value > top) top = value; return top; }
}

// Python's round(): halves to the even neighbour.
export function roundHalfEven(value) {
  const floor = Math.floor(value);
  const difference = value - floor;
  if (difference > 0.5) return floor + 1;
  if (difference < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function median(values) {
  const sorted = Float64Array.from(values).sort();
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function percentile(values, q) {  // numpy's default: linear between the closest ranks
  const sorted = Float64Array.from(values).sort();
  const position = (q / 100) * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

// Ink strength in [0, 1] from an RGBA canvas (white on black or dark on light, transparency allowed).
export function inkMap(rgba, width, height) {
  const { INK_THRESHOLD, MIN_CONTRAST, MIN_VISIBLE_CONTRAST } = constants;
  if (width < 2 || height < 2) throw new NoDigit("too_small_image", "The image is too small to hold a digit.");
  const count = width * height;
  let grey = new Float32Array(count);
  const alpha = new Float32Array(count);
  let alphaMin = 1;
  for (let i = 0; i < count; i++) {
    grey[i] = Math.fround(Math.fround(rgba[4 * i] * Math.fround(0.299 / 255)) +
      Math.fround(rgba[4 * i + 1] * Math.fround(0.587 / 255)) + Math.fround(rgba[4 * i + 2] * Math.fround(0.114 / 255)));
    alpha[i] = Math.fround(rgba[4 * i + 3] * Math.fround(1 / 255));
    if (alpha[i] < alphaMin) alphaMin = alpha[i];
  }
  if (alphaMin < 0.98) {  // transparent pixels are background, behind strokes light or dark
    const visible = [];
    for (let i = 0; i < count; i++) if (alpha[i] > 0.5) visible.push(grey[i]);
    const light = visible.length > 0 && median(visible) > 0.5;
    const backdrop = light ? 0 : 1;
    for (let i = 0; i < count; i++) grey[i] = Math.fround(grey[i] * alpha[i] + backdrop * (1 - alpha[i]));
  }
  const border = [];
  for (let x = 0; x < width; x++) border.push(grey[x]);
  for (let x = 0; x < width; x++) border.push(grey[(height - 1) * width + x]);
  for (let y = 0; y < height; y++) border.push(grey[y * width]);
  for (let y = 0; y < height; y++) border.push(grey[y * width + width - 1]);
  let background = median(border);
  if (background > 0.5) {  // dark ink on light paper
    grey = grey.map((value) => 1 - value);
    background = median(border.map((value) => 1 - value));
  }
  const candidates = [];
  let top = -Infinity;
  for (const value of grey) {
    if (value > background + MIN_CONTRAST) candidates.push(value);
    if (value > top) top = value;
  }
  if (candidates.length === 0) {
    if (top > background + MIN_VISIBLE_CONTRAST) {
      throw new NoDigit("faint", "The digit is too faint to read: draw it again.");
    }
    throw new NoDigit("blank", "No digit found: the canvas is blank. Draw a digit.");
  }
  const peak = percentile(candidates, 99);
  const ink = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let value = Math.min(Math.max((grey[i] - background) / (peak - background), 0), 1);
    if (value < INK_THRESHOLD) value = 0;
    ink[i] = value;
  }
  return new Plane(width, height, ink);
}

function inkBounds(plane) {
  let top = plane.height, bottom = -1, left = plane.width, right = -1;
  for (let y = 0; y < plane.height; y++) {
    for (let x = 0; x < plane.width; x++) {
      if (plane.get(x, y) > constants.INK_THRESHOLD) {
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  return { top, bottom, left, right };
}

function crop(plane, { top, bottom, left, right }) {
  const out = new Plane(right - left + 1, bottom - top + 1);
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) out.values[y * out.width + x] = plane.get(left + x, top + y);
  }
  return out;
}

export function trimToInk(plane) { return crop(plane, inkBounds(plane)); }

export function cropToInk(plane) {
  const { INK_THRESHOLD, MIN_INK_FRACTION, MAX_INK_FRACTION, MIN_INK_BOX_FRACTION } = constants;
  let inked = 0;
  for (const value of plane.values) if (value > INK_THRESHOLD) inked++;
  const size = plane.values.length;
  if (inked < Math.max(1, MIN_INK_FRACTION * size)) {
    throw new NoDigit("nearly_blank", "No digit found: the canvas is (nearly) blank. Draw a digit.");
  }
  if (inked > MAX_INK_FRACTION * size) {
    throw new NoDigit("all_ink", "No digit found: the canvas is almost all ink. Clear it and draw a digit.");
  }
  const cropped = trimToInk(plane);
  if (Math.max(cropped.width, cropped.height) < Math.max(3, MIN_INK_BOX_FRACTION * Math.max(plane.width, plane.height))) {
    throw new NoDigit("dot", "That is only a dot, or a digit too small to read: draw it bigger.");
  }
  return cropped;
}

// --- Pillow's resampling of a float ("F") image: separable, horizontal pass first -----------------

const FILTERS = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};

function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const result = [];
  for (let out = 0; out < outSize; out++) {
    const centre = (out + 0.5) * scale;
    const first = Math.max(Math.trunc(centre - support + 0.5), 0);
    const last = Math.min(Math.trunc(centre + support + 0.5), inSize);
    const weights = [];
    let total = 0;
    for (let i = first; i < last; i++) {
      const weight = filter.weight((i - centre + 0.5) / filterScale);
      weights.push(weight);
      total += weight;
    }
    result.push({ first, weights: total !== 0 ? weights.map((w) => w / total) : weights });
  }
  return result;
}

export function resize(plane, width, height, filterName) {
  const filter = FILTERS[filterName];
  let current = plane;
  if (width !== current.width) {
    const taps = coefficients(current.width, width, filter);
    const out = new Plane(width, current.height);
    for (let y = 0; y < current.height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        const { first, weights } = taps[x];
        for (let k = 0; k < weights.length; k++) sum += current.get(first + k, y) * weights[k];
        out.values[y * width + x] = sum;
      }
    }
    current = out;
  }
  if (height !== current.height) {
    const taps = coefficients(current.height, height, filter);
    const out = new Plane(current.width, height);
    for (let y = 0; y < height; y++) {
      const { first, weights } = taps[y];
      for (let x = 0; x < current.width; x++) {
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += current.get(x, first + k) * weights[k];
        out.values[y * current.width + x] = sum;
      }
    }
    current = out;
  }
  return current === plane ? new Plane(plane.width, plane.height, Float32Array.from(plane.values)) : current;
}

function scaledToPeak(plane) {
  for (let i = 0; i < plane.values.length; i++) if (plane.values[i] < 0) plane.values[i] = 0;
  const top = plane.max();
  if (top > 0) for (let i = 0; i < plane.values.length; i++) plane.values[i] = plane.values[i] / top;
  return plane;
}

function scaleLongestTo(plane, side) {
  const longest = Math.max(plane.width, plane.height);
  const scale = side / longest;
  const width = Math.max(1, roundHalfEven(plane.width * scale));
  const height = Math.max(1, roundHalfEven(plane.height * scale));
  return resize(plane, width, height, scale < 1 ? "box" : "bicubic");
}

export function fitToBox(plane) { return scaledToPeak(scaleLongestTo(plane, constants.BOX)); }

// --- stroke width ------------------------------------------------------------------------------

// Exact Euclidean distance of each pixel to the nearest 0 of ``mask`` (Felzenszwalb and Huttenlocher).
export function distanceTransform(mask, width, height) {
  const INF = 1e20;
  const squared = new Float64Array(width * height);
  for (let i = 0; i < squared.length; i++) squared[i] = mask[i] ? INF : 0;
  const line = (read, write, n) => {
    const f = new Float64Array(n), d = new Float64Array(n), v = new Int32Array(n), z = new Float64Array(n + 1);
    for (let q = 0; q < n; q++) f[q] = read(q);
    let k = 0;
    v[0] = 0; z[0] = -Infinity; z[1] = Infinity;
    for (let q = 1; q < n; q++) {
      let s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      while (s <= z[k]) { k--; s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]); }
      k++; v[k] = q; z[k] = s; z[k + 1] = Infinity;
    }
    k = 0;
    for (let q = 0; q < n; q++) {
      while (z[k + 1] < q) k++;
      d[q] = (q - v[k]) * (q - v[k]) + f[v[k]];
    }
    for (let q = 0; q < n; q++) write(q, d[q]);
  };
  for (let x = 0; x < width; x++) line((y) => squared[y * width + x], (y, value) => { squared[y * width + x] = value; }, height);
  for (let y = 0; y < height; y++) line((x) => squared[y * width + x], (x, value) => { squared[y * width + x] = value; }, width);
  return squared.map(Math.sqrt);
}

// Zhang-Suen thinning (bit 0: north-west, then clockwise); 1: removable in the first sub-pass, 2: the second, 3: both.
const THINNING = (() => {
  const table = new Uint8Array(256);
  for (let n = 0; n < 256; n++) {
    const bit = (i) => (n >> i) & 1;
    const [p2, p3, p4, p5, p6, p7, p8, p9] = [bit(1), bit(2), bit(3), bit(4), bit(5), bit(6), bit(7), bit(0)];
    const ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2];
    let transitions = 0;
    for (let i = 0; i < 8; i++) if (!ring[i] && ring[i + 1]) transitions++;
    const neighbours = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9;
    if (neighbours < 2 || neighbours > 6 || transitions !== 1) continue;
    const first = p2 * p4 * p6 === 0 && p4 * p6 * p8 === 0;
    const second = p2 * p4 * p8 === 0 && p2 * p6 * p8 === 0;
    table[n] = (first ? 1 : 0) + (second ? 2 : 0);
  }
  return table;
})();

export function skeletonize(mask, width, height) {
  const w = width + 2, h = height + 2;
  const skeleton = new Uint8Array(w * h);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) skeleton[(y + 1) * w + x + 1] = mask[y * width + x];
  const cleaned = Uint8Array.from(skeleton);
  let removed = true;
  while (removed) {
    removed = false;
    for (const pass of [1, 2]) {
      for (let y = 1; y < h - 1; y++) {
        for (let x = 1; x < w - 1; x++) {
          const i = y * w + x;
          if (!skeleton[i]) continue;
          const n = skeleton[i - w - 1] + 2 * skeleton[i - w] + 4 * skeleton[i - w + 1] + 8 * skeleton[i + 1] +
            16 * skeleton[i + w + 1] + 32 * skeleton[i + w] + 64 * skeleton[i + w - 1] + 128 * skeleton[i - 1];
          const kind = THINNING[n];
          if (kind === 3 || kind === pass) { cleaned[i] = 0; removed = true; }
        }
      }
      skeleton.set(cleaned);
    }
  }
  const result = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) result[y * width + x] = skeleton[(y + 1) * w + x + 1];
  return result;
}

function inkMask(plane) {  // ink at or above half its peak, with a blank border
  const top = plane.max();
  const width = plane.width + 2, height = plane.height + 2;
  const mask = new Uint8Array(width * height);
  if (top > 0) {
    for (let y = 0; y < plane.height; y++) {
      for (let x = 0; x < plane.width; x++) {
        mask[(y + 1) * width + x + 1] = plane.get(x, y) >= constants.STROKE_LEVEL * top ? 1 : 0;
      }
    }
  }
  return { mask, width, height };
}

function strokeWidth(inside, mask, width, height) {
  if (!mask.some((value) => value)) return 0;
  const skeleton = skeletonize(mask, width, height);
  const radii = [];
  for (let i = 0; i < skeleton.length; i++) if (skeleton[i]) radii.push(inside[i]);
  if (radii.length === 0) return 0;
  radii.sort((a, b) => a - b);
  const quarter = Math.floor(radii.length / 4);
  const middle = radii.length >= 4 ? radii.slice(quarter, radii.length - quarter) : radii;
  const mean = middle.reduce((sum, value) => sum + value, 0) / middle.length;
  return 2 * mean - 0.5;
}

export function normaliseStrokeWidth(plane, target = constants.MNIST_STROKE_WIDTH) {
  const { BOX, WORK_SIDE } = constants;
  const work = scaledToPeak(Math.max(plane.width, plane.height) === WORK_SIDE
    ? new Plane(plane.width, plane.height, Float32Array.from(plane.values)) : scaleLongestTo(plane, WORK_SIDE));
  const { mask, width, height } = inkMask(work);
  const inside = distanceTransform(mask, width, height);
  const measured = strokeWidth(inside, mask, width, height);
  if (measured <= 0) return { ink: work, pen: 0 };
  const path = Math.max(Math.max(work.width, work.height) - measured, 1);
  const pen = measured / Math.max(work.height - measured, 1);
  const wanted = (target * path) / (BOX - target);
  const change = (measured - wanted) / 2;  // > 0: the edge moves inwards by this much
  if (change >= 0) {
    const ink = new Plane(width, height);
    for (let i = 0; i < ink.values.length; i++) ink.values[i] = Math.min(Math.max(inside[i] - change, 0), 1);
    return { ink, pen };
  }
  const margin = Math.ceil(-change) + 1;
  const grownWidth = width + 2 * margin, grownHeight = height + 2 * margin;
  const grown = new Uint8Array(grownWidth * grownHeight);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) grown[(y + margin) * grownWidth + x + margin] = mask[y * width + x];
  }
  const outside = distanceTransform(grown.map((value) => 1 - value), grownWidth, grownHeight);
  const ink = new Plane(grownWidth, grownHeight);
  for (let i = 0; i < ink.values.length; i++) {
    ink.values[i] = grown[i] ? 1 : Math.min(Math.max(1 - outside[i] - change, 0), 1);
  }
  return { ink, pen };
}

export function centreByMass(plane) {
  const { FIELD } = constants;
  let mass = 0, sumY = 0, sumX = 0;
  for (let y = 0; y < plane.height; y++) {
    for (let x = 0; x < plane.width; x++) {
      const value = plane.get(x, y);
      mass += value; sumY += y * value; sumX += x * value;
    }
  }
  const top = roundHalfEven(FIELD / 2 - sumY / mass);
  const left = roundHalfEven(FIELD / 2 - sumX / mass);
  const out = new Float32Array(FIELD * FIELD);
  for (let y = Math.max(top, 0); y < Math.min(top + plane.height, FIELD); y++) {
    for (let x = Math.max(left, 0); x < Math.min(left + plane.width, FIELD); x++) {
      out[y * FIELD + x] = plane.get(x - left, y - top);
    }
  }
  return out;
}

// The whole preparation: RGBA pixels of a width x height canvas → 784 pixels in [0, 1] (white on black,
// row by row) and the pen's width against the digit's height (over LOOPS_FILL_IN: drawn small).
export function prepareDigit(rgba, width, height) {
  if (constants.INK_THRESHOLD === undefined) throw new Error("prepare.js: setConstants(config.prepare) first");
  const digit = cropToInk(inkMap(rgba, width, height));
  const redrawn = normaliseStrokeWidth(digit);
  return { pixels: centreByMass(fitToBox(trimToInk(redrawn.ink))), pen: redrawn.pen };
}
