// The kiosk page: says each question, listens for one answer, sends it as WAV, shows the next step.
"use strict";
const RATE = 16000;              // what Whisper wants; the browser resamples the microphone to it
const QUIET_TO_ARM_S = 0.6;      // silence before listening starts, longer than a pause between spelled letters,
                                 // so an answer already under way is never picked up from its middle
const QUIET_TO_END_S = 0.8;      // silence after speech that ends the answer
const MAX_ANSWER_S = 12;
const WAIT_S = 15;               // no speech at all in this time: ask for a tap
const $ = (id) => document.getElementById(id);
let ctx = null, rate = RATE, listener = null, session = null;

function setStatus(text, error = false) {
  $("estado").textContent = text;
  $("estado").className = error ? "error" : "";
}

function addLine(who, text) {
  const li = document.createElement("li");
  li.className = who;
  li.textContent = text;
  $("charla").prepend(li);
}

async function start() {
  $("empezar").hidden = true;
  try {
    ctx = new AudioContext({ sampleRate: RATE });
    rate = ctx.sampleRate;
    // No echo cancellation or noise suppression: they smear speech, and the kiosk never listens while it talks.
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    await ctx.audioWorklet.addModule("/kiosco/captura.js");
    const node = new AudioWorkletNode(ctx, "captura");
    node.port.onmessage = (e) => listener && listener.feed(e.data);
    ctx.createMediaStreamSource(stream).connect(node);
  } catch (err) {
    setStatus(`No pude usar el micrófono (${err.message}). Revisá el permiso del navegador y recargá la página.`, true);
    return;
  }
  await newSession();
}

async function api(url, options = {}) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(typeof body.detail === "string" ? body.detail : `el servidor respondió ${response.status}`);
  }
  return body;
}

async function newSession() {
  $("ticket").hidden = true;
  $("otro").hidden = true;
  $("charla").innerHTML = "";
  try {
    await show(await api("/api/sesiones", { method: "POST" }));
  } catch (err) {
    setStatus(`No pude empezar: ${err.message}`, true);
    $("otro").hidden = false;
  }
}

async function show(turn) {
  session = turn.sesion;
  if (turn.oido !== undefined) addLine("conductor", turn.oido ? `«${turn.oido}»` : "(no se entendió nada)");
  $("pregunta").textContent = turn.texto;
  addLine("asistente", turn.texto);
  setStatus("");
  if (turn.listo) showTicket(turn.ticket);  // the ticket does not wait for the goodbye to be spoken
  await say(turn.voz);
  if (!turn.listo) listen();
}

function say(url) {
  // Spoken by espeak-ng on the server; without sound the question is still on screen.
  return new Promise((resolve) => {
    const audio = new Audio(url);
    audio.onended = resolve;
    audio.onerror = resolve;
    audio.play().catch(resolve);
  });
}

function showTicket(ticket) {
  const box = $("ticket");
  box.dataset.ticket = JSON.stringify(ticket);
  if (ticket.staff) {
    box.innerHTML = `<h2>Ya viene alguien del personal</h2><p>${escapeHtml(ticket.reason)}</p>`;
  } else {
    const exit = new Date(ticket.expected_exit);
    const sameDay = exit.toDateString() === new Date(ticket.arrival).toDateString();
    const time = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    const salida = exit.toLocaleString("es-AR", sameDay ? time : { day: "numeric", month: "numeric", ...time });
    box.innerHTML = `<h2>Tu ticket</h2><dl>
      <dt>Lugar</dt><dd class="lugar">${escapeHtml(ticket.spot)}</dd>
      <dt>Patente</dt><dd>${escapeHtml(formatPlate(ticket.plate))}</dd>
      <dt>Tipo</dt><dd>${ticket.covered ? "techado" : "descubierto"}</dd>
      <dt>Salida estimada</dt><dd>${salida}</dd></dl>`;
  }
  box.hidden = false;
  $("hablar").hidden = true;
  $("otro").hidden = false;
  setStatus("");
}

function formatPlate(plate) {
  return plate.match(/[A-Z]+|\d+/g).join(" ");
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// Endpointing by energy: a dozen lines, no library or model to download for a page that only needs
// where one answer starts and ends. The noise floor is the quietest recent level, so a noisy entrance
// raises the threshold and a quiet one lowers it.
class Listener {
  constructor(onDone) {
    this.onDone = onDone;
    this.state = "arming";
    this.noise = Infinity;
    this.quiet = 0;
    this.waited = 0;
    this.preroll = [];
    this.chunks = [];
  }

  feed(block) {
    let sum = 0;
    for (const x of block) sum += x * x;
    const level = Math.sqrt(sum / block.length);
    const dt = block.length / rate;
    this.noise = Math.min(level, this.noise * 1.01);
    const loud = level > Math.max(0.015, 4 * this.noise);
    $("nivel").firstElementChild.style.width = `${Math.min(100, level * 400)}%`;
    this.quiet = loud ? 0 : this.quiet + dt;
    if (this.state === "arming") {
      if (this.quiet >= QUIET_TO_ARM_S) this.state = "waiting";
    } else if (this.state === "waiting") {
      this.preroll.push(block);
      if (this.preroll.length > 5) this.preroll.shift();
      this.waited += dt;
      if (loud) {
        this.state = "speaking";
        this.chunks = this.preroll.slice();
        setStatus("Te escucho…");
      } else if (this.waited > WAIT_S) {
        this.finish(null);
      }
    } else {
      this.chunks.push(block);
      const length = this.chunks.reduce((n, c) => n + c.length, 0) / rate;
      if (this.quiet >= QUIET_TO_END_S || length >= MAX_ANSWER_S) this.finish(this.chunks);
    }
  }

  finish(chunks) {
    listener = null;
    $("nivel").firstElementChild.style.width = "0";
    this.onDone(chunks);
  }
}

function listen() {
  $("hablar").hidden = true;
  setStatus("Hablá ahora…");
  listener = new Listener(async (chunks) => {
    if (chunks === null) {
      setStatus("No te escuché. Tocá «Hablar» cuando quieras responder.");
      $("hablar").hidden = false;
      return;
    }
    setStatus("Un momento…");
    try {
      await show(await api(`/api/sesiones/${session}/respuesta`, {
        method: "POST", headers: { "Content-Type": "audio/wav" }, body: wav(chunks),
      }));
    } catch (err) {
      setStatus(`${err.message}`, true);
      $("hablar").hidden = false;
    }
  });
}

function wav(chunks) {
  // 16-bit PCM mono: what soundfile reads on the server (MediaRecorder's webm/opus would need ffmpeg).
  const n = chunks.reduce((k, c) => k + c.length, 0);
  const view = new DataView(new ArrayBuffer(44 + 2 * n));
  const text = (at, s) => [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * n, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, 2 * rate, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, 2 * n, true);
  let at = 44;
  for (const c of chunks) {
    for (const x of c) {
      view.setInt16(at, Math.max(-1, Math.min(1, x)) * 0x7fff, true);
      at += 2;
    }
  }
  return new Blob([view], { type: "audio/wav" });
}

$("empezar").onclick = start;
$("hablar").onclick = listen;
$("otro").onclick = newSession;
