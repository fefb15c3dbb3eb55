// The phones' page: draw, the three models answer in this browser (ONNX Runtime Web), label.
// The server only sends the files (once, cached) and stores a labelled drawing (POST /join/label).

import * as ort from "./vendor/onnxruntime-web/ort.wasm.min.mjs";
import { NoDigit, prepareDigit, setConstants } from "./prepare.js";

const config = JSON.parse(document.getElementById("join-config").dataset.config);
const canvas = document.getElementById("canvas");
const pen = canvas.getContext("2d", { willReadFrequently: true });
const status = document.getElementById("status");
const answersBox = document.getElementById("answers");
const labelling = document.getElementById("labelling");
const stored = document.getElementById("stored");
// The library's canvas and preprocessing constants, sent by the server (routes.py): the Draw page's canvas and
// brush, so the digit the models see is the same.
const { side: SIDE, brush: BRUSH } = config.canvas;
const { FIELD, LOOPS_FILL_IN } = config.prepare;
setConstants(config.prepare);

ort.env.wasm.wasmPaths = new URL("./vendor/onnxruntime-web/", import.meta.url).href;
ort.env.wasm.numThreads = 1;  // threads need cross-origin isolation; one is plenty for three small models

let models = [];  // {key, name, colour, session}
let version = "";  // the export the models came from: a label names it, so none is stored against other runs
let prepared = null;  // the digit the models saw last: {pixels, answers}
let drawn = false;
let labelled = false;  // the drawing on the canvas is stored: the phone is between drawings (a check may come)
let answered = 0;  // answers given so far (body's data-answered: the tests wait on it)

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
    box.querySelector(".digit").textContent = digit === null ? "–" : String(digit);
    box.querySelector(".sure").textContent = digit === null ? "" : `${(100 * probabilities[digit]).toFixed(1)}% sure`;
  }
}

async function answer() {
  const image = pen.getImageData(0, 0, SIDE, SIDE);
  let digit;
  try {
    digit = prepareDigit(image.data, SIDE, SIDE);
  } catch (error) {
    if (!(error instanceof NoDigit)) throw error;
    prepared = null;
    showAnswers(null);
    labelling.hidden = true;
    say(drawn ? error.message : "Draw a digit, large and in the middle.");
    return;
  }
  const input = new ort.Tensor("float32", digit.pixels, [1, 1, FIELD, FIELD]);
  const result = {};
  for (const model of models) {
    const output = await model.session.run({ pixels: input });
    result[model.key] = Array.from(output.probabilities.data);
  }
  // The picture stored with a label is the one these answers are for, not the canvas a stroke later.
  prepared = { pixels: digit.pixels, answers: result, canvas: canvas.toDataURL("image/png") };
  showAnswers(result);
  labelling.hidden = false;
  const digits = new Set(models.map((model) => result[model.key].indexOf(Math.max(...result[model.key]))));
  say(digit.pen > LOOPS_FILL_IN ? "Small for the pen: draw it larger." :
    digits.size === 1 ? `All ${models.length} models say ${[...digits][0]}.` : "The models disagree!");
}

// One answer at a time; a stroke that comes meanwhile is answered next (the latest drawing wins).
let running = false, again = false;
async function answerSoon() {
  if (running) { again = true; return; }
  running = true;
  try {
    do { again = false; await answer(); } while (again);
  } catch (error) {
    say(`The models could not answer (${error.message}). Reload the page.`, true);
  } finally {
    running = false;
    document.body.dataset.answered = String(++answered);
  }
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [((event.clientX - box.left) / box.width) * SIDE, ((event.clientY - box.top) / box.height) * SIDE];
}

