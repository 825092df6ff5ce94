// The kiosk / mobile onboarding flow: set-up (kiosk key) → start → the steps the session
// requires (document → selfie → otp, only those in required_steps) → approval → activation QR.
//
// The kiosk key is read once from `#key=...` (then removed from the address bar) or the set-up
// screen, and kept in sessionStorage only. Every text comes from i18n.js.

import { ApiError, NetworkError, createApi } from "./api.js";
import { captureFrames, cameraSupported, closeCamera, grabFrame, openCamera } from "./camera.js";
import { LOCALES, has, locale, setLocale, t } from "./i18n.js";

/** The version of the consent notice (`ui.start.consent.notice`); change it with the text. */
const CONSENT_NOTICE_VERSION = "kiosk-2026-11";

const KEY_STORAGE = "simgate.kiosk.key";
const VERIFICATION_STORAGE = "simgate.kiosk.verification";
const LOCALE_STORAGE = "simgate.kiosk.locale";
const STEP_ORDER = ["document", "selfie", "otp"];
/** Frames sent for an active-liveness challenge (the API needs at least 3), over ~2 s. */
const CHALLENGE_FRAMES = 4;
const CHALLENGE_SPAN_MS = 2000;

const $ = (id) => document.getElementById(id);

const state = {
  verification: null,
  screen: null,
  feedback: null,
  streams: {},
  documentFile: null,
  thumbUrl: null,
  otpStarted: false,
};

const api = createApi(() => sessionStorage.getItem(KEY_STORAGE) || "");

// ---------------------------------------------------------------------------------------------
// Text

/** Sets an element's text from a dictionary key, remembered so a locale switch re-renders it. */
function setText(element, key, params = {}) {
  if (!key) {
    delete element.dataset.i18n;
    delete element.dataset.i18nParams;
    element.textContent = "";
    return;
  }
  element.dataset.i18n = key;
  element.dataset.i18nParams = JSON.stringify(params);
  element.textContent = t(key, params);
}

