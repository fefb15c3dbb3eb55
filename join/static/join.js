// The phones' page: draw, the three models answer in this browser (ONNX Runtime Web), label.
// The server only sends the files (once, cached) and stores a labelled drawing (POST /join/label).

import * as ort from "./vendor/onnxruntime-web/ort.wasm.min.mjs";
import { NoDigit, prepareDigit, setConstants } from "./prepare.js";
import { followBrowser, list, percent, plural, t } from "./i18n.js";

const config = JSON.parse(document.getElementById("join-config").dataset.config);
const canvas = document.getElementById("canvas");
const pen = canvas.getContext("2d", { willReadFrequently: true });
const status = document.getElementById("status");
const answersBox = document.getElementById("answers");
const labelling = document.getElementById("labelling");
const stored = document.getElementById("stored");
const said = document.getElementById("said");
const undoButton = document.querySelector('[data-action="undo"]');
// The page in the phone's language: the server's pick (Accept-Language), or navigator.languages' (i18n.js).
const languageFollowed = followBrowser(config);
// The library's canvas and preprocessing constants, sent by the server (routes.py): the Draw page's canvas and
// brush, so the digit the models see is the same.
const { side: SIDE, brush: BRUSH } = config.canvas;
const { FIELD, LOOPS_FILL_IN } = config.prepare;
setConstants(config.prepare);

ort.env.wasm.wasmPaths = new URL("./vendor/onnxruntime-web/", import.meta.url).href;
ort.env.wasm.numThreads = 1;  // threads need cross-origin isolation; one is plenty for three small models

let models = [];  // {key, name, colour, text: {light, dark}, session}
let version = "";  // the export the models came from: a label names it, so none is stored against other runs
let prepared = null;  // the digit the models saw last: {pixels, answers}
let drawn = false;
let labelled = false;  // the drawing on the canvas is stored: the phone is between drawings (a check may come)
let answered = 0;  // answers given so far (body's data-answered: the tests wait on it)
let strokes = [];  // the drawing as strokes, each a list of canvas points: Undo takes the last one away
// What the canvas shows: "drawing" (strokes; a label stores it), or, without drawing, "test" (one of MNIST's
// test images, GET /join/digit) or "photo": answered here and never stored, as neither is the class's drawing.
let showing = "drawing";
let drawingNumber = 0;  // counts clears: an answer to a canvas since cleared is dropped

function say(text, error = false) {
  status.textContent = text;
  status.classList.toggle("error", error);
}

// fetch() fails with a TypeError when the server cannot be reached ("Failed to fetch", Safari's "Load failed").
function unreachable(error) { return error instanceof TypeError; }