let last = null, lastAnswer = 0;
canvas.addEventListener("pointerdown", (event) => {
  if (!models.length) return;
  event.preventDefault();
  if (stored.textContent) {  // a stroke after a label: the drawing on the canvas is not the one stored any more
    stored.textContent = "";
    stored.classList.remove("error");
    document.querySelectorAll(".labels button").forEach((button) => button.classList.remove("chosen"));
  }
  canvas.setPointerCapture(event.pointerId);
  last = point(event);
  pen.beginPath();
  pen.arc(last[0], last[1], BRUSH / 2, 0, 2 * Math.PI);
  pen.fillStyle = "#fff";
  pen.fill();
  drawn = true;
  labelled = false;
});
canvas.addEventListener("pointermove", (event) => {
  if (!last) return;
  event.preventDefault();
  const next = point(event);
  pen.strokeStyle = "#fff";
  pen.lineWidth = BRUSH;
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(last[0], last[1]);
  pen.lineTo(next[0], next[1]);
  pen.stroke();
  last = next;
  if (performance.now() - lastAnswer > 150) { lastAnswer = performance.now(); answerSoon(); }  // answers as one draws
});
for (const end of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(end, () => { if (last) { last = null; answerSoon(); } });
}
document.querySelector('[data-action="clear"]').addEventListener("click", () => { clearCanvas(); say("Draw a digit."); });

async function storeLabel(label, button) {
  if (!prepared) return;
  const body = JSON.stringify({
    session: sessionId(), label, models: version,
    pixels: Array.from(prepared.pixels, (value) => Math.round(value * 255)),
    canvas: prepared.canvas,
    answers: prepared.answers,
  });
  stored.classList.remove("error");
  stored.textContent = "Storing…";
  try {
    const reply = await fetch(config.label, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    const record = await reply.json().catch(() => ({ error: `The server answered ${reply.status}.` }));
    if (!reply.ok) throw Object.assign(new Error(record.error || `The server answered ${reply.status}.`),
                                       { retry: record.retry !== false });
    document.querySelectorAll(".labels button").forEach((other) => other.classList.toggle("chosen", other === button));
    stored.textContent = `Stored as a ${label}, thank you (${record.drawings} drawing${record.drawings === 1 ? "" : "s"} ` +
      "in the room's test set). Press another digit to correct it, or Clear and draw again.";
    if (record.nickname) showNickname(record.nickname);
    labelled = true;
    if (roundRunning) { pollGame(); askForCheck(); }  // between one's own drawings: a classmate's to read
    if (record.agreed === false) stored.textContent += " (The server's models read it differently from this " +
      "phone's: the server's answers are the ones scored. Reloading the page brings the newest models.)";
  } catch (error) {
    stored.classList.add("error");
    stored.textContent = `Not stored: ${unreachable(error) ? "the server cannot be reached." : error.message}` +
      (error.retry === false ? "" : " Your drawing is still here: press the digit again.");
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
    box.querySelector(".digit").style.color = model.colour;
    box.style.borderColor = model.colour;
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
  clearCanvas();
  let listing;
  try {
    const reply = await fetch(config.models, { cache: "no-cache" });
    listing = await reply.json();
    if (!reply.ok) throw new Error(listing.error || `The server answered ${reply.status}.`);
  } catch (error) {
    say(unreachable(error) ? "The server cannot be reached: check the Wi-Fi, then reload." : error.message, true);
    return;
  }
  version = listing.version;
  try {
    models = await Promise.all(listing.models.map(async (model) => {
      const reply = await fetch(model.url);
      if (!reply.ok) throw new Error(`${model.name}'s file: the server answered ${reply.status}`);
      const session = await ort.InferenceSession.create(new Uint8Array(await reply.arrayBuffer()),
        { executionProviders: ["wasm"] });
      return { ...model, session };
    }));
  } catch (error) {
    models = [];
    say(`The models could not be loaded (${error.message}). Reload the page.`, true);
    return;
  }
  buildPage();
  showAnswers(null);
  say(`Draw a digit: ${models.map((model) => model.name).join(", ")} answer as you draw.`);
  document.body.dataset.ready = "true";  // for the tests: the models are loaded
}

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
        ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} left` : "The round is over.";
      document.getElementById("game-rule").hidden = !running;
      const fooled = Object.entries(state.fooled || {}).map(([key, count]) => `${modelName(key)} ×${count}`);
      document.getElementById("game-score").textContent = `You: ${state.points} point${state.points === 1 ? "" : "s"}` +
        (fooled.length ? ` (fooled ${fooled.join(", ")})` : "") + ".";
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
    say(reply.ok ? `Thank you: you read it as a ${digit}.` : (record.error || "That check has closed."));
  } catch (error) {
    status.textContent = "Not sent: the server cannot be reached. Press the digit again.";
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