function applyI18n() {
  document.documentElement.lang = locale();
  for (const element of document.querySelectorAll("[data-i18n]")) {
    const params = element.dataset.i18nParams ? JSON.parse(element.dataset.i18nParams) : {};
    element.textContent = t(element.dataset.i18n, params);
  }
  for (const element of document.querySelectorAll("[data-i18n-alt]")) {
    element.alt = t(element.dataset.i18nAlt);
  }
  for (const element of document.querySelectorAll("[data-i18n-aria-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nAriaLabel));
  }
  for (const button of document.querySelectorAll("[data-locale]")) {
    button.setAttribute("aria-pressed", String(button.dataset.locale === locale()));
  }
  renderFeedback();
  renderProgress();
  renderChallenge();
  renderSelfieHelp();
  if (state.screen === "done") renderDone();
}

function switchLocale(next) {
  setLocale(next);
  sessionStorage.setItem(LOCALE_STORAGE, locale());
  applyI18n();
}

// ---------------------------------------------------------------------------------------------
// Feedback: the outcome reasons and retake hints, or an error, in one live region.

/** A reason code's message and hint keys (unknown codes are shown as they are). */
function reasonItem(code) {
  return {
    text: has(`reason.${code}`) ? { key: `reason.${code}` } : { key: "reason.unknown", params: { code } },
    hint: has(`hint.${code}`) ? { key: `hint.${code}` } : null,
  };
}

function showFeedback(feedback) {
  state.feedback = feedback;
  renderFeedback();
}

function clearFeedback() {
  state.feedback = null;
  renderFeedback();
  for (const element of document.querySelectorAll("[aria-invalid]")) element.removeAttribute("aria-invalid");
}

function renderFeedback() {
  const box = $("feedback");
  const feedback = state.feedback;
  box.replaceChildren();
  if (!feedback) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.classList.toggle("ok", feedback.kind === "ok");
  const title = document.createElement("h3");
  title.textContent = t(feedback.title);
  box.append(title);
  if (feedback.lead) {
    const lead = document.createElement("p");
    lead.textContent = t(feedback.lead);
    box.append(lead);
  }
  if (feedback.items && feedback.items.length) {
    const list = document.createElement("ul");
    for (const item of feedback.items) {
      const li = document.createElement("li");
      li.dataset.reason = item.code || "";
      li.textContent = t(item.text.key, item.text.params);
      if (item.hint) {
        const hint = document.createElement("span");
        hint.className = "hint";
        hint.textContent = t(item.hint.key, item.hint.params);
        li.append(hint);
      }
      list.append(li);
    }
    box.append(list);
  }
  for (const line of feedback.lines || []) {
    const p = document.createElement("p");
    p.textContent = t(line.key, line.params);
    box.append(p);
  }
  if (feedback.detail) {
    const p = document.createElement("p");
    p.className = "help";
    p.lang = "en";
    p.textContent = feedback.detail;
    box.append(p);
  }
}

/** Shows what went wrong with a call; returns true when it was handled by changing screen. */
function showError(error) {
  if (error instanceof NetworkError) {
    showFeedback({ title: "ui.feedback.error", lines: [{ key: "ui.feedback.network" }] });
    return false;
  }
  if (!(error instanceof ApiError)) {
    showFeedback({ title: "ui.feedback.error", detail: String(error && error.message ? error.message : error) });
    return false;
  }
  if (error.status === 401) {
    sessionStorage.removeItem(KEY_STORAGE);
    showScreen("setup");
    showFeedback({ title: "ui.feedback.error", lines: [{ key: "problem.unauthorized" }] });
    return true;
  }
  const lines = [];
  let detail = error.problem.detail || "";
  if (error.type === "otp-refused" && error.reason && has(`otp.${error.reason}`)) {
    lines.push({ key: `otp.${error.reason}` });
    detail = "";
  } else if (error.reason && has(`otp.${error.reason}`)) {
    lines.push({ key: `otp.${error.reason}` });
  } else if (has(`problem.${error.type}`)) {
    lines.push({ key: `problem.${error.type}` });
  }
  if (error.field) {
    const label = has(`ui.field.${error.field}`) ? t(`ui.field.${error.field}`) : error.field;
    lines.push({ key: "ui.field.invalid", params: { field: label } });
    const input = document.querySelector(`.screen:not([hidden]) [name="${CSS.escape(error.field)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }
  // A refused code or a step's state conflict is not a fault: the person can act on it.
  const title = error.type === "otp-refused" || error.status === 409 ? "ui.feedback.failed" : "ui.feedback.error";
  showFeedback({ title, lines, detail });
  return false;
}

/** After a state conflict (409: step already passed, out of order, expired...), re-reads the
 * verification and shows the screen it is really at, keeping the message. */
async function resync(error) {
  if (!(error instanceof ApiError) || error.status !== 409 || !state.verification) return;
  try {
    route(await api.getVerification(state.verification.id));
  } catch {
    // the message already shown says what went wrong
  }
}

// ---------------------------------------------------------------------------------------------
// Screens and progress

function stopCameras() {
  for (const [name, stream] of Object.entries(state.streams)) {
    closeCamera(stream, $(`${name}-video`));
    $(`${name}-video`).hidden = true;
  }
  state.streams = {};
  setText($("document-camera-toggle"), "ui.camera.open");
  $("document-take").hidden = true;
}

function showScreen(name, { focus = true } = {}) {
  if (state.screen !== name) stopCameras();
  state.screen = name;
  for (const section of document.querySelectorAll(".screen")) {
    section.hidden = section.id !== `screen-${name}`;
  }
  document.querySelector(".progress").hidden = !state.verification || name === "setup" || name === "start";
  renderProgress();
  if (focus) {
    const heading = document.querySelector(`#screen-${name} h2`);
    if (heading) heading.focus();
  }
  document.body.dataset.screen = name;
}

function renderProgress() {
  const list = $("progress");
  list.replaceChildren();
  const verification = state.verification;
  if (!verification) return;
  const required = STEP_ORDER.filter((step) => verification.required_steps.includes(step));
  for (const step of [...required, "done"]) {
    const li = document.createElement("li");
    li.dataset.step = step;
    const passed = step === "done" ? verification.status === "activated" : !verification.pending_steps.includes(step);
    const current = state.screen === step || (step === "done" && ["approved", "activated"].includes(state.screen));
    li.textContent = t(`ui.step.${step}`);
    if (current) {
      li.setAttribute("aria-current", "step");
      li.append(` ${t("ui.step.current")}`);
    } else if (passed) {
      li.classList.add("passed");
      li.append(` ${t("ui.step.passed")}`);
    }
    list.append(li);
  }
}

function setBusy(busy, key = "ui.busy") {
  for (const button of document.querySelectorAll("main button, main input, main textarea")) {
    button.disabled = busy;
  }
  $("main").setAttribute("aria-busy", String(busy));
  setText($("busy"), busy ? key : null);
  $("busy").hidden = !busy;
}

/** Runs `action` with the page busy; errors are shown. */
async function busy(action, key) {
  setBusy(true, key);
  try {
    return await action();
  } catch (error) {
    showError(error);
    setBusy(false);
    await resync(error);
    return undefined;
  } finally {
    setBusy(false);
  }
}

// ---------------------------------------------------------------------------------------------
// Routing by the verification's state

function remember(verification) {
  state.verification = verification;
  sessionStorage.setItem(VERIFICATION_STORAGE, verification.id);
}

function nextStep(verification) {
  return STEP_ORDER.find(
    (step) => verification.required_steps.includes(step) && verification.pending_steps.includes(step),
  );
}

function route(verification) {
  remember(verification);
  switch (verification.status) {
    case "in_progress": {
      const step = nextStep(verification);
      if (!step) {
        showScreen("done");
        renderDone();
        return;
      }
      enterStep(step);
      return;
    }
    case "approved":
      showScreen("approved");
      return;
    default:
      showScreen("done");
      renderDone();
  }
}

function enterStep(step) {
  const changed = state.screen !== step;
  showScreen(step, { focus: changed });
  if (!changed) return;
  if (step === "document") resetDocument();
  if (step === "selfie") enterSelfie();
  if (step === "otp") resetOtp();
}

function renderDone() {
  const verification = state.verification;
  if (!verification) return;
  const status = verification.status;
  const titleKey = has(`ui.done.${status}`) ? `ui.done.${status}` : "ui.done.rejected";
  setText($("done-title"), titleKey);
  const list = $("done-reasons");
  list.replaceChildren();
  const reasons = (verification.decision && verification.decision.reasons) || [];
  for (const code of reasons) {
    const item = reasonItem(code);
    const li = document.createElement("li");
    li.dataset.reason = code;
    li.textContent = t(item.text.key, item.text.params);
    list.append(li);
  }
}

/** Shows a step's outcome: on to the next screen when it passed, reasons and hints when not. */
function handleStepResponse(response) {
  const { outcome, verification, step } = response;
  if (outcome.passed || verification.status !== "in_progress") {
    clearFeedback();
    if (outcome.passed) showFeedback({ kind: "ok", title: "ui.feedback.passed" });
    route(verification);
    if (verification.status !== "in_progress" && verification.status !== "approved") clearFeedback();
    return;
  }
  remember(verification);
  const stepView = verification.steps.find((s) => s.step === step);
  const lines = stepView ? [{ key: "ui.feedback.attempts_left", params: { n: stepView.attempts_left } }] : [];
  showFeedback({
    title: "ui.feedback.failed",
    lead: "ui.feedback.retake",
    items: outcome.reasons.map((code) => ({ code, ...reasonItem(code) })),
    lines,
  });
  renderProgress();
  if (step === "selfie") {
    renderChallenge();
    renderSelfieHelp();
  }
  $("feedback").scrollIntoView({ block: "nearest" });
}

// ---------------------------------------------------------------------------------------------
// Set-up and start

function readKeyFromFragment() {
  if (!location.hash) return;
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("key");
  const lang = params.get("lang");
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  if (lang && LOCALES.includes(lang)) sessionStorage.setItem(LOCALE_STORAGE, lang);
  // The key must not stay in the address bar, the history or a bookmark.
  history.replaceState(null, "", location.pathname + location.search);
}

function onSetup(event) {
  event.preventDefault();
  const key = $("setup-key").value.trim();
  if (!key) {
    $("setup-key").setAttribute("aria-invalid", "true");
    showFeedback({ title: "ui.feedback.error", lines: [{ key: "ui.setup.key_missing" }] });
    $("setup-key").focus();
    return;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  $("setup-key").value = "";
  clearFeedback();
  startOver();
}

async function onStart(event) {
  event.preventDefault();
  clearFeedback();
  const form = new FormData($("start-form"));
  // Biometric matching needs the subscriber's explicit consent; the server refuses a session
  // without it (422 consent-required), the page asks first so nothing is sent before it is given.
  if (form.get("consent") !== "given") {
    $("consent").setAttribute("aria-invalid", "true");
    showFeedback({ title: "ui.feedback.error", lines: [{ key: "ui.start.consent.missing" }] });
    $("consent").focus();
    return;
  }
  $("consent").removeAttribute("aria-invalid");
  const request = {
    channel: form.get("channel"),
    consent: {
      // The notice text is versioned per language: the record says which text was agreed to.
      notice_version: `${CONSENT_NOTICE_VERSION}-${locale()}`,
      purposes: ["identity_verification", "biometric_matching"],
      method: "on_screen",
    },
  };
  for (const name of ["msisdn", "eid", "iccid", "matching_id", "smdp_address"]) {
    const value = String(form.get(name) || "").trim();
    if (value) request[name] = value;
  }
  const verification = await busy(() => api.createVerification(request));
  if (verification) route(verification);
}

function startOver() {
  stopCameras();
  state.verification = null;
  state.otpStarted = false;
  sessionStorage.removeItem(VERIFICATION_STORAGE);
  $("start-form").reset();
  clearFeedback();
  if (!sessionStorage.getItem(KEY_STORAGE)) {
    showScreen("setup");
    return;
  }
  showScreen("start");
}

// ---------------------------------------------------------------------------------------------
// Document

function setDocumentFile(file) {
  state.documentFile = file;
  if (state.thumbUrl) URL.revokeObjectURL(state.thumbUrl);
  state.thumbUrl = file ? URL.createObjectURL(file) : null;
  $("document-thumb").hidden = !file;
  if (file) $("document-thumb").src = state.thumbUrl;
  else $("document-thumb").removeAttribute("src");
  $("document-ready").hidden = !file;
  setText($("document-ready"), file ? "ui.photo.ready" : null);
}

function resetDocument() {
  $("document-form").reset();
  setDocumentFile(null);
  $("document-camera-toggle").hidden = !cameraSupported();
}

async function toggleDocumentCamera() {
  if (state.streams.document) {
    stopCameras();
    return;
  }
  try {
    const video = $("document-video");
    video.hidden = false;
    state.streams.document = await openCamera(video, "environment");
    setText($("document-camera-toggle"), "ui.camera.close");
    $("document-take").hidden = false;
    $("document-take").focus();
  } catch {
    stopCameras();
    showFeedback({ title: "ui.feedback.error", lines: [{ key: "ui.camera.unavailable" }] });
  }
}

async function takeDocumentPhoto() {
  const file = await grabFrame($("document-video"), "document.jpg");
  stopCameras();
  $("document-file").value = "";
  setDocumentFile(file);
  $("document-form").querySelector("button[type=submit]").focus();
}

async function onDocument(event) {
  event.preventDefault();
  clearFeedback();
  if (!state.documentFile) {
    $("document-file").setAttribute("aria-invalid", "true");
    showFeedback({ title: "ui.feedback.error", lines: [{ key: "ui.document.missing" }] });
    $("document-file").focus();
    return;
  }
  const mrz = $("mrz").value.trim().replace(/\r\n/g, "\n");
  const response = await busy(() => api.submitDocument(state.verification.id, state.documentFile, mrz));
  if (response) handleStepResponse(response);
}

// ---------------------------------------------------------------------------------------------
// Selfie

function challenge() {
  return state.verification && state.verification.liveness_challenge;
}

function renderChallenge() {
  const current = challenge();
  $("challenge").hidden = !current;
  if (!current) return;
  const key = `action.${current.action}`;
  $("challenge-text").textContent = has(key) ? t(key) : current.instruction;
  $("challenge").dataset.action = current.action;
}

function minFrames() {
  return challenge() ? 3 : 1;
}

function renderSelfieHelp() {
  setText($("selfie-files-help"), challenge() ? "ui.selfie.files_help_challenge" : null);
}

async function enterSelfie() {
  $("selfie-form").reset();
  setText($("selfie-progress"), null);
  renderChallenge();
  renderSelfieHelp();
  if (!cameraSupported()) {
    $("selfie-capture").hidden = true;
    $("selfie-fallback").open = true;
    return;
  }
  $("selfie-capture").hidden = false;
  try {
    const video = $("selfie-video");
    video.hidden = false;
    state.streams.selfie = await openCamera(video, "user");
  } catch {
    stopCameras();
    $("selfie-capture").hidden = true;
    $("selfie-fallback").open = true;
    showFeedback({ title: "ui.feedback.error", lines: [{ key: "ui.camera.unavailable" }] });
  }
}

async function onSelfieCapture() {
  clearFeedback();
  if (!state.streams.selfie) {
    await enterSelfie();
    if (!state.streams.selfie) return;
  }
  const video = $("selfie-video");
  const total = challenge() ? CHALLENGE_FRAMES : 1;
  const response = await busy(async () => {
    const frames = await captureFrames(video, total, challenge() ? CHALLENGE_SPAN_MS : 0, (n) =>
      setText($("selfie-progress"), "ui.selfie.capturing", { n, total }),
    );
    setText($("selfie-progress"), "ui.selfie.sending");
    return api.submitSelfie(state.verification.id, frames);
  });
  setText($("selfie-progress"), null);
  if (response) handleStepResponse(response);
}

async function onSelfieFiles(event) {
  event.preventDefault();
  clearFeedback();
  const files = Array.from($("selfie-files").files || []);
  if (files.length < minFrames()) {
    $("selfie-files").setAttribute("aria-invalid", "true");
    showFeedback({ title: "ui.feedback.error", lines: [{ key: "ui.selfie.missing", params: { min: minFrames() } }] });
    $("selfie-files").focus();
    return;
  }
  const response = await busy(() => api.submitSelfie(state.verification.id, files));
  if (response) {
    $("selfie-form").reset();
    handleStepResponse(response);
  }
}

// ---------------------------------------------------------------------------------------------
// Second factor

function resetOtp() {
  state.otpStarted = false;
  $("otp-start-form").reset();
  $("otp-verify-form").reset();
  $("otp-verify-form").hidden = true;
  setText($("otp-send"), "ui.otp.send");
  setText($("otp-status"), null);
  syncOtpMethod();
}

function otpMethod() {
  return new FormData($("otp-start-form")).get("method") || "sms";
}

function syncOtpMethod() {
  const method = otpMethod();
  setText($("otp-send"), method === "sms" ? (state.otpStarted ? "ui.otp.resend" : "ui.otp.send") : "ui.otp.use_totp");
}

async function onOtpStart(event) {
  event.preventDefault();
  clearFeedback();
  const method = otpMethod();
  const answer = await busy(() => api.startOtp(state.verification.id, method, locale()));
  if (!answer) return;
  state.otpStarted = true;
  syncOtpMethod();
  setText($("otp-status"), method === "sms" ? "ui.otp.sent" : "ui.otp.totp_ready");
  $("otp-verify-form").hidden = false;
  $("otp-code").value = "";
  $("otp-code").focus();
}

async function onOtpVerify(event) {
  event.preventDefault();
  clearFeedback();
  const code = $("otp-code").value.replace(/\s+/g, "");
  if (!code) {
    $("otp-code").setAttribute("aria-invalid", "true");
    showFeedback({ title: "ui.feedback.error", lines: [{ key: "ui.otp.missing" }] });
    $("otp-code").focus();
    return;
  }
  const answer = await busy(() => api.verifyOtp(state.verification.id, code));
  if (answer) {
    route(answer.verification);
    return;
  }
  // Refused: let the person type again (or ask for a new code after expired/locked).
  $("otp-code").value = "";
  $("otp-code").setAttribute("aria-invalid", "true");
  $("otp-code").focus();
  if (state.feedback && state.feedback.lines) {
    const view = await api.getVerification(state.verification.id).catch(() => null);
    if (view) {
      remember(view);
      if (view.status !== "in_progress") {
        route(view);
        return;
      }
      if (view.otp && typeof view.otp.attempts_left === "number") {
        state.feedback.lines.push({ key: "ui.otp.attempts_left", params: { n: view.otp.attempts_left } });
        renderFeedback();
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Approval and activation

async function onActivate() {
  clearFeedback();
  const activation = await busy(() => api.activate(state.verification.id));
  if (!activation) return;
  state.verification = { ...state.verification, status: "activated" };
  const hasCode = Boolean(activation.activation_code && activation.activation_code_qr_png);
  $("activation-qr-block").hidden = !hasCode;
  $("activation-no-code").hidden = hasCode;
  if (hasCode) {
    $("activation-qr").src = `data:image/png;base64,${activation.activation_code_qr_png}`;
    $("activation-code").textContent = activation.activation_code;
  }
  const expires = new Date(activation.expires_at);
  setText($("activation-expiry"), "ui.activated.expires", {
    time: Number.isNaN(expires.getTime())
      ? activation.expires_at
      : expires.toLocaleString(locale() === "fr" ? "fr-FR" : "en-GB", { dateStyle: "long", timeStyle: "short" }),
  });
  $("security-check").hidden = true;
  showScreen("activated");
  sessionStorage.removeItem(VERIFICATION_STORAGE);
}

// ---------------------------------------------------------------------------------------------
// Security check: what the service knows about the subscriber's number, once they proved who
// they are (the API serves it for 30 minutes after the approval).

function formatDate(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime())
    ? value
    : date.toLocaleString(locale() === "fr" ? "fr-FR" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
}

/** Fills a list with one item per entry (text only), or "none". */
function fillList(list, entries, item) {
  list.replaceChildren();
  if (entries.length === 0) {
    const empty = document.createElement("li");
    setText(empty, "ui.security.none");
    list.append(empty);
    return;
  }
  for (const entry of entries) {
    const li = document.createElement("li");
    const [key, params] = item(entry);
    setText(li, key, params);
    if (entry.this_verification) li.classList.add("current");
    list.append(li);
  }
}

function renderSecurityCheck(check) {
  setText($("security-intro"), "ui.security.intro", { number: check.msisdn_masked });
  const advice = $("security-advice");
  advice.replaceChildren();
  for (const item of check.advice) {
    const li = document.createElement("li");
    li.className = `advice-${item.severity}`;
    setText(li, has(`advice.${item.code}`) ? `advice.${item.code}` : "advice.unknown");
    advice.append(li);
  }
  const label = (prefix, value) => (has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : value);
  fillList($("security-verifications"), check.recent_verifications, (v) => [
    v.this_verification ? "ui.security.verification_this" : "ui.security.verification_item",
    { date: formatDate(v.created_at), channel: label("ui.security.channel", v.channel), status: label("ui.security.status", v.status) },
  ]);
  fillList($("security-activations"), check.active_activations, (a) => [
    a.redeemed ? "ui.security.activation_used" : "ui.security.activation_item",
    { date: formatDate(a.issued_at), until: formatDate(a.expires_at) },
  ]);
  fillList($("security-alerts"), check.alerts, (a) => [
    a.acknowledged ? "ui.security.alert_handled" : "ui.security.alert_open",
    { date: formatDate(a.raised_at) },
  ]);
  $("security-check").hidden = false;
  $("security-title").focus();
}

async function onSecurityCheck() {
  clearFeedback();
  const check = await busy(() => api.securityCheck(state.verification.id));
  if (check) renderSecurityCheck(check);
}

// ---------------------------------------------------------------------------------------------
// Start-up

async function resume() {
  const id = sessionStorage.getItem(VERIFICATION_STORAGE);
  if (!id) {
    startOver();
    return;
  }
  try {
    route(await api.getVerification(id));
  } catch (error) {
    sessionStorage.removeItem(VERIFICATION_STORAGE);
    if (!showError(error)) startOver();
  }
}

function init() {
  readKeyFromFragment();
  const preferred = sessionStorage.getItem(LOCALE_STORAGE) || (navigator.language || "en").slice(0, 2);
  setLocale(preferred);
  for (const button of document.querySelectorAll("[data-locale]")) {
    button.addEventListener("click", () => switchLocale(button.dataset.locale));
  }
  $("setup-form").addEventListener("submit", onSetup);
  $("start-form").addEventListener("submit", onStart);
  $("document-form").addEventListener("submit", onDocument);
  $("document-file").addEventListener("change", () => setDocumentFile($("document-file").files[0] || null));
  $("document-camera-toggle").addEventListener("click", toggleDocumentCamera);
  $("document-take").addEventListener("click", takeDocumentPhoto);
  $("selfie-capture").addEventListener("click", onSelfieCapture);
  $("selfie-form").addEventListener("submit", onSelfieFiles);
  $("otp-start-form").addEventListener("submit", onOtpStart);
  $("otp-start-form").addEventListener("change", syncOtpMethod);
  $("otp-verify-form").addEventListener("submit", onOtpVerify);
  $("activate").addEventListener("click", onActivate);
  $("security-open").addEventListener("click", onSecurityCheck);
  $("start-over").addEventListener("click", startOver);
  $("change-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    startOver();
  });
  // Escape stops a running camera (keyboard users leave the preview without hunting a button).
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.streams.document) stopCameras();
  });
  applyI18n();
  if (!sessionStorage.getItem(KEY_STORAGE)) {
    showScreen("setup");
    return;
  }
  resume();
}

init();
