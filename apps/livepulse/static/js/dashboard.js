// LivePulse dashboard: loads the window's history (downsampled by the server), draws the total
// and every stream with uPlot, then follows new samples over SSE without reloading the page.
(() => {
  "use strict";
  const root = document.getElementById("dashboard");
  const eventId = root.dataset.event;
  const token = root.dataset.token;
  const MAX_GAP = 300; // seconds: a longer gap between samples counts no watch time (as the server)
  const COLORS = ["#0b8043", "#e37400", "#1a73e8", "#c5221f", "#9334e6", "#00838f", "#f9ab00", "#5f6368"];
  const chartEl = document.getElementById("chart");
  const statusEl = document.getElementById("status");
  let minutes = 180;
  let source = null;
  let plot = null;
  let view = null; // {xs, series: [{id, label, values, stats}], lastTs}

  const fmt = (n, digits = 0) => (n === null || n === undefined ? "–" :
    Number(n).toLocaleString(undefined, {maximumFractionDigits: digits}));

  function url(path, params) {
    const query = new URLSearchParams(params);
    if (token) query.set("token", token);
    return `/livepulse/events/${eventId}/${path}?${query}`;
  }

  function tracker(stats) {
    return {current: stats.current, peak: stats.peak, vs: stats.viewerSeconds, s: stats.seconds,
            knownTs: stats.current === null ? null : stats.currentTs, known: stats.current};
  }

  function track(t, ts, value) { // mirrors the server: a known count stands until the next known one
    t.current = value;
    if (value === null || value === undefined) return;
    if (t.knownTs !== null && ts - t.knownTs <= MAX_GAP) {
      t.vs += t.known * (ts - t.knownTs);
      t.s += ts - t.knownTs;
    }
    t.known = value;
    t.knownTs = ts;
    t.peak = t.peak === null ? value : Math.max(t.peak, value);
  }

  function build(body) {
    const streams = body.streams || [];
    const all = [{id: "total", label: "Total", points: body.total.points, stats: body.total.stats}]
      .concat(streams.map((s) => ({id: String(s.id), label: `${s.title} (${s.platform})`, points: s.points,
                                   stats: s.stats, state: s.state})));
    const xs = [...new Set(all.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const series = all.map((s) => {
      const values = new Array(xs.length).fill(null);
      s.points.forEach(([ts, v]) => { values[index.get(ts)] = v; });
      return {id: s.id, label: s.label, values, state: s.state, stats: tracker(s.stats)};
    });
    return {xs, series, lastTs: xs.length ? xs[xs.length - 1] : 0, bucket: body.bucketSeconds};
  }

  function draw() {
    const data = [view.xs].concat(view.series.map((s) => s.values));
    if (plot) plot.destroy();
    const opts = {
      width: chartEl.clientWidth || 800, height: 320,
      scales: {x: {time: true}},
      series: [{}].concat(view.series.map((s, i) => ({
        label: s.label, width: i === 0 ? 3 : 1.5, stroke: i === 0 ? "#6441a5" : COLORS[(i - 1) % COLORS.length],
        value: (u, v) => fmt(v)}))),
      axes: [{}, {values: (u, ticks) => ticks.map((v) => fmt(v))}],
    };
    plot = new uPlot(opts, data, chartEl);
    chartEl.dataset.points = String(view.xs.length);
  }

  const HEADERS = Array.from(document.querySelectorAll("#streams thead th"), (th) => th.textContent);

  function renderStats() {
    document.getElementById("waiting").hidden = view.xs.length > 0 || document.getElementById("waiting").hidden;
    const total = view.series[0].stats;
    document.getElementById("total-current").textContent = fmt(total.current);
    document.getElementById("total-peak").textContent = fmt(total.peak);
    document.getElementById("total-average").textContent = fmt(total.s ? total.vs / total.s : total.current);
    document.getElementById("total-hours").textContent = fmt(total.vs / 3600, 1);
    const tbody = document.querySelector("#streams tbody");
    tbody.replaceChildren(...view.series.slice(1).map((s) => {
      const row = document.createElement("tr");
      row.dataset.stream = s.id;
      const t = s.stats;
      [s.label, s.state || "", fmt(t.current), fmt(t.peak), fmt(t.s ? t.vs / t.s : t.current),
       fmt(t.vs / 3600, 1)].forEach((text, i) => {
        const cell = document.createElement("td");
        if (i) cell.dataset.label = HEADERS[i];  // a phone shows each cell with its header
        cell.textContent = text;
        row.appendChild(cell);
      });
      return row;
    }));
    document.getElementById("resolution").textContent = view.bucket ?
      `one point per ${view.bucket} s (peak of each bucket)` : "every sample";
  }

  function onSample(sample) {
    if (sample.ts <= view.lastTs) return; // already in the history
    const known = new Set(view.series.slice(1).map((s) => s.id));
    if (Object.keys(sample.streams).some((id) => !known.has(id))) { load(); return; } // a stream was added
    view.xs.push(sample.ts);
    view.lastTs = sample.ts;
    view.series.forEach((s) => {
      const value = s.id === "total" ? sample.total : (s.id in sample.streams ? sample.streams[s.id] : null);
      s.values.push(value);
      if (s.id !== "total" && sample.states[s.id]) s.state = sample.states[s.id];
      track(s.stats, sample.ts, value);
    });
    const oldest = sample.ts - minutes * 60;
    while (view.xs.length && view.xs[0] < oldest) {
      view.xs.shift();
      view.series.forEach((s) => s.values.shift());
    }
    plot.setData([view.xs].concat(view.series.map((s) => s.values)));
    chartEl.dataset.points = String(view.xs.length);
    renderStats();
  }

  function connect(lastId) {
    if (source) source.close();
    source = new EventSource(url("stream", {minutes: 0, lastEventId: lastId}));
    source.addEventListener("sample", (e) => onSample(JSON.parse(e.data)));
    source.onopen = () => { statusEl.textContent = "live"; };
    source.onerror = () => { statusEl.textContent = "reconnecting…"; };
  }

  async function load() {
    if (source) source.close();
    statusEl.textContent = "loading…";
    const response = await fetch(url("history", {minutes, streams: 1}), {credentials: "same-origin"});
    if (!response.ok) {
      statusEl.textContent = `could not load the history (${response.status})`;
      return;
    }
    const body = await response.json();
    view = build(body);
    draw();
    renderStats();
    connect(body.lastId);
  }

  document.querySelectorAll(".windows button").forEach((button) => {
    button.addEventListener("click", () => {
      document.querySelectorAll(".windows button").forEach((b) => b.classList.remove("active"));
      button.classList.add("active");
      minutes = Number(button.dataset.minutes);
      load();
    });
  });
  window.addEventListener("resize", () => plot && plot.setSize({width: chartEl.clientWidth, height: 320}));
  load();
})();
