// facesift web UI: the little JavaScript it has. Pages work without it, except picking a face
// on the photo (without it, the search form asks for the face number instead).
"use strict";

// Drop zones: a photo dropped on the zone goes into its file input.
document.querySelectorAll("[data-drop]").forEach((zone) => {
  const input = zone.querySelector("input[type=file]");
  const caption = zone.querySelector("span");
  const show = () => { if (input.files.length) caption.textContent = input.files[0].name; };
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    input.files = event.dataTransfer.files;
    input.dispatchEvent(new Event("change"));
  });
  input.addEventListener("change", show);
});

// Search: show the photo with its faces numbered (the server finds them), click one to choose it.
const form = document.getElementById("search-form");
if (form) {
  const input = form.querySelector("[data-probe]");
  const view = form.querySelector("[data-probe-view]");
  const image = form.querySelector("[data-probe-img]");
  const help = form.querySelector("[data-probe-help]");
  const frame = form.querySelector(".probe-frame");
  const chosen = form.querySelector("[data-face]");

  const choose = (button) => {
    frame.querySelectorAll(".face-box").forEach((b) => b.classList.toggle("chosen", b === button));
    chosen.value = button.dataset.number;
    help.textContent = `Face ${button.dataset.number} will be searched for.`;
  };

  input.addEventListener("change", async () => {
    frame.querySelectorAll(".face-box").forEach((b) => b.remove());
    chosen.value = "";
    if (!input.files.length) { view.hidden = true; return; }
    image.src = URL.createObjectURL(input.files[0]);
    view.hidden = false;
    help.textContent = "Finding faces…";
    const body = new FormData();
    body.append("csrf_token", form.elements.csrf_token.value);
    body.append("probe", input.files[0]);
    const response = await fetch("/search/faces", { method: "POST", body, headers: { Accept: "application/json" } });
    const found = await response.json();
    if (!response.ok) { help.textContent = found.error; help.classList.add("alert"); return; }
    help.classList.remove("alert");
    for (const face of found.faces) {
      const [left, top, right, bottom] = face.box;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "face-box";
      button.dataset.number = face.number;
      const label = document.createElement("span");
      label.textContent = face.number;
      button.appendChild(label);
      button.title = `face ${face.number}`;
      Object.assign(button.style, {
        left: `${(100 * left) / found.width}%`, top: `${(100 * top) / found.height}%`,
        width: `${(100 * (right - left)) / found.width}%`, height: `${(100 * (bottom - top)) / found.height}%`,
      });
      button.addEventListener("click", () => choose(button));
      frame.appendChild(button);
    }
    if (found.faces.length === 1) choose(frame.querySelector(".face-box"));
    else help.textContent = `${found.faces.length} faces found: click the one to search for.`;
  });

  form.addEventListener("submit", (event) => {
    if (frame.querySelector(".face-box") && !chosen.value) {
      event.preventDefault();
      help.textContent = "Click a face on the photo first.";
      help.classList.add("alert");
    }
  });
}

// Portal: send the request without leaving the page, so that when the server refuses it (no
// face found, a missing contact) the chosen selfie stays chosen and the person fixes only what
// was wrong. The selfie stays in this page; the server keeps nothing of a refused request.
const portal = document.getElementById("portal-form");
if (portal) {
  const alert = document.querySelector("[data-portal-error]");
  const kept = portal.querySelector("[data-selfie-kept]");
  portal.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = portal.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const response = await fetch(portal.action, { method: "POST", body: new FormData(portal) });
      const html = await response.text();
      const answer = new DOMParser().parseFromString(html, "text/html");
      if (response.ok) {
        document.title = answer.title;
        document.querySelector("main").replaceWith(answer.querySelector("main"));
        return;
      }
      const refused = answer.querySelector("[data-portal-error], .message");
      alert.textContent = refused ? refused.textContent.trim() : `The request was refused (${response.status}).`;
      alert.hidden = false;
      const token = answer.querySelector("input[name=csrf_token]");
      if (token) portal.elements.csrf_token.value = token.value;
      if (portal.elements.selfie.files.length) kept.hidden = false;
      alert.scrollIntoView({ block: "center" });
    } catch (error) {
      alert.textContent = "The request could not be sent: check your connection and try again.";
      alert.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}

// Ingest job: follow its progress until it ends, then show the finished page.
const jobView = document.querySelector("[data-job]");
if (jobView && !jobView.querySelector("[data-job-outcome] .ok, [data-job-outcome] .alert")) {
  const url = `/admin/jobs/${jobView.dataset.job}`;
  const bar = jobView.querySelector("[data-job-progress]");
  const counts = jobView.querySelector("[data-job-counts]");
  const state = jobView.querySelector("[data-job-state]");
  const poll = async () => {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const job = await response.json();
    if (job.finished) { window.location.reload(); return; }
    state.textContent = job.state;
    if (job.total !== null) bar.max = Math.max(job.total, 1);
    bar.value = job.done;
    counts.textContent = `${job.done} of ${job.total ?? "?"} file(s) done · ${job.faces} face(s) found`;
    setTimeout(poll, 700);
  };
  setTimeout(poll, 500);
}