function sessionId() {
  const key = "mnist-join-session";
  let id = localStorage.getItem(key);
  if (!id) {
    id = (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`).slice(0, 36);
    localStorage.setItem(key, id);
  }
  return id;
}

function showNickname(name) {
  document.getElementById("nickname").textContent = name;
  document.getElementById("me").hidden = false;
}

// The two random words this phone is known by in the room (the presenter sees them beside its drawings).
async function hello() {
  try {
    const reply = await fetch(config.hello, { method: "POST", headers: { "Content-Type": "application/json" },
                                              body: JSON.stringify({ session: sessionId() }) });
    if (reply.ok) showNickname((await reply.json()).nickname);
  } catch (error) { /* the first label names it too */ }
}

function clearCanvas() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, SIDE, SIDE);
  drawn = false;
  labelled = false;
  prepared = null;
  strokes = [];
  showing = "drawing";
  drawingNumber++;
  undoButton.disabled = true;
  said.textContent = "";
  showAnswers(null);
  labelling.hidden = true;
  stored.textContent = "";
  document.querySelectorAll(".labels button").forEach((button) => button.classList.remove("chosen"));
}

function showAnswers(result) {
  for (const model of models) {
    const box = answersBox.querySelector(`[data-model="${model.key}"]`);
    const probabilities = result ? result[model.key] : null;
    const digit = probabilities ? probabilities.indexOf(Math.max(...probabilities)) : null;
    box.dataset.digit = digit === null ? "" : String(digit);
    box.classList.toggle("loading-model", !model.session);
    box.querySelector(".digit").textContent = digit === null ? "–" : String(digit);
    box.querySelector(".sure").textContent = !model.session ? t("model_loading") :
      digit === null ? "" : t("sure", { percent: percent(probabilities[digit]) });
  }
}

// The answers in words, in the live region (#said): once they settle, not at every move of a stroke.
function tell(result) {
  said.textContent = models.filter((model) => result[model.key]).map((model) => {
    const probabilities = result[model.key];
    const digit = probabilities.indexOf(Math.max(...probabilities));
    return t("model_says", { model: model.name, digit, percent: percent(probabilities[digit]) });
  }).join("; ") + ".";
}

function noDigitText(error) { return error.key ? t(`nodigit_${error.key}`) : error.message; }

// Every model on one 28x28 digit ([0, 1] pixels); one run at a time, whichever way the digit came.
let modelsFree = Promise.resolve();
function runModels(pixels) {
  const run = modelsFree.then(async () => {
    const input = new ort.Tensor("float32", pixels, [1, 1, FIELD, FIELD]);
    const result = {};
    for (const model of loaded()) {
      const output = await model.session.run({ pixels: input });
      result[model.key] = Array.from(output.probabilities.data);
    }
    return result;
  });
  modelsFree = run.catch(() => {});
  return run;
}

async function answer() {
  if (showing !== "drawing") return;  // a test digit or a photo is answered where it came, and never stored
  if (!loaded().length) return;  // the strokes stay; the first model to load answers them
  const number = drawingNumber;
  const image = pen.getImageData(0, 0, SIDE, SIDE);
  let digit;
  try {
    digit = prepareDigit(image.data, SIDE, SIDE);
  } catch (error) {
    if (!(error instanceof NoDigit)) throw error;
    prepared = null;
    showAnswers(null);
    said.textContent = "";
    labelling.hidden = true;
    say(drawn ? noDigitText(error) : t("draw_prompt"));
    return;
  }
  // The picture stored with a label is the one these answers are for, not the canvas a stroke later.
  const picture = canvas.toDataURL("image/png");
  const result = await runModels(digit.pixels);
  if (number !== drawingNumber) return;  // cleared meanwhile (Clear, a test digit, a photo)
  prepared = { pixels: digit.pixels, answers: result, canvas: picture };
  showAnswers(result);
  if (!last) tell(result);  // the stroke has ended
  labelling.hidden = Object.keys(result).length < models.length;  // a label carries every model's answer
  const digits = new Set(Object.values(result).map((answers) => answers.indexOf(Math.max(...answers))));
  const alone = loaded().length === 1 ? loaded()[0] : null;  // the first model in while the others load
  say(digit.pen > LOOPS_FILL_IN ? t("small_for_pen") : alone ? t("model_says", { model: alone.name,
    digit: [...digits][0], percent: percent(Math.max(...result[alone.key])) }) :
    digits.size === 1 ? t("all_agree", { count: Object.keys(result).length, digit: [...digits][0] }) : t("disagree"));
}

// One answer at a time; a stroke that comes meanwhile is answered next (the latest drawing wins).
let running = false, again = false;
async function answerSoon() {
  if (running) { again = true; return; }
  running = true;
  try {
    do { again = false; await answer(); } while (again);
  } catch (error) {
    say(t("could_not_answer", { error: error.message }), true);
  } finally {
    running = false;
    document.body.dataset.answered = String(++answered);
  }
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [((event.clientX - box.left) / box.width) * SIDE, ((event.clientY - box.top) / box.height) * SIDE];
}

// A stroke is a dot where it starts, then a segment per move; Undo draws the strokes left the same way.
function dot([x, y]) {
  pen.beginPath();
  pen.arc(x, y, BRUSH / 2, 0, 2 * Math.PI);
  pen.fillStyle = "#fff";
  pen.fill();
}

function segment(from, to) {
  pen.strokeStyle = "#fff";
  pen.lineWidth = BRUSH;
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(from[0], from[1]);
  pen.lineTo(to[0], to[1]);
  pen.stroke();
}

// The drawing on the canvas is not the one stored any more (a stroke, an Undo after a label).
function forgetStored() {
  labelled = false;
  if (!stored.textContent) return;
  stored.textContent = "";
  stored.classList.remove("error");
  document.querySelectorAll(".labels button").forEach((button) => button.classList.remove("chosen"));
}

function undo() {
  if (!strokes.length || last) return;
  strokes.pop();
  if (!strokes.length) { clearCanvas(); say(t("draw")); return; }
  forgetStored();
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, SIDE, SIDE);
  for (const points of strokes) {
    dot(points[0]);
    for (let i = 1; i < points.length; i++) segment(points[i - 1], points[i]);
  }
  undoButton.disabled = false;
  answerSoon();
}
undoButton.addEventListener("click", undo);

let last = null, lastAnswer = 0;
canvas.addEventListener("pointerdown", (event) => {
  if (!models.length) return;
  event.preventDefault();
  if (showing !== "drawing") clearCanvas();  // a stroke on a test digit or a photo starts a drawing of one's own
  forgetStored();
  canvas.setPointerCapture(event.pointerId);
  last = point(event);
  strokes.push([last]);
  undoButton.disabled = false;
  dot(last);
  drawn = true;
});
canvas.addEventListener("pointermove", (event) => {
  if (!last) return;
  event.preventDefault();
  const next = point(event);
  segment(last, next);
  strokes[strokes.length - 1].push(next);
  last = next;
  if (performance.now() - lastAnswer > 150) { lastAnswer = performance.now(); answerSoon(); }  // answers as one draws
});
for (const end of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(end, () => { if (last) { last = null; answerSoon(); } });
}
document.querySelector('[data-action="clear"]').addEventListener("click", () => { clearCanvas(); say(t("draw")); });

async function storeLabel(label, button) {
  if (!prepared || Object.keys(prepared.answers).length < models.length) return;
  const body = JSON.stringify({
    session: sessionId(), label, models: version,
    pixels: Array.from(prepared.pixels, (value) => Math.round(value * 255)),
    canvas: prepared.canvas,
    answers: prepared.answers,
  });
  stored.classList.remove("error");
  stored.textContent = t("storing");
  try {
    const reply = await fetch(config.label, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    const record = await reply.json().catch(() => ({ error: t("server_answered", { status: reply.status }) }));
    if (!reply.ok) throw Object.assign(new Error(record.error || t("server_answered", { status: reply.status })),
                                       { retry: record.retry !== false });
    document.querySelectorAll(".labels button").forEach((other) => other.classList.toggle("chosen", other === button));
    stored.textContent = plural("stored", record.drawings, { digit: label });
    if (record.nickname) showNickname(record.nickname);
    labelled = true;
    if (roundRunning) { pollGame(); askForCheck(); }  // between one's own drawings: a classmate's to read
    if (record.agreed === false) stored.textContent += t("server_differs");
  } catch (error) {
    stored.classList.add("error");
    stored.textContent = t("not_stored", { reason: unreachable(error) ? t("unreachable") : error.message }) +
      (error.retry === false ? "" : t("press_again"));
  }
}

function buildPage() {
  answersBox.replaceChildren(...models.map((model) => {
    const box = document.createElement("div");
    box.className = "answer";
    box.dataset.model = model.key;
    box.dataset.digit = "";
    box.innerHTML = '<div class="name"></div><div class="digit">–</div><div class="sure"></div>';
    box.querySelector(".name").textContent = model.name;
    // The registry's colour as a border; as text its variants that read 4.5:1 on each scheme's page (join.css)
    box.style.borderColor = model.colour;
    box.style.setProperty("--model-text-light", model.text.light);
    box.style.setProperty("--model-text-dark", model.text.dark);
    return box;
  }));
  const labels = document.getElementById("labels");
  labels.replaceChildren(...Array.from({ length: 10 }, (_, digit) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.label = String(digit);
    button.textContent = String(digit);
    button.addEventListener("click", () => storeLabel(digit, button));
    return button;
  }));
}

async function start() {
  await languageFollowed;
  clearCanvas();
  let listing;
  try {
    const reply = await fetch(config.models, { cache: "no-cache" });
    listing = await reply.json();
    if (!reply.ok) throw new Error(listing.error || `The server answered ${reply.status}.`);
  } catch (error) {
    say(unreachable(error) ? t("cannot_reach") : error.message, true);
    return;
  }
  version = listing.version;
  models = listing.models.map((model) => ({ ...model, session: null }));  // strokes are taken from now on
  buildPage();
  showAnswers(null);
  try {
    await loadModels(listing);
  } catch (error) {
    say(t("not_loaded", { error: error.message }), true);
    return;
  }
  document.getElementById("loading").classList.add("done");
  if (!drawn && showing === "drawing") say(t("ready", { models: list(models.map((model) => model.name)) }));
  document.body.dataset.ready = "true";  // for the tests: the models are loaded
}

function loaded() { return models.filter((model) => model.session); }

// ONNX Runtime's WebAssembly and the models, the smallest model first (with the WebAssembly), then the others by
// size: on a slow Wi-Fi a phone answers with one model while the rest arrive. The bar counts the bytes as sent
// (compressed): /join/models says each file's size as sent ("download") and as read ("bytes", what a streamed body
// gives, decompressed); Content-Length would be the compressed size and is absent from a chunked reply.
async function loadModels(listing) {
  const [smallest, ...others] = [...models].sort((a, b) => a.download - b.download);
  const decode = listing.runtime.decode;  // over plain http://: the WebAssembly as brotli, decoded here
  const files = [listing.runtime, smallest, ...others, ...(decode ? [decode] : [])];
  const total = files.reduce((sum, file) => sum + file.download, 0);
  const received = files.map(() => 0);
  const bar = document.getElementById("loading-bar"), text = document.getElementById("loading-text");
  const megabytes = (bytes) => (bytes / 1e6).toLocaleString(document.documentElement.lang,
    { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const progress = (index) => (bytes) => {
    received[index] = bytes;
    const done = received.reduce((sum, part) => sum + part, 0);
    bar.value = done / total;
    text.textContent = t("loading_mb", { done: megabytes(done), total: megabytes(total) });
    document.body.dataset.downloaded = String(done);
  };
  progress(0)(0);
  const decoder = decode ? brotliDecoder(decode, progress(files.length - 1)) : null;
  const firstModel = download(smallest, progress(1));
  const runtime = await download({ ...listing.runtime, name: "ONNX Runtime" }, progress(0));
  ort.env.wasm.wasmBinary = decoder ? await (await decoder)(runtime) : runtime;
  await ready(smallest, await firstModel);
  for (const [index, model] of others.entries()) await ready(model, await download(model, progress(index + 2)));
}

// Browsers take brotli only from HTTPS or localhost: over the room's plain http:// /join/models sends the
// WebAssembly's .br as a file (2.45 MB; gzip 3.81) and "decode", Google's decoder (vendor/brotli/, 0.07 MB): about
// 0.6-1.4 s to decode on a laptop (docs/PERFORMANCE.md), a few on a phone, in a worker so that drawing goes on
// meanwhile. The page imports the decoder itself first (counted on the bar; the worker then finds it in the cache),
// and decodes on this thread where a module worker cannot start.
async function brotliDecoder(file, counted) {
  const { BrotliDecode } = await import(file.url);
  counted(file.download);
  const here = (body) => new Uint8Array(BrotliDecode(new Int8Array(body.buffer, body.byteOffset, body.length)).buffer);
  return (body) => new Promise((resolve, reject) => {
    const onThisThread = () => { try { resolve(here(body)); } catch (error) { reject(error); } };
    let worker;
    try {
      worker = new Worker(new URL("./brotli_worker.js", import.meta.url), { type: "module" });
    } catch {
      onThisThread();
      return;
    }
    worker.onerror = (event) => { event.preventDefault(); worker.terminate(); onThisThread(); };
    worker.onmessage = ({ data }) => {
      worker.terminate();
      if (data.error) reject(new Error(data.error)); else resolve(new Uint8Array(data.decoded));
    };
    worker.postMessage(body);  // a copy: this thread keeps the body, should the worker fail
  });
}

// A file's body, read as it arrives: ``counted`` is told the bytes so far, as sent.
async function download(file, counted) {
  const reply = await fetch(file.url);
  if (!reply.ok) throw new Error(t("model_file", { model: file.name, status: reply.status }));
  if (!reply.body) { const whole = new Uint8Array(await reply.arrayBuffer()); counted(file.download); return whole; }
  const reader = reply.body.getReader();
  let body = new Uint8Array(file.bytes), at = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.length > body.length) { const larger = new Uint8Array(2 * (at + value.length)); larger.set(body); body = larger; }
    body.set(value, at);
    at += value.length;
    counted(Math.round(file.download * Math.min(1, at / file.bytes)));
  }
  return at === body.length ? body : body.slice(0, at);
}

// One more model answers: the drawing on the canvas is answered again, with it.
async function ready(model, bytes) {
  model.session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  const count = loaded().length;
  performance.mark("join-model-ready", { detail: { key: model.key, count } });  // tools/bench_join.py reads these
  document.body.dataset.loaded = String(count);
  const box = answersBox.querySelector(`[data-model="${model.key}"]`);
  box.classList.remove("loading-model");
  if (box.dataset.digit === "") box.querySelector(".sure").textContent = "";
  if (drawn && showing === "drawing") answerSoon();
  else if (count === 1 && showing === "drawing") say(t("ready_first", { model: model.name }));
}

// --- without drawing: one of MNIST's test digits, or a photo (a keyboard, a screen reader, no finger to draw) --

const PHOTO_SIDE = 560;  // pixels, the longer side a photo is read at: a 12-megapixel photo takes seconds
const pickButton = document.querySelector('[data-action="pick"]');
const photoInput = document.getElementById("photo");

// A 28x28 digit ([0, 1] pixels), answered by every model, shown large on the canvas as the models see it. Nothing
// is stored: the labels stay hidden, since a test digit is MNIST's and a photo is not a drawing of the room's.
async function answerWithoutDrawing(pixels, kind, sentence) {
  clearCanvas();
  showing = kind;
  const number = drawingNumber;
  const small = document.createElement("canvas");
  small.width = small.height = FIELD;
  const image = small.getContext("2d").createImageData(FIELD, FIELD);
  pixels.forEach((value, i) => image.data.set([value * 255, value * 255, value * 255, 255], 4 * i));
  small.getContext("2d").putImageData(image, 0, 0);
  pen.imageSmoothingEnabled = false;
  pen.drawImage(small, 0, 0, SIDE, SIDE);
  pen.imageSmoothingEnabled = true;
  try {
    const result = await runModels(pixels);
    if (number !== drawingNumber) return;  // a stroke or another digit came meanwhile
    showAnswers(result);
    say(sentence);
    tell(result);
  } catch (error) {
    say(t("could_not_answer", { error: error.message }), true);
  } finally {
    document.body.dataset.answered = String(++answered);
  }
}

async function pickTestDigit() {
  if (!loaded().length) { say(t("loading")); return; }
  say(t("picking"));
  let picked;
  try {
    const reply = await fetch(config.digit, { cache: "no-store" });
    picked = await reply.json().catch(() => ({ error: t("server_answered", { status: reply.status }) }));
    if (!reply.ok) throw new Error(picked.error || t("server_answered", { status: reply.status }));
  } catch (error) {
    say(t("pick_failed", { reason: unreachable(error) ? t("unreachable") : error.message }), true);
    return;
  }
  await answerWithoutDrawing(Float32Array.from(picked.pixels, (value) => value / 255), "test",
                             t("picked", { index: picked.index, label: picked.label }));
}

// A photo of a digit on paper: prepared as the Draw page prepares an upload (dark ink on light paper is found).
async function answerPhoto(file) {
  if (!loaded().length) { say(t("loading")); return; }
  say(t("photo_reading"));
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (error) {
    say(t("photo_unreadable"), true);
    return;
  }
  const scale = Math.min(1, PHOTO_SIDE / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale)), height = Math.max(1, Math.round(bitmap.height * scale));
  const work = document.createElement("canvas");
  work.width = width;
  work.height = height;
  const context = work.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  let digit;
  try {
    digit = prepareDigit(context.getImageData(0, 0, width, height).data, width, height);
  } catch (error) {
    if (!(error instanceof NoDigit)) throw error;
    clearCanvas();
    say(t("photo_no_digit", { reason: noDigitText(error) }), true);
    return;
  }
  await answerWithoutDrawing(digit.pixels, "photo", t("photo_answered"));
}

if (config.digit) {
  pickButton.addEventListener("click", pickTestDigit);
} else {  // this server has no MNIST: a photo only, and the page says why
  pickButton.hidden = true;
  document.getElementById("no-test-digits").hidden = false;
}
document.querySelector('[data-action="upload"]').addEventListener("click", () => photoInput.click());
photoInput.addEventListener("change", () => {
  const [file] = photoInput.files;
  photoInput.value = "";  // the same file chosen again is a change again
  if (file) answerPhoto(file);
});

// --- the game (mnist_core.game): a round's clock and points, and a classmate's drawing to read ----------------

const gameBox = document.getElementById("game");
const checkBox = document.getElementById("check");
let roundRunning = false;
let checking = null;  // the id of the classmate's drawing on screen

function modelName(key) { return (models.find((model) => model.key === key) || { name: key }).name; }

async function pollGame() {
  try {
    const reply = await fetch(`${config.game}?session=${encodeURIComponent(sessionId())}`, { cache: "no-store" });
    if (!reply.ok) return;
    const state = await reply.json();
    const running = Boolean(state.round && state.round.running);
    const ended = roundRunning && !running;
    roundRunning = running;
    gameBox.hidden = !state.round;
    document.body.dataset.round = running ? "running" : (state.round ? "over" : "none");
    if (state.round) {
      const left = state.round.seconds_left;
      document.getElementById("game-clock").textContent = running
        ? t("clock_left", { time: `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}` }) : t("round_over");
      document.getElementById("game-rule").hidden = !running;
      const fooled = Object.entries(state.fooled || {}).map(([key, count]) => `${modelName(key)} ×${count}`);
      document.getElementById("game-score").textContent = plural("score", state.points) +
        (fooled.length ? t("fooled", { models: fooled.join(", ") }) : "") + ".";
      document.body.dataset.points = String(state.points);
    }
    if (ended) hideCheck();
    if (running && checking === null && (!drawn || labelled)) await askForCheck();
  } catch (error) { /* the next poll tries again */ }
}

function hideCheck() {
  checking = null;
  checkBox.hidden = true;
  document.body.dataset.checking = "";
}

async function askForCheck() {
  if (!roundRunning || checking !== null) return;
  try {
    const reply = await fetch(`${config.check}?session=${encodeURIComponent(sessionId())}`, { cache: "no-store" });
    if (reply.status !== 200) return;
    const offer = await reply.json();
    checking = offer.id;
    document.getElementById("check-image").src = offer.canvas;
    document.getElementById("check-status").textContent = "";
    checkBox.hidden = false;
    document.body.dataset.checking = String(offer.id);
  } catch (error) { /* asked again after the next drawing */ }
}

async function answerCheck(digit) {
  if (checking === null) return;
  const status = document.getElementById("check-status");
  try {
    const reply = await fetch(config.check, { method: "POST", headers: { "Content-Type": "application/json" },
                                              body: JSON.stringify({ session: sessionId(), id: checking, digit }) });
    const record = await reply.json().catch(() => ({}));
    hideCheck();
    say(reply.ok ? t("check_thanks", { digit }) : (record.error || t("check_closed")));
  } catch (error) {
    status.textContent = t("check_not_sent");
  }
}

document.getElementById("check-digits").replaceChildren(...Array.from({ length: 10 }, (_, digit) => {
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.check = String(digit);
  button.textContent = String(digit);
  button.addEventListener("click", () => answerCheck(digit));
  return button;
}));

// For the tests (tests/test_join.py): the digit the models saw last and their answers.
window.joinLastDigit = () => (prepared ? { pixels: Array.from(prepared.pixels), answers: prepared.answers } : null);

hello();
start().then(() => { pollGame(); setInterval(pollGame, 4000); });
