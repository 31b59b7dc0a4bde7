// palmsig pages: progressive enhancement only (every form also works without this file,
// except image upload and the camera, which need the browser to read pixels).
"use strict";

// Show only the fields of the chosen capture source / purpose.
function syncGroups(form) {
  const src = (form.querySelector('input[name="source"]:checked') || {}).value || "synthetic";
  form.querySelectorAll("[data-source]").forEach((el) => {
    el.hidden = !el.dataset.source.split(" ").includes(src);
  });
  const purpose = form.querySelector('select[name="purpose"]');
  if (purpose) {
    form.querySelectorAll("[data-purpose]").forEach((el) => {
      el.hidden = el.dataset.purpose !== purpose.value;
    });
  }
}

// Read a file input into a hidden base64 field.
function readFile(input) {
  const target = document.getElementById(input.dataset.b64);
  const file = input.files && input.files[0];
  if (!target) return;
  if (!file) { target.value = ""; return; }
  const reader = new FileReader();
  reader.onload = () => { target.value = String(reader.result).split(",")[1] || ""; };
  reader.readAsDataURL(file);
}

function setupCamera(form) {
  const start = form.querySelector("#cam-start");
  const snap = form.querySelector("#cam-snap");
  const video = form.querySelector("#cam-video");
  const canvas = form.querySelector("#cam-canvas");
  const status = form.querySelector("#cam-status");
  if (!start || !snap || !video || !canvas) return;
  start.addEventListener("click", async () => {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = "This browser offers no camera here (it needs https or localhost).";
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
      video.srcObject = stream;
      await video.play();
      snap.disabled = false;
      status.textContent = "Camera on. Hold your open palm in view, then take the photo.";
    } catch (e) {
      status.textContent = "The camera could not be started: " + e.message;
    }
  });
  snap.addEventListener("click", () => {
    canvas.width = video.videoWidth || 640;
    canvas.height = video.videoHeight || 480;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    document.getElementById("visible_b64").value = canvas.toDataURL("image/png").split(",")[1];
    document.getElementById("nir_b64").value = "";
    status.textContent = "Photo taken. Submit to send it.";
  });
}

// Operator system tab: refresh the live numbers.
function setupLive(dl) {
  const tick = async () => {
    try {
      const r = await fetch(dl.dataset.live, { credentials: "same-origin" });
      if (!r.ok) return;
      const s = await r.json();
      dl.querySelectorAll("[data-stat]").forEach((dd) => {
        const v = dd.dataset.stat.split(".").reduce((o, k) => (o == null ? o : o[k]), s);
        if (dd.dataset.stat.endsWith("le_ms")) dd.textContent = v == null ? "—" : "≤ " + v + " ms";
        else if (dd.dataset.stat.endsWith("_ms")) dd.textContent = v + " ms";
        else dd.textContent = String(v);
      });
    } catch (_) { /* offline: keep the last numbers */ }
  };
  setInterval(tick, 2000);
}

// After a submit, the answer gets the focus (WCAG 2.4.3 / 3.3.1): the first field marked
// invalid, else the result, else the banner. Screen readers read it; Tab goes on from there.
function focusAnswer() {
  const target =
    document.querySelector('[aria-invalid="true"]') ||
    document.querySelector("#result, #enrolled") ||
    document.querySelector("#banner") ||
    document.querySelector("#confirm-h");
  if (!target) return;
  const details = target.closest("details");
  if (details) details.open = true;
  target.focus();
}

// The folded capture settings say in one line what will be presented.
function syncSummary(form) {
  const out = form.querySelector("#capture-summary");
  if (!out) return;
  const v = (name) => (form.querySelector(`[name="${name}"]`) || {}).value;
  const src = (form.querySelector('input[name="source"]:checked') || {}).value || "synthetic";
  out.textContent =
    src === "upload" ? "uploaded images" :
    src === "camera" ? "camera photo" :
    `synthetic person ${v("identity")}, ${v("hand")} hand, visit ${v("session")}, photo ${v("capture")}`;
}

document.addEventListener("DOMContentLoaded", () => {
  focusAnswer();
  document.querySelectorAll("form[data-capture]").forEach((form) => {
    syncGroups(form);
    form.addEventListener("change", () => { syncGroups(form); syncSummary(form); });
    form.querySelectorAll("input[type=file][data-b64]").forEach((i) => i.addEventListener("change", () => readFile(i)));
    setupCamera(form);
  });
  const live = document.querySelector("[data-live]");
  if (live) setupLive(live);
});
