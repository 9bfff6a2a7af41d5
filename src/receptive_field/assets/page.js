// The kernel-free RF explorer (lesson 01). Box rule = src.receptive_field.RFReport.box; unit = zoo.unit_at.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("rf-data").textContent);
  const $ = (role) => document.querySelector('[data-role="' + role + '"]');
  const photo = $("rf-photo"), boxEl = $("rf-box"), fullEl = $("rf-box-full"), grid = $("rf-grid");
  const select = $("rf-layer"), heat = $("rf-erf");
  const [H, W] = D.size;
  let lang = D.lang === "en" ? "en" : "vi", point = [(H - 1) / 2, (W - 1) / 2];
  const T = {
    vi: { unit: "đơn vị", of: "trong lưới", rf: "RF lý thuyết", jump: "bước nhảy", clipped: "phần trong ảnh",
          erf: "ERF của đơn vị gần nhất trong lưới tính sẵn", cols: ["lớp", "phép", "nhân", "bước", "giãn", "RF", "bước nhảy"],
          whole: "cả ảnh" },
    en: { unit: "unit", of: "of the grid", rf: "theoretical RF", jump: "jump", clipped: "inside the image",
          erf: "ERF of the nearest precomputed grid unit", cols: ["layer", "op", "kernel", "stride", "dilation", "RF", "jump"],
          whole: "whole image" },
  };
  function unitAt(L, p) {
    return [0, 1].map((a) => {
      const u = isFinite(L.jump[a]) ? Math.floor((p[a] - L.start[a]) / L.jump[a] + 0.5) : 0;
      return Math.min(Math.max(u, 0), L.out[a] - 1);
    });
  }
  function box(L, u, clip) {
    if (L.whole) return [0, 0, H - 1, W - 1];
    const lo = [], hi = [];
    for (let a = 0; a < 2; a++) {
      const half = (L.rf[a] - 1) / 2, c = L.start[a] + u[a] * L.jump[a];
      let low = c - half, high = c + half;
      if (clip) { low = Math.max(low, L.read[a][0]); high = Math.min(high, L.read[a][1]); }
      lo.push(Math.floor(low)); hi.push(Math.ceil(high));
    }
    return [lo[0], lo[1], hi[0], hi[1]];
  }
  function place(el, b) {
    el.style.display = "block";
    el.style.top = (100 * b[0] / H) + "%"; el.style.left = (100 * b[1] / W) + "%";
    el.style.height = (100 * (b[2] - b[0] + 1) / H) + "%"; el.style.width = (100 * (b[3] - b[1] + 1) / W) + "%";
  }
  function drawGrid(L) {
    let dots = "";
    const n = L.out[0] * L.out[1];
    if (!L.whole && n <= 4096) {
      for (let i = 0; i < L.out[0]; i++) for (let j = 0; j < L.out[1]; j++) {
        const y = L.start[0] + i * L.jump[0], x = L.start[1] + j * L.jump[1];
        if (y >= 0 && y < H && x >= 0 && x < W) dots += '<circle cx="' + (x + 0.5) + '" cy="' + (y + 0.5) + '" r="' + Math.max(0.6, W / 300) + '"/>';
      }
    }
    grid.innerHTML = '<g fill="#ffffff" fill-opacity="0.55">' + dots + "</g>";
  }
  function nearestErf(L, u) {
    let best = null, dist = Infinity;
    for (const key of Object.keys(L.erf)) {
      const [y, x] = key.split(",").map(Number), d = (y - u[0]) ** 2 + (x - u[1]) ** 2;
      if (d < dist) { dist = d; best = key; }
    }
    return best;
  }
  function table(L) {
    const t = T[lang];
    let html = "<tr>" + t.cols.map((c) => "<th>" + c + "</th>").join("") + "</tr>";
    for (const r of L.rows) html += "<tr>" + r.map((c) => "<td>" + c + "</td>").join("") + "</tr>";
    $("rf-table").innerHTML = html;
  }
  function update() {
    const L = D.layers[select.value], t = T[lang];
    const u = unitAt(L, point), b = box(L, u, true), f = box(L, u, false);
    photo.dataset.unit = u.join(","); photo.dataset.layer = select.value;
    boxEl.dataset.box = b.join(","); fullEl.dataset.box = f.join(",");
    place(boxEl, b);
    const outside = f[0] < b[0] || f[1] < b[1] || f[2] > b[2] || f[3] > b[3];
    if (outside) place(fullEl, f); else fullEl.style.display = "none";  // may reach beyond the photo
    const key = nearestErf(L, u);
    heat.src = L.erf[key]; heat.dataset.unit = key;
    const rf = L.whole ? t.whole : (L.rf[0] === L.rf[1] ? L.rf[0] : L.rf.join("×"));
    $("rf-caption").textContent = t.unit + " (" + u.join(", ") + ") " + t.of + " " + L.out.join("×") + " · " + t.rf + " " + rf +
      " px (" + t.clipped + ": " + (b[2] - b[0] + 1) + "×" + (b[3] - b[1] + 1) + ") · " + t.jump + " " + L.jump.join("×");
    $("rf-erf-caption").textContent = t.erf + ": (" + key.replace(",", ", ") + ")";
    drawGrid(L); table(L);
  }
  function relabel() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-vi]").forEach((el) => { el.textContent = el.dataset[lang]; });
    $("rf-lang").textContent = lang === "vi" ? "English" : "Tiếng Việt";
    update();
  }
  photo.addEventListener("click", (e) => {
    const r = photo.getBoundingClientRect();
    point = [Math.min(Math.max((e.clientY - r.top) / r.height * H - 0.5, 0), H - 1),
             Math.min(Math.max((e.clientX - r.left) / r.width * W - 0.5, 0), W - 1)];
    update();
  });
  select.addEventListener("change", update);
  $("rf-lang").addEventListener("click", () => { lang = lang === "vi" ? "en" : "vi"; relabel(); });
  $("rf-projector").addEventListener("click", () => document.body.classList.toggle("projector"));
  relabel();
})();
