// Decodes brotli off the page's thread, so a phone keeps drawing meanwhile (join.js: ONNX Runtime's WebAssembly
// over plain http://, where browsers take no brotli themselves). Google's decoder, vendored: vendor/brotli/.
import { BrotliDecode } from "./vendor/brotli/decode.min.js";

self.onmessage = ({ data }) => {
  try {
    const decoded = BrotliDecode(new Int8Array(data));
    self.postMessage({ decoded: decoded.buffer }, [decoded.buffer]);
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
