// The JupyterLab explorer's photo panel (anywidget ESM). Same data-role contract as the exported page.
function render({ model, el }) {
  el.classList.add("rfx");
  el.innerHTML =
    '<div class="rfx-row"><div class="rfx-stage"><img data-role="rf-photo" draggable="false" alt="photo">' +
    '<svg data-role="rf-grid" preserveAspectRatio="none"></svg>' +
    '<div data-role="rf-box-full" class="rfx-box rfx-full"></div><div data-role="rf-box" class="rfx-box"></div></div>' +
    '<div class="rfx-stage rfx-dim"><img class="rfx-under" alt=""><img data-role="rf-erf" class="rfx-heat" alt="ERF">' +
    '<div class="rfx-spin" data-role="rf-busy"></div><span class="rfx-label"></span></div>' +
    '<div class="rfx-stage rfx-dim" data-role="rf-trained-stage"><img class="rfx-under" alt="">' +
    '<img data-role="rf-erf-trained" class="rfx-heat" alt="ERF (trained)"><span class="rfx-label"></span></div></div>';
  const q = (r) => el.querySelector('[data-role="' + r + '"]');
  const photo = q("rf-photo"), unders = el.querySelectorAll(".rfx-under"), heat = q("rf-erf");
  const heat2 = q("rf-erf-trained"), stage2 = q("rf-trained-stage"), labels = el.querySelectorAll(".rfx-label");
  const boxEl = q("rf-box"), fullEl = q("rf-box-full"), grid = q("rf-grid"), spin = q("rf-busy");
  let timer = null;
  function place(node, b, H, W) {
    if (!b || b.length !== 4 || !H) { node.style.display = "none"; return; }
    node.style.display = "block";
    node.style.top = (100 * b[0] / H) + "%"; node.style.left = (100 * b[1] / W) + "%";
    node.style.height = (100 * (b[2] - b[0] + 1) / H) + "%"; node.style.width = (100 * (b[3] - b[1] + 1) / W) + "%";
  }
  function sync() {
    const [H, W] = model.get("size"), b = model.get("box"), f = model.get("box_full"), g = model.get("grid");
    if (photo.getAttribute("src") !== model.get("photo")) { photo.src = model.get("photo"); unders.forEach((u) => { u.src = model.get("photo"); }); }
    photo.dataset.size = H + "," + W; photo.dataset.unit = model.get("unit").join(",");
    photo.dataset.layer = model.get("layer");
    boxEl.dataset.box = b.join(","); fullEl.dataset.box = f.join(",");
    place(boxEl, b, H, W);
    const outside = f.length === 4 && (f[0] < b[0] || f[1] < b[1] || f[2] > b[2] || f[3] > b[3]);
    place(fullEl, outside ? f : null, H, W);  // the full extent may reach beyond the photo
    grid.setAttribute("viewBox", "0 0 " + W + " " + H);
    let dots = "";
    if (g && g.out && g.out[0] * g.out[1] <= 4096) {
      for (let i = 0; i < g.out[0]; i++) for (let j = 0; j < g.out[1]; j++) {
        const y = g.start[0] + i * g.jump[0], x = g.start[1] + j * g.jump[1];
        if (y >= 0 && y < H && x >= 0 && x < W) dots += '<circle cx="' + (x + 0.5) + '" cy="' + (y + 0.5) + '" r="' + Math.max(0.6, W / 300) + '"/>';
      }
    }
    grid.innerHTML = '<g fill="#fff" fill-opacity="0.55">' + dots + "</g>";
    if (model.get("erf")) { heat.src = model.get("erf"); heat.style.display = "block"; } else { heat.style.display = "none"; }
    heat.dataset.unit = model.get("erf_unit").join(",");
    const trained = model.get("erf_trained"), names = model.get("labels");  // random vs trained, when shipped
    stage2.style.display = trained ? "inline-block" : "none";
    if (trained) { heat2.src = trained; heat2.dataset.unit = heat.dataset.unit; }
    labels.forEach((node, i) => { node.textContent = trained ? names[i] : ""; });
    el.classList.toggle("rfx-projector", model.get("projector"));
  }
  function busy() {
    clearTimeout(timer);
    if (model.get("busy")) timer = setTimeout(() => { spin.style.display = "block"; }, 500);  // only for work > 0.5 s
    else spin.style.display = "none";
  }
  photo.addEventListener("click", (e) => {
    const r = photo.getBoundingClientRect(), [H, W] = model.get("size");
    const y = Math.min(Math.max((e.clientY - r.top) / r.height * H - 0.5, 0), H - 1);
    const x = Math.min(Math.max((e.clientX - r.left) / r.width * W - 0.5, 0), W - 1);
    model.set("click", [y, x, Date.now()]);
    model.save_changes();
  });
  for (const name of ["photo", "size", "unit", "box", "box_full", "grid", "erf", "erf_unit", "erf_trained", "labels", "projector", "layer"]) {
    model.on("change:" + name, sync);
  }
  model.on("change:busy", busy);
  sync(); busy();
}
export default { render };
