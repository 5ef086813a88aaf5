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
